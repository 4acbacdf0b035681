import { type MouseEvent, type RefObject, type WheelEvent, useMemo, useRef } from "react";
import { Icon } from "../components/Icon";
import { clock, labelColour, percent, shortTime } from "../format";
import { type View, lanes, panAcross, ticks, timeToX, xToTime, zoom } from "../timeline";
import type { Loaded, Range } from "./model";
import { MotionStrip } from "./MotionStrip";

interface Props {
  loaded: Loaded | null;
  view: View | null;
  caption: string;
  selection: Range | null;
  playhead: number | null;
  bar: RefObject<HTMLDivElement | null>;
  onPlay: (t: number) => void;
  onSelect: (range: Range | null) => void;
  onView: (view: View) => void;
  /** Panned past the day's end (1) or start (-1), with the view's span. */
  onCross?: (cross: -1 | 1, span: number) => void;
}

const CLICK_PX = 5; // a press that moves less than this is a click, not a drag

/** The day's segments, motion, tracked objects (or detection markers), selection and
 * playhead on a zoomable bar:
 * click to play, drag to select, wheel to zoom (shift+wheel to pan). */
export function Timeline({ loaded, view, caption, selection, playhead, bar, onPlay, onSelect, onView, onCross }: Props) {
  const drag = useRef<{ x: number; t: number } | null>(null);
  const marks = useMemo(() => (view ? ticks(view, 70) : []), [view]);
  const trackLanes = useMemo(() => lanes(loaded?.tracks ?? []), [loaded]);
  const at = (e: MouseEvent<HTMLDivElement>) => xToTime(view!, e.clientX - e.currentTarget.getBoundingClientRect().left);

  function onUp(e: MouseEvent<HTMLDivElement>) {
    const start = drag.current;
    drag.current = null;
    if (!start || !view) return;
    const t = at(e);
    if (Math.abs(e.clientX - start.x) < CLICK_PX) {
      onSelect(null);
      onPlay(t);
    } else onSelect({ start: Math.min(start.t, t), end: Math.max(start.t, t) });
  }

  function onWheel(e: WheelEvent<HTMLDivElement>) {
    if (!view || !loaded) return;
    if (e.shiftKey) {
      const moved = panAcross(view, e.deltaY, loaded.day);
      if (moved.cross && onCross) onCross(moved.cross, view.end - view.start);
      else onView(moved.view);
    }
    else onView(zoom(view, e.deltaY < 0 ? 1.5 : 1 / 1.5, e.clientX - e.currentTarget.getBoundingClientRect().left, loaded.day));
  }

  const zoomBy = (factor: number) => view && loaded && onView(zoom(view, factor, view.width / 2, loaded.day));
  const x = (t: number) => timeToX(view!, t);
  return (
    <>
      <div className="timeline-tools">
        <span className="muted">{caption}</span>
        <div className="spacer" />
        {playhead && <span className="now">▶ {clock(playhead)}</span>}
        <button onClick={() => zoomBy(2)} aria-label="Zoom in"><Icon name="plus" size={14} /></button>
        <button onClick={() => zoomBy(0.5)} aria-label="Zoom out"><Icon name="minus" size={14} /></button>
        <button onClick={() => view && loaded && onView({ ...loaded.day, width: view.width })}>24 h</button>
      </div>
      <div
        className="timeline" ref={bar} data-testid="timeline" data-view-start={view?.start} data-view-end={view?.end}
        onMouseDown={(e) => { if (view) drag.current = { x: e.clientX, t: at(e) }; }}
        onMouseUp={onUp} onWheel={onWheel}
      >
        {view && loaded && (
          <>
            {loaded.segments.map((s) => {
              const x1 = Math.max(0, x(s.start));
              const x2 = Math.min(view.width, x(s.end));
              return x2 > 0 && x1 < view.width ? (
                <div key={s.id} className={s.open ? "segment-bar open" : "segment-bar"} data-testid="segment" title={s.open ? "recording now" : undefined} style={{ left: x1, width: Math.max(1, x2 - x1) }} />
              ) : null;
            })}
            <MotionStrip motion={loaded.motion} view={view} />
            {loaded.tracks.map((k, i) => {
              const w = Math.max(3, x(k.end) - x(k.start));
              return x(k.start) + w >= 0 && x(k.start) <= view.width ? (
                <button
                  key={k.id} className={k.stationary ? "track-bar still" : "track-bar"} data-testid="track" data-label={k.label}
                  title={`${k.label} ${clock(k.start)}–${clock(k.end)}${k.stationary ? " (still)" : ""}`}
                  style={{ left: x(k.start), width: w, top: 34 + 7 * (trackLanes[i] % 3), background: labelColour(k.label) }}
                  onMouseDown={(e) => e.stopPropagation()} onMouseUp={(e) => e.stopPropagation()}
                  onClick={() => onPlay(k.start)}
                />
              ) : null;
            })}
            {!loaded.tracks.length && loaded.markers.map((m, i) => {
              const w = Math.max(3, x(m.end) - x(m.start));
              return x(m.start) + w >= 0 && x(m.start) <= view.width ? (
                <button
                  key={i} className="marker" data-testid="marker" data-label={m.label}
                  title={`${m.label} at ${clock(m.start)} (${m.count}, ${percent(m.confidence)})`}
                  style={{ left: x(m.start), width: w, background: labelColour(m.label) }}
                  onMouseDown={(e) => e.stopPropagation()} onMouseUp={(e) => e.stopPropagation()}
                  onClick={() => onPlay(m.start)}
                />
              ) : null;
            })}
            {selection && <div className="selection" data-testid="selection" style={{ left: x(selection.start), width: x(selection.end) - x(selection.start) }} />}
            {playhead && playhead >= view.start && playhead <= view.end && <div className="playhead" style={{ left: x(playhead) }} />}
            {marks.map((t) => <span key={t} className="tick" style={{ left: x(t) }}>{shortTime(t)}</span>)}
          </>
        )}
      </div>
    </>
  );
}
