/** Keeping a live player at the live edge, and choosing its path (pure). */

export type LivePath = "mse" | "hls";

/** How far behind the newest buffered frame the player aims to be (seconds): enough for
 * the next frame to arrive before this one is shown. */
export const TARGET_LAG_S = 0.08;
/** Further behind than this, the player jumps to the edge instead of speeding up. */
export const JUMP_LAG_S = 1.0;

export interface EdgeAction {
  seekTo: number | null;
  rate: number;
}

/** What to do at playback time ``now`` with media buffered from ``start`` to ``end``:
 * jump when more than a second behind (or before what is buffered), play slightly
 * faster when a little behind, else play at normal speed. */
export function keepLive(now: number, start: number, end: number): EdgeAction {
  const lag = end - now;
  if (now < start || lag > JUMP_LAG_S) return { seekTo: Math.max(start, end - TARGET_LAG_S), rate: 1 };
  if (lag > TARGET_LAG_S + 0.2) return { seekTo: null, rate: 1.1 };
  return { seekTo: null, rate: 1 };
}

/** Where older media may be removed from: keep ``keepS`` seconds behind playback. */
export function trimBefore(now: number, start: number, keepS = 20): number | null {
  return now - start > keepS + 10 ? now - keepS : null;
}

/** The path a tile starts with: MSE where the browser has it, unless the user chose HLS
 * (``localStorage["ronin.livePath"] = "hls"``). */
export function firstPath(hasMse: boolean, chosen: string | null): LivePath {
  return hasMse && chosen !== "hls" ? "mse" : "hls";
}

/** A WebSocket URL for an API path, on the page's own host (wss on an https page). */
export function socketUrl(path: string, location: { protocol: string; host: string }): string {
  if (/^wss?:\/\//.test(path)) return path;
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${path}`;
}

/** Close codes of the live socket (see api/live.py) that a reconnect will not mend soon. */
export function socketProblem(code: number): string | null {
  if (code === 4401) return "the session has ended: log in again";
  if (code === 4404) return "no such camera";
  return null;
}
