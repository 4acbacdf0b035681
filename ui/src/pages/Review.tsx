import { useCallback, useEffect, useState } from "react";
import type { Api } from "../api";
import { ReviewCard } from "../detections/ReviewCard";
import { dayWindow } from "../review";
import type { Camera, ReviewItem } from "../types";

type Shown = "open" | "reviewed" | "all";

/** What happened, newest first: filter, open in Playback, mark reviewed (one or all). */
export function Review({ api, cameras }: { api: Api; cameras: Camera[] }) {
  const [items, setItems] = useState<ReviewItem[]>([]);
  const [camera, setCamera] = useState("");
  const [severity, setSeverity] = useState("");
  const [label, setLabel] = useState("");
  const [zone, setZone] = useState("");
  const [longer, setLonger] = useState("");
  const [shown, setShown] = useState<Shown>("open");
  const [day, setDay] = useState("");
  const [error, setError] = useState<string | null>(null);
  const names = new Map(cameras.map((c) => [c.camera_id, c.name]));

  const load = useCallback(() => {
    const reviewed = shown === "all" ? null : shown === "reviewed";
    const query = { camera_id: camera || null, severity: severity || null, label: label || null, zone: zone || null, min_duration_s: longer || null, reviewed, ...dayWindow(day) };
    api.get<ReviewItem[]>("/api/review", query).then(setItems, (e) => setError(String(e.message ?? e)));
  }, [api, camera, severity, label, zone, longer, shown, day]);

  useEffect(() => {
    load();
    const timer = setInterval(load, 10_000);
    return () => clearInterval(timer);
  }, [load]);

  async function mark(ids: string[], reviewed = true) {
    if (!ids.length) return;
    try {
      await api.post("/api/review/reviewed", { item_ids: ids, reviewed });
      setItems((old) => (shown === "all" ? old.map((i) => (ids.includes(i.item_id) ? { ...i, reviewed } : i)) : old.filter((i) => !ids.includes(i.item_id))));
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }

  const open = items.filter((i) => !i.reviewed).map((i) => i.item_id);
  return (
    <div className="page review">
      <header className="page-head">
        <h1>Review</h1>
        <div className="filters">
          <select value={camera} onChange={(e) => setCamera(e.target.value)} aria-label="Camera filter">
            <option value="">All cameras</option>
            {cameras.map((c) => <option key={c.camera_id} value={c.camera_id}>{c.name}</option>)}
          </select>
          <select value={severity} onChange={(e) => setSeverity(e.target.value)} aria-label="Severity filter">
            <option value="">Alerts and detections</option>
            <option value="alert">Alerts</option>
            <option value="detection">Detections</option>
          </select>
          <input value={label} onChange={(e) => setLabel(e.target.value.trim())} placeholder="class" aria-label="Class filter" />
          <input value={zone} onChange={(e) => setZone(e.target.value.trim())} placeholder="zone" aria-label="Zone filter" />
          <input type="number" min="0" value={longer} onChange={(e) => setLonger(e.target.value)} placeholder="≥ s" aria-label="Least duration filter" className="narrow" />
          <input type="date" value={day} onChange={(e) => setDay(e.target.value)} aria-label="Day filter" />
          <select value={shown} onChange={(e) => setShown(e.target.value as Shown)} aria-label="Reviewed filter">
            <option value="open">Not reviewed</option>
            <option value="reviewed">Reviewed</option>
            <option value="all">All</option>
          </select>
          <button onClick={() => void mark(open)} disabled={!open.length}>Mark all reviewed</button>
        </div>
      </header>
      {error && <p className="error-box">{error}</p>}
      <div className="review-list">
        {items.map((i) => (
          <ReviewCard key={i.item_id} api={api} item={i} camera={names.get(i.camera_id) ?? "camera"} onMark={(reviewed) => void mark([i.item_id], reviewed)} />
        ))}
        {!items.length && <p className="empty">Nothing to review.</p>}
      </div>
    </div>
  );
}
