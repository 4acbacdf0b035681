import { type MouseEvent, type WheelEvent, useCallback, useEffect, useMemo, useRef, useState } from "react";
import type { Api } from "../api";
import { Icon } from "../components/Icon";
import { clock, isoDay, labelColour, percent, shortTime, timezone } from "../format";
import { type View, pan, resumeAt, seekTo, ticks, timeToX, xToTime, zoom } from "../timeline";
import type { Camera, DayTimeline, ExportJob } from "../types";

interface Loaded {
  day: { start: number; end: number };
  segments: { id: string; start: number; end: number; open: boolean }[];
  markers: { label: string; start: number; end: number; count: number; confidence: number }[];
}

function Calendar({ month, days, selected, onSelect, onMonth }: {
  month: Date;
  days: Set<string>;
  selected: string;
  onSelect: (day: string) => void;
  onMonth: (d: Date) => void;
}) {
  const first = new Date(month.getFullYear(), month.getMonth(), 1);
  const offset = (first.getDay() + 6) % 7; // weeks start on Monday
  const count = new Date(month.getFullYear(), month.getMonth() + 1, 0).getDate();
  const cells = [...Array(offset).fill(null), ...Array.from({ length: count }, (_, i) => i + 1)];
  return (
    <div className="calendar">
      <div className="calendar-head">
        <button onClick={() => onMonth(new Date(month.getFullYear(), month.getMonth() - 1, 1))} aria-label="Previous month">‹</button>
        <span>{month.toLocaleDateString([], { month: "long", year: "numeric" })}</span>
        <button onClick={() => onMonth(new Date(month.getFullYear(), month.getMonth() + 1, 1))} aria-label="Next month">›</button>
      </div>
      <div className="calendar-grid">
        {["Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"].map((d) => (
          <span key={d} className="weekday">{d}</span>
        ))}
        {cells.map((n, i) => {
          if (n === null) return <span key={`e${i}`} />;
          const day = isoDay(new Date(month.getFullYear(), month.getMonth(), n));
          const cls = [days.has(day) ? "has" : "", day === selected ? "selected" : ""].join(" ");
          return (
            <button key={day} className={`day ${cls}`} onClick={() => onSelect(day)} disabled={!days.has(day)} data-day={day}>
              {n}
            </button>
          );
        })}
      </div>
    </div>
  );
}

export function Playback({ api, cameras }: { api: Api; cameras: Camera[] }) {
  const [cameraId, setCameraId] = useState<string>(() => cameras[0]?.camera_id ?? "");
  const [day, setDay] = useState(() => isoDay(new Date()));
  const [month, setMonth] = useState(() => new Date());
  const [days, setDays] = useState<Set<string>>(new Set());
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [view, setView] = useState<View | null>(null);
  const [playing, setPlaying] = useState<{ id: string; start: number; offset: number } | null>(null);
  const [now, setNow] = useState<number | null>(null);
  const [selection, setSelection] = useState<{ start: number; end: number } | null>(null);
  const [job, setJob] = useState<ExportJob | null>(null);
  const [error, setError] = useState<string | null>(null);
  const bar = useRef<HTMLDivElement>(null);
  const video = useRef<HTMLVideoElement>(null);
  const drag = useRef<{ x: number; t: number } | null>(null);
  const [width, setWidth] = useState(900);

  useEffect(() => {
    if (!cameraId && cameras[0]) setCameraId(cameras[0].camera_id);
  }, [cameras, cameraId]);

  useEffect(() => {
    const element = bar.current;
    if (!element) return;
    const observer = new ResizeObserver(() => setWidth(element.clientWidth || 900));
    observer.observe(element);
    return () => observer.disconnect();
  }, []);

  useEffect(() => {
    if (!cameraId) return;
    api.get<string[]>(`/api/cameras/${cameraId}/days`, { timezone: timezone() })
      .then((list) => setDays(new Set(list)))
      .catch((e) => setError(String(e.message ?? e)));
  }, [api, cameraId, day]);

  const loadedRef = useRef<Loaded | null>(null);
  const widthRef = useRef(width);
  widthRef.current = width;
  const load = useCallback(async () => {
    if (!cameraId) return;
    const t = await api.get<DayTimeline>(`/api/cameras/${cameraId}/timeline`, { day, timezone: timezone() });
    const next: Loaded = {
      day: { start: Date.parse(t.start), end: Date.parse(t.end) },
      segments: t.segments.map((s) => ({ id: s.segment_id, start: Date.parse(s.start), end: Date.parse(s.end), open: !!s.open })),
      markers: t.markers.map((m) => ({ label: m.label, start: Date.parse(m.start), end: Date.parse(m.end), count: m.count, confidence: m.max_confidence })),
    };
    loadedRef.current = next;
    setLoaded(next);
    setView((v) =>
      v && v.start >= next.day.start && v.end <= next.day.end ? v : { ...next.day, width: widthRef.current },
    );
  }, [api, cameraId, day]);

  useEffect(() => {
    setView(null);
    setPlaying(null);
  }, [cameraId, day]);

  const growing = !!loaded?.segments.some((s) => s.open);
  useEffect(() => {
    void load().catch((e) => setError(String(e.message ?? e)));
    const timer = setInterval(() => void load().catch(() => {}), growing ? 5_000 : 15_000);
    return () => clearInterval(timer);
  }, [load, growing]);

  const current = view ? { ...view, width } : null;

  const play = useCallback(
    async (t: number) => {
      const loaded = loadedRef.current;
      if (!loaded) return;
      const found = seekTo(loaded.segments, t);
      if (!found) {
        setError("no footage after this moment");
        return;
      }
      setError(null);
      setPlaying({ id: found.segment.id, start: found.segment.start, offset: found.offsetS });
      const element = video.current;
      if (!element) return;
      element.src = await api.mediaUrl(`/api/segments/${found.segment.id}/video`);
      element.dataset.segmentStart = String(found.segment.start);
      element.currentTime = found.offsetS;
      element.play().catch(() => {});
    },
    [api],
  );

  async function goOn() {
    const segment = playing && loadedRef.current?.segments.find((s) => s.id === playing.id);
    if (!segment || !video.current) return;
    if (segment.open) await load(); // it has grown since: fetch it again
    void play(resumeAt(segment, segment.start + video.current.currentTime * 1000));
  }

  function timeAt(e: MouseEvent<HTMLDivElement>): number {
    const rect = e.currentTarget.getBoundingClientRect();
    return xToTime(current!, e.clientX - rect.left);
  }

  function onDown(e: MouseEvent<HTMLDivElement>) {
    if (!current) return;
    drag.current = { x: e.clientX, t: timeAt(e) };
  }

  function onUp(e: MouseEvent<HTMLDivElement>) {
    const start = drag.current;
    drag.current = null;
    if (!start || !current) return;
    const t = timeAt(e);
    if (Math.abs(e.clientX - start.x) < 5) {
      setSelection(null);
      void play(t);
    } else {
      setSelection({ start: Math.min(start.t, t), end: Math.max(start.t, t) });
    }
  }

  function onWheel(e: WheelEvent<HTMLDivElement>) {
    if (!current || !loaded) return;
    const rect = e.currentTarget.getBoundingClientRect();
    if (e.shiftKey) setView(pan(current, e.deltaY, loaded.day));
    else setView(zoom(current, e.deltaY < 0 ? 1.5 : 1 / 1.5, e.clientX - rect.left, loaded.day));
  }

  async function exportRange() {
    if (!selection) return;
    try {
      let state = await api.post<ExportJob>(`/api/cameras/${cameraId}/exports`, {
        start: new Date(selection.start).toISOString(),
        end: new Date(selection.end).toISOString(),
      });
      setJob(state);
      while (state.state === "pending" || state.state === "running") {
        await new Promise((r) => setTimeout(r, 1000));
        state = await api.get<ExportJob>(`/api/exports/${state.export_id}`);
        setJob(state);
      }
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }

  async function download() {
    if (job?.download_url) window.location.href = await api.mediaUrl(job.download_url.split("?")[0]);
  }

  const marks = useMemo(() => (current ? ticks(current, 70) : []), [current]);
  const playhead = now ?? (playing ? playing.start + playing.offset * 1000 : null);

  return (
    <div className="playback">
      <aside className="playback-side">
        <label>
          Camera
          <select value={cameraId} onChange={(e) => setCameraId(e.target.value)} aria-label="Camera">
            {cameras.map((c) => (
              <option key={c.camera_id} value={c.camera_id}>{c.name}</option>
            ))}
          </select>
        </label>
        <Calendar month={month} days={days} selected={day} onSelect={setDay} onMonth={setMonth} />
        {loaded && (
          <div className="legend">
            {[...new Set(loaded.markers.map((m) => m.label))].map((label) => (
              <span key={label}><i className="dot" style={{ background: labelColour(label) }} />{label}</span>
            ))}
          </div>
        )}
      </aside>
      <section className="playback-main">
        <div className="video-frame">
          <video
            ref={video}
            controls
            playsInline
            data-testid="playback-video"
            onTimeUpdate={(e) => {
              const start = Number(e.currentTarget.dataset.segmentStart);
              if (start) setNow(start + e.currentTarget.currentTime * 1000);
            }}
            onEnded={() => void goOn()}
          />
          {!playing && <div className="video-hint">Click the timeline to play from that moment.</div>}
        </div>
        <div className="timeline-tools">
          <span className="muted">{day} · {loaded ? `${loaded.segments.length} segments, ${loaded.markers.length} detections` : "loading…"}</span>
          <div className="spacer" />
          {playhead && <span className="now">▶ {clock(playhead)}</span>}
          <button onClick={() => current && loaded && setView(zoom(current, 2, width / 2, loaded.day))} aria-label="Zoom in"><Icon name="plus" size={14} /></button>
          <button onClick={() => current && loaded && setView(zoom(current, 0.5, width / 2, loaded.day))} aria-label="Zoom out"><Icon name="minus" size={14} /></button>
          <button onClick={() => loaded && setView({ ...loaded.day, width })}>24 h</button>
        </div>
        <div
          className="timeline"
          ref={bar}
          data-testid="timeline"
          onMouseDown={onDown}
          onMouseUp={onUp}
          onWheel={onWheel}
          data-view-start={current?.start}
          data-view-end={current?.end}
        >
          {current && loaded && (
            <>
              {loaded.segments.map((s) => {
                const x1 = Math.max(0, timeToX(current, s.start));
                const x2 = Math.min(width, timeToX(current, s.end));
                return x2 > 0 && x1 < width ? (
                  <div key={s.id} className={s.open ? "segment-bar open" : "segment-bar"} title={s.open ? "recording now" : undefined} style={{ left: x1, width: Math.max(1, x2 - x1) }} />
                ) : null;
              })}
              {loaded.markers.map((m, i) => {
                const x = timeToX(current, m.start);
                const w = Math.max(3, timeToX(current, m.end) - x);
                return x + w >= 0 && x <= width ? (
                  <button
                    key={i}
                    className="marker"
                    data-testid="marker"
                    data-label={m.label}
                    title={`${m.label} at ${clock(m.start)} (${m.count}, ${percent(m.confidence)})`}
                    style={{ left: x, width: w, background: labelColour(m.label) }}
                    onMouseDown={(e) => e.stopPropagation()}
                    onMouseUp={(e) => e.stopPropagation()}
                    onClick={() => void play(m.start)}
                  />
                ) : null;
              })}
              {selection && (
                <div className="selection" style={{ left: timeToX(current, selection.start), width: timeToX(current, selection.end) - timeToX(current, selection.start) }} />
              )}
              {playhead && playhead >= current.start && playhead <= current.end && (
                <div className="playhead" style={{ left: timeToX(current, playhead) }} />
              )}
              {marks.map((t) => (
                <span key={t} className="tick" style={{ left: timeToX(current, t) }}>{shortTime(t)}</span>
              ))}
            </>
          )}
        </div>
        <p className="muted small">Click to play · drag to select a range to export · scroll to zoom, shift+scroll to move.</p>
        {selection && (
          <div className="export card">
            <span>
              Selected {clock(selection.start)} – {clock(selection.end)} ({Math.round((selection.end - selection.start) / 1000)} s)
            </span>
            <button className="primary" onClick={() => void exportRange()} disabled={job?.state === "running" || job?.state === "pending"}>
              Export MP4
            </button>
            {job && (
              <span className="export-state">
                {job.state === "done" ? (
                  <button onClick={() => void download()}>Download</button>
                ) : job.state === "failed" ? (
                  <span className="error">{job.error}</span>
                ) : (
                  <progress value={job.progress} max={1} />
                )}
              </span>
            )}
          </div>
        )}
        {error && <p className="error">{error}</p>}
      </section>
    </div>
  );
}
