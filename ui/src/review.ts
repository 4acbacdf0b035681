import type { ReviewItem } from "./types";

/** Where Playback opens for an item: its camera at its clearest moment (a few seconds
 * earlier, so the approach is seen too). */
export function playbackLink(item: ReviewItem, leadMs = 3000): string {
  const at = Date.parse(item.best_at) - leadMs;
  return `#/playback?camera=${encodeURIComponent(item.camera_id)}&at=${Math.max(Date.parse(item.start) - leadMs, at)}`;
}

/** Playback of a camera from ``backMs`` before ``now`` ("back 30 s" in the live view). */
export function rewindLink(cameraId: string, backMs: number, now = Date.now()): string {
  return `#/playback?camera=${encodeURIComponent(cameraId)}&at=${now - backMs}`;
}

/** The camera and moment a Playback link asks for, or null. */
export function parseLink(hash: string): { camera: string; at: number } | null {
  const query = new URLSearchParams(hash.split("?")[1] ?? "");
  const camera = query.get("camera");
  const at = Number(query.get("at"));
  return camera && Number.isFinite(at) && at > 0 ? { camera, at } : null;
}

/** The start and end (ISO 8601) of a local calendar day "YYYY-MM-DD", or nulls for none. */
export function dayWindow(day: string): { start: string | null; end: string | null } {
  if (!day) return { start: null, end: null };
  const [y, m, d] = day.split("-").map(Number);
  return { start: new Date(y, m - 1, d).toISOString(), end: new Date(y, m - 1, d + 1).toISOString() };
}

/** "1 min 20 s", "45 s". */
export function duration(item: ReviewItem): string {
  const s = Math.max(0, Math.round((Date.parse(item.end) - Date.parse(item.start)) / 1000));
  return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
}
