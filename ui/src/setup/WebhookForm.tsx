import { type FormEvent, useState } from "react";
import type { Api } from "../api";
import type { Camera, Webhook } from "../types";
import { type RuleForm, formOf, ruleOf } from "./webhookRule";

const NEW_RULE: RuleForm = { cameras: [], labels: "", zones: "", severity: "alert" };

/** Add or change a webhook; a new one's secret is shown once, after saving. */
export function WebhookForm({ api, cameras, webhook, onDone }: { api: Api; cameras: Camera[]; webhook: Webhook | null; onDone: () => void }) {
  const [name, setName] = useState(webhook?.name ?? "");
  const [url, setUrl] = useState(webhook?.url ?? "https://");
  const [rule, setRule] = useState<RuleForm>(webhook ? formOf(webhook.rule) : NEW_RULE);
  const [secret, setSecret] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const toggle = (id: string) =>
    setRule({ ...rule, cameras: rule.cameras.includes(id) ? rule.cameras.filter((c) => c !== id) : [...rule.cameras, id] });

  async function save(e: FormEvent) {
    e.preventDefault();
    setError(null);
    const body = { name: name.trim(), url: url.trim(), rule: ruleOf(rule), enabled: true };
    try {
      if (webhook) {
        await api.put(`/api/webhooks/${webhook.webhook_id}`, body);
        onDone();
      } else setSecret((await api.post<{ secret: string }>("/api/webhooks", body)).secret);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  }

  if (secret)
    return (
      <div className="camera-form">
        <p>The webhook signs every delivery with this secret (<code>X-Ronin-Signature</code>). Copy it now: it is not shown again.</p>
        <p className="mono ok-box" data-testid="webhook-secret">{secret}</p>
        <footer><button className="primary" onClick={onDone}>Done</button></footer>
      </div>
    );
  return (
    <form onSubmit={(e) => void save(e)} className="camera-form">
      <label>Name<input name="webhook_name" required maxLength={200} value={name} onChange={(e) => setName(e.target.value)} /></label>
      <label>URL<input name="webhook_url" required value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://example.org/hook" /></label>
      <label>Which items
        <select value={rule.severity} onChange={(e) => setRule({ ...rule, severity: e.target.value as RuleForm["severity"] })}>
          <option value="alert">alerts</option>
          <option value="detection">detections only</option>
          <option value="any">every item</option>
        </select>
      </label>
      <div className="row">
        <label>Classes (any when empty)<input value={rule.labels} onChange={(e) => setRule({ ...rule, labels: e.target.value })} placeholder="person, car" /></label>
        <label>Zones (any when empty)<input value={rule.zones} onChange={(e) => setRule({ ...rule, zones: e.target.value })} placeholder="porch" /></label>
      </div>
      <fieldset>
        <legend className="muted small">Cameras (every camera when none is ticked)</legend>
        {cameras.map((c) => (
          <label key={c.camera_id} className="check"><input type="checkbox" checked={rule.cameras.includes(c.camera_id)} onChange={() => toggle(c.camera_id)} /> {c.name}</label>
        ))}
      </fieldset>
      {error && <p className="error-box" role="alert">{error}</p>}
      <footer><button className="primary" type="submit">{webhook ? "Save" : "Add webhook"}</button></footer>
    </form>
  );
}
