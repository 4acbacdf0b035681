import { type MouseEvent, useEffect, useState } from "react";
import type { Api } from "../api";
import { Tile } from "../live/Tile";
import type { Camera, Point, ZoneConfig } from "../types";
import { EMPTY_CONFIG, type ShapeKind, addShape, pointAt, problem, svgPoints } from "../zones";
import { ZoneList } from "./ZoneList";

const KINDS: { kind: ShapeKind; title: string }[] = [
  { kind: "zone", title: "Draw a zone" },
  { kind: "motion_mask", title: "Draw a motion mask" },
  { kind: "object_mask", title: "Draw an object mask" },
];

/** Zones and masks drawn as polygons over the camera's live picture: click to add
 * points, finish to close the shape; saved as one configuration. */
export function ZoneEditor({ api, camera, onDone }: { api: Api; camera: Camera; onDone: () => void }) {
  const [config, setConfig] = useState<ZoneConfig | null>(null);
  const [drawing, setDrawing] = useState<{ kind: ShapeKind; points: Point[] } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const url = `/api/cameras/${camera.camera_id}/zones`;

  useEffect(() => {
    api.get<ZoneConfig>(url).then(setConfig, (e) => { setConfig(EMPTY_CONFIG); setError(String(e.message ?? e)); });
  }, [api, url]);

  function click(e: MouseEvent<SVGSVGElement>) {
    if (!drawing) return;
    const box = e.currentTarget.getBoundingClientRect();
    setDrawing({ ...drawing, points: [...drawing.points, pointAt(e.clientX - box.left, e.clientY - box.top, box.width, box.height)] });
  }

  function finish() {
    if (drawing && config) setConfig(addShape(config, drawing.kind, drawing.points));
    setDrawing(null);
  }

  async function save() {
    if (!config) return;
    const why = problem(config);
    if (why) return setError(why);
    try {
      await api.put(url, config);
      onDone();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }

  if (!config) return <p className="muted">Loading…</p>;
  return (
    <div className="zone-editor">
      <div className="zone-picture">
        <Tile api={api} camera={camera} onOpen={() => {}} />
        <svg viewBox="0 0 1 1" preserveAspectRatio="none" className={drawing ? "drawing" : ""} onClick={click} data-testid="zone-canvas">
          {config.motion_masks.map((p, i) => <polygon key={`m${i}`} points={svgPoints(p)} className="shape motion" />)}
          {config.object_masks.map((p, i) => <polygon key={`o${i}`} points={svgPoints(p)} className="shape object" />)}
          {config.zones.map((z, i) => (
            <polygon key={`z${i}`} points={svgPoints(z.points)} className={config.required_zones.includes(z.name) ? "shape zone required" : "shape zone"}><title>{z.name}</title></polygon>
          ))}
          {drawing && <polyline points={svgPoints(drawing.points)} className="shape drawn" />}
        </svg>
      </div>
      <aside className="zone-tools">
        {drawing ? (
          <div className="row">
            <span className="muted small">{drawing.points.length} points: click the picture</span>
            <button className="primary" onClick={finish} disabled={drawing.points.length < 3}>Finish shape</button>
            <button onClick={() => setDrawing(null)}>Cancel</button>
          </div>
        ) : (
          <div className="row">{KINDS.map((k) => <button key={k.kind} onClick={() => setDrawing({ kind: k.kind, points: [] })}>{k.title}</button>)}</div>
        )}
        <ZoneList config={config} onChange={setConfig} />
        {error && <p className="error-box" role="alert">{error}</p>}
        <footer><button className="primary" onClick={() => void save()} disabled={!!drawing}>Save zones</button></footer>
      </aside>
    </div>
  );
}
