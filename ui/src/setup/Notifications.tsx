import { useCallback, useEffect, useState } from "react";
import type { Api } from "../api";
import { Modal } from "../components/Modal";
import { dateTime } from "../format";
import type { Camera, StatusReport, Webhook, WebhookDelivery } from "../types";
import { WebhookForm } from "./WebhookForm";
import { describeRule } from "./webhookRule";

/** MQTT's state in words, from the mqtt worker's heartbeat (none: MQTT is off). */
export function mqttState(report: StatusReport | null): string {
  const worker = report?.components.find((c) => c.name === "worker:mqtt");
  if (!report) return "…";
  if (!worker) return "off (set MQTT_ENABLED=true)";
  if (!worker.ok) return "the mqtt worker is not running";
  return worker.detail.includes("broker=connected") ? "connected to the broker" : "the broker is unreachable: retrying";
}

function Deliveries({ api, webhook }: { api: Api; webhook: Webhook }) {
  const [log, setLog] = useState<WebhookDelivery[] | null>(null);
  useEffect(() => void api.get<WebhookDelivery[]>(`/api/webhooks/${webhook.webhook_id}/deliveries`).then(setLog), [api, webhook]);
  if (!log) return <p className="muted">Loading…</p>;
  if (!log.length) return <p className="empty">Nothing sent yet.</p>;
  return (
    <table data-testid="webhook-deliveries">
      <thead><tr><th>When</th><th>What</th><th>Result</th><th>Tries</th></tr></thead>
      <tbody>
        {log.map((d) => (
          <tr key={d.delivery_id}>
            <td>{dateTime(d.at)}</td>
            <td>{d.item_id ? "review item" : "test"}</td>
            <td className={d.delivered ? "" : "danger-text"}>{d.delivered ? `delivered (${d.status_code})` : d.reason}</td>
            <td>{d.attempts}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Notifications (admins): the MQTT connection, and webhooks with a test and their log. */
export function Notifications({ api, cameras }: { api: Api; cameras: Camera[] }) {
  const [hooks, setHooks] = useState<Webhook[]>([]);
  const [report, setReport] = useState<StatusReport | null>(null);
  const [editing, setEditing] = useState<Webhook | "new" | null>(null);
  const [showing, setShowing] = useState<Webhook | null>(null);
  const [said, setSaid] = useState<string | null>(null);
  const load = useCallback(() => {
    api.get<Webhook[]>("/api/webhooks").then(setHooks, (e: Error) => setSaid(e.message));
    api.get<StatusReport>("/api/status").then(setReport, () => setReport(null));
  }, [api]);
  useEffect(load, [load]);
  const later = () => setTimeout(load, 400);

  async function test(hook: Webhook) {
    setSaid(`Sending a test to ${hook.name}…`);
    try {
      const answer = await api.post<{ ok: boolean; reason: string }>(`/api/webhooks/${hook.webhook_id}/test`);
      setSaid(`${hook.name}: ${answer.ok ? "delivered" : "failed"} (${answer.reason})`);
    } catch (e) {
      setSaid(e instanceof Error ? e.message : String(e));
    }
  }

  async function remove(hook: Webhook) {
    await api.delete(`/api/webhooks/${hook.webhook_id}`).catch((e: Error) => setSaid(e.message));
    later();
  }

  return (
    <section className="notifications">
      <header className="page-head">
        <h1>Notifications</h1>
        <button onClick={() => setEditing("new")}>+ Add webhook</button>
      </header>
      <p data-testid="mqtt-state">MQTT and Home Assistant: <strong>{mqttState(report)}</strong></p>
      {said && <p className="muted" role="status" data-testid="webhook-said">{said}</p>}
      <div className="card table-card">
        <table>
          <thead><tr><th>Webhook</th><th>Sends</th><th className="hide-narrow">URL</th><th /></tr></thead>
          <tbody>
            {hooks.map((h) => (
              <tr key={h.webhook_id} data-testid="webhook-row">
                <td><strong>{h.name}</strong></td>
                <td>{describeRule(h.rule, cameras)}</td>
                <td className="hide-narrow mono small">{h.url}</td>
                <td className="actions">
                  <button onClick={() => void test(h)}>Send a test</button>
                  <button onClick={() => setShowing(h)}>Log</button>
                  <button onClick={() => setEditing(h)}>Edit</button>
                  <button className="danger" onClick={() => void remove(h)}>Delete</button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {hooks.length === 0 && <p className="empty">No webhook: add one to have review items POSTed to a URL, signed.</p>}
      </div>
      {editing && (
        <Modal title={editing === "new" ? "Add a webhook" : `Edit ${editing.name}`} onClose={() => { setEditing(null); later(); }}>
          <WebhookForm api={api} cameras={cameras} webhook={editing === "new" ? null : editing} onDone={() => { setEditing(null); later(); }} />
        </Modal>
      )}
      {showing && (
        <Modal title={`Deliveries of ${showing.name}`} onClose={() => setShowing(null)} wide>
          <Deliveries api={api} webhook={showing} />
        </Modal>
      )}
    </section>
  );
}
