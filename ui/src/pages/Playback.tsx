import { useCallback, useEffect, useRef, useState } from "react";
import type { Api } from "../api";
import { isoDay, labelColour } from "../format";
import { Calendar } from "../playback/Calendar";
import { ExportPanel } from "../playback/ExportPanel";
import { dayStart, useCrossing, useDayTimeline, useFootageDays, useWidth } from "../playback/hooks";
import type { Range } from "../playback/model";
import { Player, usePlayer } from "../playback/Player";
import { Timeline } from "../playback/Timeline";
import { parseLink } from "../review";
import { nextFootageDay } from "../timeline";
import type { Camera } from "../types";

/** Footage of one camera and day: calendar, player, timeline and export. */
export function Playback({ api, cameras }: { api: Api; cameras: Camera[] }) {
  const link = useRef(parseLink(window.location.hash)); // opened from Review: camera and moment
  const [cameraId, setCameraId] = useState<string>(() => link.current?.camera ?? cameras[0]?.camera_id ?? "");
  const [day, setDay] = useState(() => isoDay(link.current ? new Date(link.current.at) : new Date()));
  const [month, setMonth] = useState(() => new Date());
  const [selection, setSelection] = useState<Range | null>(null);
  const [error, setError] = useState<string | null>(null);
  const bar = useRef<HTMLDivElement>(null);
  const width = useWidth(bar);
  const onError = useCallback((message: string | null) => setError(message), []);
  const days = useFootageDays(api, cameraId, day, onError);
  const timeline = useDayTimeline(api, cameraId, day, width, onError);
  const onPastDay = useCallback((t: number) => { // playback goes on after midnight
    const next = nextFootageDay(days, day);
    if (!next) return false;
    link.current = { camera: cameraId, at: Math.max(t, dayStart(next)) };
    setDay(next);
    return true;
  }, [days, day, cameraId]);
  const player = usePlayer(api, cameraId, timeline.loadedRef, timeline.load, onError, onPastDay);
  const crossed = useCrossing(timeline, day, setDay);
  const { loaded } = timeline;
  const { setPlaying } = player;

  useEffect(() => {
    if (!cameraId && cameras[0]) setCameraId(cameras[0].camera_id);
  }, [cameras, cameraId]);
  useEffect(() => setPlaying(null), [cameraId, day, setPlaying]);
  useEffect(() => {
    const at = link.current?.at;
    if (!loaded || at === undefined || at < loaded.day.start || at >= loaded.day.end) return;
    void player.play(at);
    link.current = null;
  }, [loaded, player]);

  const found = loaded && (loaded.tracks.length ? `${loaded.tracks.length} tracked objects` : `${loaded.markers.length} detections`);
  const caption = `${day} · ${loaded ? `${loaded.segments.length} segments, ${found}` : "loading…"}`;
  const labels = loaded ? [...new Set([...loaded.tracks, ...loaded.markers].map((m) => m.label))] : [];
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
            {labels.map((label) => (
              <span key={label}><i className="dot" style={{ background: labelColour(label) }} />{label}</span>
            ))}
          </div>
        )}
      </aside>
      <section className="playback-main">
        <Player player={player} />
        <Timeline
          loaded={loaded} view={timeline.view} caption={caption} selection={selection}
          playhead={player.playhead} bar={bar} onPlay={(t) => void player.play(t)}
          onSelect={setSelection} onView={timeline.setView} onCross={crossed}
        />
        <p className="muted small">Click to play · drag to select a range to export · scroll to zoom, shift+scroll to move.</p>
        {selection && <ExportPanel api={api} cameraId={cameraId} selection={selection} onError={onError} />}
        {error && <p className="error">{error}</p>}
      </section>
    </div>
  );
}
