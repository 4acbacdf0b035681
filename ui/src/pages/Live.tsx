import { useState } from "react";
import type { Api } from "../api";
import { LAYOUTS, type Layout, columns, loadLayout, page, saveLayout } from "../layout";
import { Tile } from "../live/Tile";
import { rewindLink } from "../review";
import type { Camera } from "../types";

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
            <div className="enlarged-bar">
              <button className="back" onClick={() => setEnlarged(null)}>
                ← Back to the grid
              </button>
              {[30_000, 300_000].map((ms) => (
                <button key={ms} onClick={() => (window.location.hash = rewindLink(big.camera_id, ms))} data-testid={`rewind-${ms / 1000}`}>
                  ⟲ {ms < 60_000 ? `${ms / 1000} s` : `${ms / 60_000} min`} back
                </button>
              ))}
            </div>
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
