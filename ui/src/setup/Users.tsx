import { type FormEvent, useCallback, useEffect, useState } from "react";
import type { Api } from "../api";
import { Modal } from "../components/Modal";
import type { Camera, Role, UserRow } from "../types";

interface Draft {
  username: string;
  password: string;
  role: Role;
  everyCamera: boolean;
  cameras: string[];
}

const NEW: Draft = { username: "", password: "", role: "viewer", everyCamera: true, cameras: [] };

function draftOf(u: UserRow): Draft {
  return { username: u.username, password: "", role: u.role, everyCamera: u.cameras === null, cameras: u.cameras ?? [] };
}

function UserForm({ api, cameras, user, onDone }: { api: Api; cameras: Camera[]; user: UserRow | null; onDone: () => void }) {
  const [draft, setDraft] = useState<Draft>(user ? draftOf(user) : NEW);
  const [error, setError] = useState<string | null>(null);
  const access = { role: draft.role, cameras: draft.everyCamera ? null : draft.cameras };
  const toggle = (id: string) =>
    setDraft({ ...draft, cameras: draft.cameras.includes(id) ? draft.cameras.filter((c) => c !== id) : [...draft.cameras, id] });

  async function save(e: FormEvent) {
    e.preventDefault();
    setError(null);
    try {
      if (!user) await api.post("/api/users", { username: draft.username.trim(), password: draft.password, ...access });
      else {
        await api.put(`/api/users/${encodeURIComponent(user.username)}/access`, access);
        if (draft.password) await api.put(`/api/users/${encodeURIComponent(user.username)}/password`, { password: draft.password });
      }
      onDone();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  }

  return (
    <form onSubmit={(e) => void save(e)} className="camera-form user-form">
      {!user && <label>User name<input required value={draft.username} onChange={(e) => setDraft({ ...draft, username: e.target.value })} /></label>}
      <label>
        {user ? "New password (leave empty to keep)" : "Password"}
        <input type="password" minLength={8} required={!user} value={draft.password} onChange={(e) => setDraft({ ...draft, password: e.target.value })} />
      </label>
      <label>Role
        <select value={draft.role} onChange={(e) => setDraft({ ...draft, role: e.target.value as Role })}>
          <option value="viewer">viewer: watches the cameras below</option>
          <option value="admin">admin: everything</option>
        </select>
      </label>
      {draft.role === "viewer" && (
        <fieldset>
          <label className="check"><input type="checkbox" checked={draft.everyCamera} onChange={(e) => setDraft({ ...draft, everyCamera: e.target.checked })} /> every camera</label>
          {!draft.everyCamera && cameras.map((c) => (
            <label key={c.camera_id} className="check"><input type="checkbox" checked={draft.cameras.includes(c.camera_id)} onChange={() => toggle(c.camera_id)} /> {c.name}</label>
          ))}
        </fieldset>
      )}
      {error && <p className="error-box">{error}</p>}
      <footer><button className="primary" type="submit">Save</button></footer>
    </form>
  );
}

/** Users and what they may see (admins only; any change signs the user out). */
export function Users({ api, cameras }: { api: Api; cameras: Camera[] }) {
  const [users, setUsers] = useState<UserRow[]>([]);
  const [editing, setEditing] = useState<UserRow | "new" | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(() => {
    api.get<UserRow[]>("/api/users").then(setUsers, (e: Error) => setError(e.message));
  }, [api]);
  useEffect(load, [load]);
  const names = (u: UserRow) =>
    u.role === "admin" || u.cameras === null ? "every camera" : cameras.filter((c) => u.cameras?.includes(c.camera_id)).map((c) => c.name).join(", ") || "none";

  async function remove(u: UserRow) {
    try {
      await api.delete(`/api/users/${encodeURIComponent(u.username)}`);
      load();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }

  return (
    <section className="users">
      <header className="page-head">
        <h1>Users</h1>
        <button onClick={() => setEditing("new")}>+ Add user</button>
      </header>
      {error && <p className="error-box">{error}</p>}
      <div className="card table-card">
        <table>
          <thead><tr><th>Name</th><th>Role</th><th>Cameras</th><th /></tr></thead>
          <tbody>
            {users.map((u) => (
              <tr key={u.username} data-testid="user-row">
                <td><strong>{u.username}</strong></td>
                <td>{u.role}</td>
                <td>{names(u)}</td>
                <td className="actions">
                  <button onClick={() => setEditing(u)}>Edit</button>
                  <button className="danger" onClick={() => void remove(u)}>Delete</button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {editing && (
        <Modal title={editing === "new" ? "Add a user" : `Edit ${editing.username}`} onClose={() => setEditing(null)}>
          <UserForm api={api} cameras={cameras} user={editing === "new" ? null : editing}
            onDone={() => { setEditing(null); load(); }} />
        </Modal>
      )}
    </section>
  );
}
