import Hls from "hls.js";
import { useCallback, useEffect, useRef, useState } from "react";
import { type Api, tokenOf } from "../api";
import { HlsPlayer } from "../components/HlsPlayer";
import { LAYOUTS, type Layout, columns, loadLayout, page, saveLayout } from "../layout";
import type { Camera } from "../types";

function Tile({ api, camera, onOpen, large }: { api: Api; camera: Camera; onOpen: () => void; large?: boolean }) {
  const [src, setSrc] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const token = useRef("");
  useEffect(() => {
    let renew: ReturnType<typeof setTimeout> | undefined;
    const start = async () => {
      try {
        const live = await api.post<{ playlist_url: string; expires_in: number }>(`/api/cameras/${camera.camera_id}/stream/start`);
        token.current = tokenOf(live.playlist_url); // hls.js sends the newest; Safari reloads
        setSrc((old) => (old && Hls.isSupported() ? old : live.playlist_url));
        renew = setTimeout(() => void start(), Math.max(30, live.expires_in - 60) * 1000);
      } catch (e) {
        setProblem(e instanceof Error ? e.message : String(e));
        renew = setTimeout(() => void start(), 10_000);
      }
    };
    void start();
    return () => clearTimeout(renew);
  }, [api, camera.camera_id]);
  const [playing, setPlaying] = useState(false);
  const onError = useCallback((why: string) => {
    setPlaying(false);
    setProblem(why);
  }, []);
  const onPlaying = useCallback(() => {
    setPlaying(true);
    setProblem(null);
  }, []);
  return (
    <div className={`tile ${large ? "large" : ""}`} onClick={onOpen} data-testid="live-tile">
      {src ? (
        <HlsPlayer src={src} token={token} onError={onError} onPlaying={onPlaying} controls={large} />
      ) : (
        <div className="placeholder">Connecting…</div>
      )}
      <div className="tile-bar">
        <span className={`status-dot ${camera.status}`} title={camera.status} />
        <span className="tile-name">{camera.name}</span>
        <span className="tile-status">{camera.status}</span>
      </div>
      {!playing && (camera.status === "offline" || problem) && (
        <div className="tile-problem">{camera.last_error ?? problem ?? "offline"}</div>
      )}
    </div>
  );
}

export function Live({ api, cameras }: { api: Api; cameras: Camera[] }) {
  const [layout, setLayout] = useState<Layout>(() => loadLayout(localStorage));
  const [pageIndex, setPageIndex] = useState(0);
  const [enlarged, setEnlarged] = useState<string | null>(null);
  const [group, setGroup] = useState<string>("");
  const groups = [...new Set(cameras.map((c) => c.group).filter((g): g is string => !!g))];
  const shown = cameras.filter((c) => c.enabled && (!group || c.group === group));
  const { items, pages } = page(shown, layout, pageIndex);
  const big = enlarged ? cameras.find((c) => c.camera_id === enlarged) : undefined;

  function choose(l: Layout) {
    setLayout(l);
    saveLayout(localStorage, l);
    setPageIndex(0);
  }

  return (
    <div className="live">
      <aside className="camera-list">
        <h3>Cameras</h3>
        {groups.length > 0 && (
          <select value={group} onChange={(e) => setGroup(e.target.value)} aria-label="Group">
            <option value="">All groups</option>
            {groups.map((g) => (
              <option key={g}>{g}</option>
            ))}
          </select>
        )}
        <ul>
          {shown.map((c) => (
            <li key={c.camera_id} onClick={() => setEnlarged(c.camera_id)} className={enlarged === c.camera_id ? "active" : ""}>
              <span className={`status-dot ${c.status}`} /> {c.name}
            </li>
          ))}
        </ul>
        {shown.length === 0 && <p className="muted">No camera yet. Add one in Setup.</p>}
      </aside>
      <section className="grid-area">
        <div className="toolbar">
          <div className="segmented" role="group" aria-label="Layout">
            {LAYOUTS.map((l) => (
              <button key={l} className={l === layout ? "on" : ""} onClick={() => choose(l)} aria-pressed={l === layout}>
                {l === 1 ? "1" : `${columns(l)}×${columns(l)}`}
              </button>
            ))}
          </div>
          {pages > 1 && (
            <div className="pager">
              <button onClick={() => setPageIndex((p) => Math.max(0, p - 1))}>‹</button>
              <span>
                {pageIndex + 1} / {pages}
              </span>
              <button onClick={() => setPageIndex((p) => Math.min(pages - 1, p + 1))}>›</button>
            </div>
          )}
        </div>
        {big ? (
          <div className="enlarged">
            <button className="back" onClick={() => setEnlarged(null)}>
              ← Back to the grid
            </button>
            <Tile api={api} camera={big} onOpen={() => {}} large />
          </div>
        ) : (
          <div className="grid" style={{ gridTemplateColumns: `repeat(${columns(layout)}, minmax(0, 1fr))` }}>
            {items.map((c) => (
              <Tile key={c.camera_id} api={api} camera={c} onOpen={() => setEnlarged(c.camera_id)} />
            ))}
          </div>
        )}
      </section>
    </div>
  );
}
