import { useEffect, useState } from "react";
import type { Api, SseMessage } from "../api";
import { BarChart } from "../components/BarChart";
import { MlCards } from "../detections/MlCards";
import { clock, dateTime, labelColour, percent } from "../format";
import type { Alert, Camera, HourlyDetections, MlStatus } from "../types";

export function Detections({ api, cameras, feed }: { api: Api; cameras: Camera[]; feed: SseMessage[] }) {
  const [ml, setMl] = useState<MlStatus | null>(null);
  const [alerts, setAlerts] = useState<Alert[]>([]);
  const [hourly, setHourly] = useState<HourlyDetections[]>([]);
  const [camera, setCamera] = useState("");
  const [label, setLabel] = useState("");
  const [images, setImages] = useState<Record<string, string>>({});
  const names = new Map(cameras.map((c) => [c.camera_id, c.name]));

  useEffect(() => {
    const load = () => {
      api.get<MlStatus>("/api/ml/status").then(setMl).catch(() => {});
      api.get<Alert[]>("/api/alerts", { camera_id: camera || null, label: label || null, limit: 50 }).then(setAlerts).catch(() => {});
      api.get<HourlyDetections[]>("/api/stats/detections", { days: 2, camera_id: camera || null }).then(setHourly).catch(() => setHourly([]));
    };
    load();
    const timer = setInterval(load, 5000);
    return () => clearInterval(timer);
  }, [api, camera, label, feed.length]);

  useEffect(() => {
    const missing = alerts.filter((a) => a.snapshot_url && !images[a.alert_id]);
    if (!missing.length) return;
    void Promise.all(missing.map(async (a) => [a.alert_id, await api.mediaUrl(a.snapshot_url!)] as const)).then((pairs) =>
      setImages((old) => ({ ...old, ...Object.fromEntries(pairs) })),
    );
  }, [api, alerts, images]);

  const labels = [...new Set(hourly.map((h) => h.label))];
  const thisHour = Math.floor(Date.now() / 3_600_000) * 3_600_000;
  const hours = Array.from({ length: 48 }, (_, i) => thisHour - (47 - i) * 3_600_000);
  const countAt = (hour: number, label: string) =>
    hourly.find((x) => Date.parse(x.hour) === hour && x.label === label)?.count ?? 0;
  const live = feed.filter((m) => m.event === "AlertRaised").slice(-20).reverse();

  return (
    <div className="page detections">
      <header className="page-head">
        <h1>Detections</h1>
        <div className="filters">
          <select value={camera} onChange={(e) => setCamera(e.target.value)} aria-label="Camera filter">
            <option value="">All cameras</option>
            {cameras.map((c) => <option key={c.camera_id} value={c.camera_id}>{c.name}</option>)}
          </select>
          <select value={label} onChange={(e) => setLabel(e.target.value)} aria-label="Class filter">
            <option value="">All classes</option>
            {["person", "car", "truck", "bicycle", "motorcycle", "dog", "cat"].map((l) => <option key={l}>{l}</option>)}
          </select>
        </div>
      </header>
      {ml && <MlCards ml={ml} names={names} />}
      <div className="card">
        <h3>Detections per hour (last 48 h)</h3>
        {hourly.length ? (
          <>
            <BarChart
              format={(v) => `${v} detections`}
              bars={hours.map((h) => ({
                label: new Date(h).toLocaleTimeString([], { hour: "2-digit" }),
                parts: labels.map((l) => ({ key: l, value: countAt(h, l), colour: labelColour(l) })),
              }))}
            />
            <div className="legend">{labels.map((l) => <span key={l}><i className="dot" style={{ background: labelColour(l) }} />{l}</span>)}</div>
          </>
        ) : <p className="muted">Nothing detected yet.</p>}
      </div>
      <div className="two-columns">
        <div className="card">
          <h3>Live feed</h3>
          {live.length ? (
            <ul className="feed" data-testid="live-feed">
              {live.map((m) => {
                const a = m.data as Alert;
                return <li key={m.id}><i className="dot" style={{ background: labelColour(a.label) }} /> <strong>{a.label}</strong> at {names.get(a.camera_id) ?? "camera"} <span className="muted">{clock(a.detected_at)} · {percent(a.confidence)}</span></li>;
              })}
            </ul>
          ) : <p className="muted">Waiting for alerts…</p>}
        </div>
        <div className="card">
          <h3>Recent alerts</h3>
          <div className="alert-grid">
            {alerts.map((a) => (
              <figure key={a.alert_id} className="alert-card">
                {images[a.alert_id] ? <img src={images[a.alert_id]} alt={`${a.label} snapshot`} loading="lazy" /> : <div className="placeholder small" />}
                <figcaption><i className="dot" style={{ background: labelColour(a.label) }} />{a.label} · {names.get(a.camera_id) ?? "camera"}<br /><span className="muted small">{dateTime(a.detected_at)} · {percent(a.confidence)}</span></figcaption>
              </figure>
            ))}
            {!alerts.length && <p className="muted">No alert yet.</p>}
          </div>
        </div>
      </div>
    </div>
  );
}
