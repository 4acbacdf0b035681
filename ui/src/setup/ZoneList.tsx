import type { ZoneConfig } from "../types";
import { removeShape, toggleRequired, updateZone } from "../zones";

/** The zones (name, classes, inertia, loitering, required for alerts) and masks drawn. */
export function ZoneList({ config, onChange }: { config: ZoneConfig; onChange: (c: ZoneConfig) => void }) {
  return (
    <div className="zone-list">
      {config.zones.map((z, i) => (
        <fieldset key={i} className="zone-item" data-testid="zone-item">
          <label>Name<input value={z.name} onChange={(e) => onChange(updateZone(config, i, { name: e.target.value }))} maxLength={64} /></label>
          <label>
            Classes
            <input
              value={z.labels.join(", ")} placeholder="all"
              onChange={(e) => onChange(updateZone(config, i, { labels: e.target.value.split(",").map((l) => l.trim()).filter(Boolean) }))}
            />
          </label>
          <div className="row">
            <label>Inertia<input type="number" min={1} max={30} value={z.inertia} onChange={(e) => onChange(updateZone(config, i, { inertia: Number(e.target.value) || 1 }))} /></label>
            <label>Loiter s<input type="number" min={0} value={z.loitering_s} onChange={(e) => onChange(updateZone(config, i, { loitering_s: Number(e.target.value) || 0 }))} /></label>
          </div>
          <label className="check">
            <input type="checkbox" checked={config.required_zones.includes(z.name)} onChange={() => onChange(toggleRequired(config, z.name))} />
            Required for alerts
          </label>
          <button className="danger" onClick={() => onChange(removeShape(config, "zone", i))}>Remove zone</button>
        </fieldset>
      ))}
      {config.motion_masks.map((_, i) => (
        <div key={`m${i}`} className="mask-item">Motion mask {i + 1} <button onClick={() => onChange(removeShape(config, "motion_mask", i))}>Remove</button></div>
      ))}
      {config.object_masks.map((_, i) => (
        <div key={`o${i}`} className="mask-item">Object mask {i + 1} <button onClick={() => onChange(removeShape(config, "object_mask", i))}>Remove</button></div>
      ))}
      {!config.zones.length && !config.motion_masks.length && !config.object_masks.length && (
        <p className="muted small">Nothing drawn yet: anywhere in the picture counts.</p>
      )}
    </div>
  );
}
