import { useState } from "react";
import type { Api } from "../api";
import { Modal } from "../components/Modal";
import { CameraForm } from "../setup/CameraForm";
import { ZoneEditor } from "../setup/ZoneEditor";
import type { Camera } from "../types";
import { timezone } from "../format";
import { Notifications } from "../setup/Notifications";
import { PushDevices } from "../setup/PushDevices";
import { Users } from "../setup/Users";

export function Setup({ api, cameras, refresh, admin }: { api: Api; cameras: Camera[]; refresh: () => void; admin: boolean }) {
  const [editing, setEditing] = useState<Camera | "new" | null>(null);
  const [confirm, setConfirm] = useState<Camera | null>(null);
  const [zoning, setZoning] = useState<Camera | null>(null);
  const [error, setError] = useState<string | null>(null);
  const sorted = [...cameras].sort((a, b) => a.position - b.position || a.name.localeCompare(b.name));

  async function move(index: number, step: -1 | 1) {
    const other = sorted[index + step];
    const camera = sorted[index];
    if (!other) return;
    try {
      const ordered = [...sorted];
      ordered[index] = other;
      ordered[index + step] = camera;
      await api.post("/api/cameras/order", { camera_ids: ordered.map((c) => c.camera_id) });
      setTimeout(refresh, 300);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }

  async function remove(camera: Camera) {
    try {
      await api.delete(`/api/cameras/${camera.camera_id}`);
      setConfirm(null);
      setTimeout(refresh, 300);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }

  return (
    <div className="page setup">
      <header className="page-head">
        <h1>Cameras</h1>
        {admin && <button className="primary" onClick={() => setEditing("new")}>+ Add camera</button>}
      </header>
      {!admin && <p className="muted">Only an admin changes cameras and users; you see the cameras granted to you.</p>}
      {error && <p className="error-box">{error}</p>}
      <div className="card table-card">
        <table>
          <thead>
            <tr><th>Order</th><th>Name</th><th>Group</th><th>Status</th><th className="hide-narrow">Stream</th><th /></tr>
          </thead>
          <tbody>
            {sorted.map((c, i) => (
              <tr key={c.camera_id} data-testid="camera-row">
                <td className="order">
                  {admin && <>
                  <button className="icon" aria-label={`Move ${c.name} up`} disabled={i === 0} onClick={() => void move(i, -1)}>▲</button>
                  <button className="icon" aria-label={`Move ${c.name} down`} disabled={i === sorted.length - 1} onClick={() => void move(i, 1)}>▼</button>
                  </>}
                </td>
                <td><strong>{c.name}</strong>{!c.enabled && <span className="badge">off</span>}</td>
                <td>{c.group ?? <span className="muted">—</span>}</td>
                <td><span className={`status-dot ${c.status}`} /> {c.status}{c.last_error && <div className="muted small">{c.last_error}</div>}</td>
                <td className="hide-narrow mono small">{c.rtsp_url}</td>
                <td className="actions">
                  {admin && <button onClick={() => setEditing(c)}>Edit</button>}
                  {admin && <button onClick={() => setZoning(c)}>Zones</button>}
                  {admin && <button className="danger" onClick={() => setConfirm(c)}>Delete</button>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {sorted.length === 0 && <p className="empty">No camera yet: add your first one.</p>}
      </div>
      {editing && (
        <Modal title={editing === "new" ? "Add a camera" : `Edit ${editing.name}`} onClose={() => setEditing(null)}>
          <CameraForm
            api={api}
            camera={editing === "new" ? null : editing}
            position={sorted.length}
            onDone={() => {
              setEditing(null);
              setTimeout(refresh, 500);
            }}
          />
        </Modal>
      )}
      {zoning && (
        <Modal title={`Zones and masks of ${zoning.name}`} onClose={() => setZoning(null)} wide>
          <ZoneEditor api={api} camera={zoning} onDone={() => setZoning(null)} />
        </Modal>
      )}
      {admin && <Users api={api} cameras={sorted} />}
      {admin && <Notifications api={api} cameras={sorted} />}
      <PushDevices api={api} cameras={sorted} timezone={timezone()} />
      {confirm && (
        <Modal title={`Delete ${confirm.name}?`} onClose={() => setConfirm(null)}>
          <p>Recording stops at once. Footage already recorded stays until retention removes it.</p>
          <footer>
            <button onClick={() => setConfirm(null)}>Cancel</button>
            <button className="danger" onClick={() => void remove(confirm)}>Delete camera</button>
          </footer>
        </Modal>
      )}
    </div>
  );
}
