import { type FormEvent, useCallback, useEffect, useState } from "react";
import type { Api } from "../api";
import { pushUnsupported, subscribeThisBrowser } from "../push/subscribe";
import type { Camera, PushDevice } from "../types";
import { NEW_PUSH, type PushForm, describePush, pushRuleOf } from "./webhookRule";

const host = (url: string) => {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
};

/** This user's browsers that get a push for each review item their rule wants. */
export function PushDevices({ api, cameras, timezone }: { api: Api; cameras: Camera[]; timezone: string }) {
  const [devices, setDevices] = useState<PushDevice[]>([]);
  const [form, setForm] = useState<PushForm>(NEW_PUSH);
  const [said, setSaid] = useState<string | null>(null);
  const load = useCallback(() => void api.get<PushDevice[]>("/api/push/subscriptions").then(setDevices, () => setDevices([])), [api]);
  useEffect(load, [load]);
  const unsupported = pushUnsupported(window);
  const set = (k: keyof PushForm) => (e: { target: { value: string } }) => setForm({ ...form, [k]: e.target.value });
  const act = async (what: () => Promise<string>) => {
    try {
      setSaid(await what());
      setTimeout(load, 400);
    } catch (e) {
      setSaid(e instanceof Error ? e.message : String(e));
    }
  };
  const subscribe = (e: FormEvent) => {
    e.preventDefault();
    void act(async () => {
      await subscribeThisBrowser(api, pushRuleOf(form, timezone));
      return "This browser will be notified.";
    });
  };

  return (
    <section className="push-devices">
      <header className="page-head"><h1>Notifications on this device</h1></header>
      {said && <p className="muted" role="status" data-testid="push-said">{said}</p>}
      <form className="camera-form card" onSubmit={subscribe}>
        <div className="row">
          <label>Which items
            <select value={form.severity} onChange={set("severity")}>
              <option value="alert">alerts</option><option value="detection">detections only</option><option value="any">every item</option>
            </select>
          </label>
          <label>Classes (any when empty)<input value={form.labels} onChange={set("labels")} placeholder="person" /></label>
          <label>Zones (any when empty)<input value={form.zones} onChange={set("zones")} placeholder="porch" /></label>
        </div>
        <div className="row">
          <label>Quiet from<input type="time" value={form.quiet_from} onChange={set("quiet_from")} /></label>
          <label>until<input type="time" value={form.quiet_until} onChange={set("quiet_until")} /></label>
          <label>At most one every (s)<input type="number" min={0} value={form.cooldown_s} onChange={set("cooldown_s")} /></label>
        </div>
        <footer>
          {unsupported && <span className="muted small">{unsupported}</span>}
          <button className="primary" type="submit" disabled={unsupported !== null}>Notify this browser</button>
        </footer>
      </form>
      <ul className="plain">
        {devices.map((d) => (
          <li key={d.subscription_id} data-testid="push-device">
            <strong>{host(d.endpoint)}</strong> <span className="muted">{describePush(d.rule, cameras)}</span>{" "}
            <button onClick={() => void act(async () => (await api.post<{ reason: string }>(`/api/push/subscriptions/${d.subscription_id}/test`)).reason)}>Send a test</button>{" "}
            <button className="danger" onClick={() => void act(async () => (await api.delete(`/api/push/subscriptions/${d.subscription_id}`), "Removed."))}>Remove</button>
          </li>
        ))}
      </ul>
    </section>
  );
}
