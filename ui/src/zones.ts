import type { Point, Zone, ZoneConfig } from "./types";

/** What is being drawn: a zone, or one of the two kinds of mask. */
export type ShapeKind = "zone" | "motion_mask" | "object_mask";

export const EMPTY_CONFIG: ZoneConfig = { zones: [], required_zones: [], motion_masks: [], object_masks: [] };

const round = (v: number) => Math.round(Math.min(1, Math.max(0, v)) * 1000) / 1000;

/** A click at (x, y) px on a picture w × h px, as a point in picture fractions. */
export function pointAt(x: number, y: number, width: number, height: number): Point {
  return [round(x / width), round(y / height)];
}

/** A free name like "zone 2" (names must differ within a camera). */
export function freeName(config: ZoneConfig, base = "zone"): string {
  const taken = new Set(config.zones.map((z) => z.name));
  for (let n = 1; ; n++) if (!taken.has(`${base} ${n}`)) return `${base} ${n}`;
}

/** The configuration with a drawn polygon added as a shape of ``kind`` (a polygon needs
 * at least three points: fewer add nothing). */
export function addShape(config: ZoneConfig, kind: ShapeKind, points: Point[]): ZoneConfig {
  if (points.length < 3) return config;
  if (kind === "motion_mask") return { ...config, motion_masks: [...config.motion_masks, points] };
  if (kind === "object_mask") return { ...config, object_masks: [...config.object_masks, points] };
  const zone: Zone = { name: freeName(config), points, labels: [], inertia: 3, loitering_s: 0 };
  return { ...config, zones: [...config.zones, zone] };
}

export function updateZone(config: ZoneConfig, index: number, change: Partial<Zone>): ZoneConfig {
  const old = config.zones[index];
  const zones = config.zones.map((z, i) => (i === index ? { ...z, ...change } : z));
  const renamed = change.name !== undefined && change.name !== old.name;
  const required = renamed ? config.required_zones.map((r) => (r === old.name ? change.name! : r)) : config.required_zones;
  return { ...config, zones, required_zones: required };
}

export function removeShape(config: ZoneConfig, kind: ShapeKind, index: number): ZoneConfig {
  if (kind === "motion_mask") return { ...config, motion_masks: config.motion_masks.filter((_, i) => i !== index) };
  if (kind === "object_mask") return { ...config, object_masks: config.object_masks.filter((_, i) => i !== index) };
  const name = config.zones[index]?.name;
  return { ...config, zones: config.zones.filter((_, i) => i !== index), required_zones: config.required_zones.filter((r) => r !== name) };
}

export function toggleRequired(config: ZoneConfig, name: string): ZoneConfig {
  const required = config.required_zones.includes(name)
    ? config.required_zones.filter((r) => r !== name)
    : [...config.required_zones, name];
  return { ...config, required_zones: required };
}

/** Why the configuration cannot be saved, or null (the server checks the same). */
export function problem(config: ZoneConfig): string | null {
  const names = config.zones.map((z) => z.name.trim());
  if (names.some((n) => !n)) return "every zone needs a name";
  const twice = names.filter((n, i) => names.indexOf(n) !== i);
  return twice.length ? `zone names must differ: ${[...new Set(twice)].join(", ")}` : null;
}

/** SVG ``points`` for a polygon in a 0-1 viewBox. */
export function svgPoints(points: Point[]): string {
  return points.map(([x, y]) => `${x},${y}`).join(" ");
}
