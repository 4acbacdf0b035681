import { useEffect, useState } from "react";
import type { Api } from "../api";
import { BarChart } from "../components/BarChart";
import { bytes, dateTime, labelColour } from "../format";
import type { DailyStorage, StatusReport } from "../types";

const PALETTE = ["#3ea6ff", "#f5a524", "#34d399", "#c084fc", "#fb7185", "#7aa2ff", "#fbbf24"];

export function Status({ api }: { api: Api }) {
  const [report, setReport] = useState<StatusReport | null>(null);
  const [perDay, setPerDay] = useState<DailyStorage[]>([]);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const load = () => {
      api.get<StatusReport>("/api/status").then(setReport).catch((e) => setError(String(e.message ?? e)));
      api.get<DailyStorage[]>("/api/stats/storage", { days: 30 }).then(setPerDay).catch(() => setPerDay([]));
    };
    load();
    const timer = setInterval(load, 10_000);
    return () => clearInterval(timer);
  }, [api]);

  if (!report) return <div className="page">{error ? <p className="error-box">{error}</p> : <p className="muted">Loading…</p>}</div>;
  const names = new Map(report.cameras.map((c) => [c.camera_id, c.name ?? "removed camera"]));
  const colour = new Map(report.cameras.map((c, i) => [c.camera_id, PALETTE[i % PALETTE.length]]));
  const disk = report.disk;
  const usedByUs = report.recordings_bytes;
  const other = Math.max(0, disk.used_bytes - usedByUs);
  const today = new Date();
  today.setHours(0, 0, 0, 0);
  const days = Array.from({ length: 30 }, (_, i) => new Date(today.getTime() - (29 - i) * 86_400_000));
  const sameDay = (a: string, b: Date) => new Date(a).toDateString() === b.toDateString();

  return (
    <div className="page status">
      <header className="page-head"><h1>Status</h1></header>
      <div className="cards">
        <div className="card">
          <h3>Disk</h3>
          <div className="diskbar" aria-label="Disk usage">
            <span style={{ width: `${(usedByUs / disk.total_bytes) * 100}%`, background: "#3ea6ff" }} title="recordings" />
            <span style={{ width: `${(other / disk.total_bytes) * 100}%`, background: "#56606b" }} title="other files" />
          </div>
          <p className="big-number">{bytes(disk.free_bytes)} <small>free of {bytes(disk.total_bytes)}</small></p>
          <p className="muted">Recordings use {bytes(usedByUs)}.</p>
        </div>
        <div className="card">
          <h3>Services</h3>
          <ul className="health">
            {report.components.map((c) => {
              const worker = c.name.startsWith("worker:");
              const name = worker ? c.name.slice(7) : c.name;
              const detail = worker ? (c.ok ? "running" : "not running") : c.detail;
              return (
                <li key={c.name} title={c.detail}>
                  <span className={`status-dot ${c.ok ? "online" : "offline"}`} /> <strong>{name}</strong>{" "}
                  <span className="muted small">{detail}</span>
                </li>
              );
            })}
          </ul>
        </div>
        <div className="card">
          <h3>Queues</h3>
          <table className="compact">
            <thead><tr><th>Group</th><th>Lag</th><th>Pending</th></tr></thead>
            <tbody>
              {report.consumer_groups.map((g) => (
                <tr key={`${g.topic}/${g.group}`}><td>{g.topic} · {g.group}</td><td>{g.lag ?? "?"}</td><td>{g.pending}</td></tr>
              ))}
            </tbody>
          </table>
          {report.given_up.map((g) => (
            <p key={g.topic} className="small error">{g.count} {g.topic} item(s) given up; newest by {g.group}: {g.reason}</p>
          ))}
        </div>
      </div>
      <div className="card">
        <h3>Storage per day (last 30 days)</h3>
        {perDay.length ? (
          <BarChart
            format={bytes}
            bars={days.map((day) => ({
              label: day.toLocaleDateString([], { day: "numeric", month: "short" }),
              parts: perDay.filter((d) => sameDay(d.day, day)).map((d) => ({ key: d.camera_id, value: d.bytes, colour: colour.get(d.camera_id) ?? labelColour(d.camera_id) })),
            }))}
          />
        ) : (
          <p className="muted">No footage in the analytics yet.</p>
        )}
      </div>
      <div className="card table-card">
        <h3>Cameras</h3>
        <table>
          <thead><tr><th>Camera</th><th>State</th><th>Stored</th><th className="hide-narrow">Segments</th><th className="hide-narrow">Oldest</th><th>Days kept</th></tr></thead>
          <tbody>
            {report.cameras.map((c) => (
              <tr key={c.camera_id}>
                <td><i className="dot" style={{ background: colour.get(c.camera_id) }} /> {names.get(c.camera_id)}</td>
                <td><span className={`status-dot ${c.status ?? "offline"}`} /> {c.status ?? "—"}{c.last_error && <div className="muted small">{c.last_error}</div>}</td>
                <td>{bytes(c.bytes)}</td>
                <td className="hide-narrow">{c.segments}</td>
                <td className="hide-narrow">{c.oldest ? dateTime(c.oldest) : "—"}</td>
                <td>{c.days_kept.toFixed(1)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
