import { percent } from "../format";
import type { MlStatus } from "../types";

/** What the detector is doing: the model (or why detection is off), the job queue, and
 * the cameras watched live. */
export function MlCards({ ml, names }: { ml: MlStatus; names: Map<string, string> }) {
  return (
    <div className="cards">
      <div className="card">
        <h3>Model</h3>
        {ml.detection === "on" ? (
          <>
            <p className="big-number small-number">{ml.model_id}</p>
            <p className="muted">{ml.layout} · {ml.providers.join(", ") || "CPU"} · live detection {ml.live ? "on" : "off"}</p>
            <p>{ml.inference_ms_per_frame ? `${ml.inference_ms_per_frame.toFixed(1)} ms per frame` : "no frame analysed yet"}</p>
          </>
        ) : (
          <p className="notice">Detection is {ml.detection}. {ml.hint}</p>
        )}
      </div>
      <div className="card">
        <h3>Jobs</h3>
        <div className="stats-row">
          {(["pending", "running", "done", "failed"] as const).map((k) => (
            <div key={k}><span className="big-number">{ml.jobs[k]}</span><small>{k}</small></div>
          ))}
        </div>
        {ml.running.map((j) => (
          <div key={j.job_id} className="job"><span>{names.get(j.camera_id) ?? "camera"}</span><progress value={j.progress} max={1} /><small>{percent(j.progress)}</small></div>
        ))}
        <p className="muted small">{ml.frames_analysed} frames analysed, {ml.frames_skipped} skipped as still</p>
      </div>
      <div className="card">
        <h3>Live</h3>
        {ml.live_cameras.length ? (
          <ul className="health">
            {ml.live_cameras.map((c) => (
              <li key={c.camera_id}><strong>{names.get(c.camera_id) ?? c.camera_id}</strong> <span className="muted small">{c.fps.toFixed(2)} fps, {c.frames} frames, {c.skipped} still</span></li>
            ))}
          </ul>
        ) : <p className="muted">No camera sampled yet.</p>}
      </div>
    </div>
  );
}
