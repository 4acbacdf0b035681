import { type FormEvent, useState } from "react";
import type { Api } from "../api";
import type { Camera, ConnectionAnswer } from "../types";
import { ConnectionAnswerBox } from "./ConnectionAnswerBox";
import { RetentionFields, type RetentionForm, retentionBody } from "./RetentionFields";

interface Form extends RetentionForm {
  name: string;
  rtsp_url: string;
  sub_rtsp_url: string;
  username: string;
  password: string;
  group: string;
  enabled: boolean;
  detection_enabled: boolean;
}

const EMPTY: Form = {
  name: "", rtsp_url: "rtsp://", sub_rtsp_url: "", username: "", password: "", group: "", enabled: true,
  detection_enabled: true, retention_days: "", retention_max_gb: "", alert_days: "", detection_days: "",
};

function formOf(c: Camera): Form {
  return {
    name: c.name, rtsp_url: c.rtsp_url ?? "", sub_rtsp_url: c.sub_rtsp_url ?? "", username: "", password: "", group: c.group ?? "",
    enabled: c.enabled, detection_enabled: c.detection_enabled,
    retention_days: c.retention_days?.toString() ?? "", retention_max_gb: c.retention_max_gb?.toString() ?? "",
    alert_days: c.retention_tiers?.alert_days?.toString() ?? "",
    detection_days: c.retention_tiers?.detection_days?.toString() ?? "",
  };
}

function streams(form: Form) {
  return {
    rtsp_url: form.rtsp_url.trim(),
    sub_rtsp_url: form.sub_rtsp_url.trim() || null,
    username: form.username.trim() || null,
    password: form.password || null,
  };
}

function body(form: Form, position: number, camera: Camera | null) {
  return {
    name: form.name.trim(),
    ...streams(form),
    group: form.group.trim() || null,
    position,
    enabled: form.enabled,
    detection_enabled: form.detection_enabled,
    ...retentionBody(form, camera?.retention_tiers ?? null),
    skip_test: false,
  };
}

/** Add or edit a camera: test the connection, then save (the server tests it again). */
export function CameraForm({ api, camera, position, onDone }: { api: Api; camera: Camera | null; position: number; onDone: () => void }) {
  const [form, setForm] = useState<Form>(camera ? formOf(camera) : EMPTY);
  const [answer, setAnswer] = useState<ConnectionAnswer | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<"test" | "save" | null>(null);
  const set = (k: keyof Form) => (e: { target: { value: string; checked?: boolean; type?: string } }) =>
    setForm({ ...form, [k]: e.target.type === "checkbox" ? e.target.checked : e.target.value });

  async function test() {
    setBusy("test");
    setError(null);
    try {
      setAnswer(await api.post<ConnectionAnswer>("/api/cameras/test", streams(form)));
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(null);
    }
  }

  async function save(e: FormEvent) {
    e.preventDefault();
    setBusy("save");
    setError(null);
    try {
      if (camera) await api.put(`/api/cameras/${camera.camera_id}`, body(form, camera.position, camera));
      else await api.post("/api/cameras", body(form, position, null));
      onDone();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(null);
    }
  }

  return (
    <form onSubmit={save} className="camera-form">
      <label>Name<input name="name" value={form.name} onChange={set("name")} required maxLength={200} /></label>
      <label>RTSP URL<input name="rtsp_url" value={form.rtsp_url} onChange={set("rtsp_url")} required placeholder="rtsp://192.168.1.20:554/stream1" /></label>
      <label>Sub-stream URL (optional: a smaller stream for the grid and detection)
        <input name="sub_rtsp_url" value={form.sub_rtsp_url} onChange={set("sub_rtsp_url")} placeholder="rtsp://192.168.1.20:554/stream2" />
      </label>
      <div className="row">
        <label>User<input name="username" value={form.username} onChange={set("username")} autoComplete="off" /></label>
        <label>Password<input name="password" type="password" value={form.password} onChange={set("password")} autoComplete="new-password" /></label>
      </div>
      {camera?.has_credentials && <p className="muted small">Credentials are stored (never shown). Type the user name to keep them; leave the password empty to keep it.</p>}
      <div className="row">
        <label>Group<input name="group" value={form.group} onChange={set("group")} placeholder="Outside" /></label>
      </div>
      <RetentionFields form={form} set={set} />
      <div className="row checks">
        <label className="check"><input type="checkbox" checked={form.enabled} onChange={set("enabled")} /> Recording on</label>
        <label className="check"><input type="checkbox" checked={form.detection_enabled} onChange={set("detection_enabled")} /> Detection on</label>
      </div>
      {answer && <ConnectionAnswerBox answer={answer} />}
      {error && <p className="error-box" role="alert">{error}</p>}
      <footer>
        <button type="button" onClick={() => void test()} disabled={busy !== null}>
          {busy === "test" ? "Testing…" : "Test connection"}
        </button>
        <button className="primary" type="submit" disabled={busy !== null}>
          {busy === "save" ? "Saving…" : camera ? "Save" : "Add camera"}
        </button>
      </footer>
    </form>
  );
}
