import { useState } from "react";
import type { Api } from "../api";
import { clock } from "../format";
import type { ExportJob } from "../types";
import type { Range } from "./model";

const POLL_MS = 1000;

/** The selected range, a button that cuts it into one MP4 on the server, the job's
 * progress, and the download once it is done (or why it failed). */
export function ExportPanel({ api, cameraId, selection, onError, pollMs = POLL_MS }: {
  api: Api;
  cameraId: string;
  selection: Range;
  onError: (message: string) => void;
  pollMs?: number;
}) {
  const [job, setJob] = useState<ExportJob | null>(null);
  const busy = job?.state === "running" || job?.state === "pending";

  async function start() {
    try {
      let state = await api.post<ExportJob>(`/api/cameras/${cameraId}/exports`, {
        start: new Date(selection.start).toISOString(),
        end: new Date(selection.end).toISOString(),
      });
      setJob(state);
      while (state.state === "pending" || state.state === "running") {
        await new Promise((r) => setTimeout(r, pollMs));
        state = await api.get<ExportJob>(`/api/exports/${state.export_id}`);
        setJob(state);
      }
    } catch (e) {
      onError(e instanceof Error ? e.message : String(e));
    }
  }

  async function download() {
    if (job?.download_url) window.location.href = await api.mediaUrl(job.download_url.split("?")[0]);
  }

  return (
    <div className="export card" data-testid="export-panel">
      <span>
        Selected {clock(selection.start)} – {clock(selection.end)} ({Math.round((selection.end - selection.start) / 1000)} s)
      </span>
      <button className="primary" onClick={() => void start()} disabled={busy}>Export MP4</button>
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
  );
}
