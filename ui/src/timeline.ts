// Timeline geometry (pure): time <-> pixels, zoom around a point, pan, ticks, seeking.

export interface View {
  start: number; // ms since the epoch at x = 0
  end: number; // ms at x = width
  width: number; // px
}

export interface Span {
  start: number;
  end: number;
}

export const MIN_SPAN_MS = 60_000;

export function timeToX(view: View, t: number): number {
  return ((t - view.start) / (view.end - view.start)) * view.width;
}

export function xToTime(view: View, x: number): number {
  return view.start + (x / view.width) * (view.end - view.start);
}

function clampSpan(start: number, end: number, bounds: Span): Span {
  const span = Math.min(end - start, bounds.end - bounds.start);
  let s = Math.max(bounds.start, start);
  if (s + span > bounds.end) s = bounds.end - span;
  return { start: s, end: s + span };
}

/** Zoom by ``factor`` (>1 zooms in) keeping the time under ``anchorX`` where it is. */
export function zoom(view: View, factor: number, anchorX: number, bounds: Span): View {
  const anchor = xToTime(view, anchorX);
  const span = Math.min(
    bounds.end - bounds.start,
    Math.max(MIN_SPAN_MS, (view.end - view.start) / factor),
  );
  const start = anchor - (anchorX / view.width) * span;
  const clamped = clampSpan(start, start + span, bounds);
  return { ...view, ...clamped };
}

/** Move the view by ``dx`` pixels (positive: later), never past the bounds. */
export function pan(view: View, dx: number, bounds: Span): View {
  const dt = (dx / view.width) * (view.end - view.start);
  return { ...view, ...clampSpan(view.start + dt, view.end + dt, bounds) };
}

/** A pan that may leave the day: past its end the view moves on to the next day (``cross``
 * 1) or back to the day before (-1), keeping its span, at that day's near edge. */
export function panAcross(view: View, dx: number, bounds: Span): { view: View; cross: -1 | 0 | 1 } {
  const dt = (dx / view.width) * (view.end - view.start);
  const span = view.end - view.start;
  if (dt > 0 && view.end >= bounds.end && span < bounds.end - bounds.start) return { view, cross: 1 };
  if (dt < 0 && view.start <= bounds.start && span < bounds.end - bounds.start) return { view, cross: -1 };
  return { view: pan(view, dx, bounds), cross: 0 };
}

/** The view over a new day after crossing into it: the same span, at the edge it was
 * entered from. */
export function enteredView(span: number, cross: -1 | 1, day: Span, width: number): View {
  const length = Math.min(span, day.end - day.start);
  return cross > 0 ? { start: day.start, end: day.start + length, width } : { start: day.end - length, end: day.end, width };
}

/** The first day after ``day`` ("YYYY-MM-DD") with footage, or null. */
export function nextFootageDay(days: Iterable<string>, day: string): string | null {
  return [...days].filter((d) => d > day).sort()[0] ?? null;
}

export interface Seek<T extends Span> {
  segment: T;
  offsetS: number;
}

/** The segment that covers ``t`` (or the next one after a gap) and the offset in it. */
export function seekTo<T extends Span>(segments: readonly T[], t: number): Seek<T> | null {
  const sorted = [...segments].sort((a, b) => a.start - b.start);
  for (const segment of sorted) {
    if (t < segment.end) {
      return { segment, offsetS: Math.max(0, (t - segment.start) / 1000) };
    }
  }
  return null;
}

/** Where to jump when playback at ``t`` is in a gap of the recording (more than a second
 * from any segment): the start of the next segment; null when footage is there, or none
 * follows. */
export function gapSkip<T extends Span>(segments: readonly T[], t: number, toleranceMs = 1000): number | null {
  const sorted = [...segments].sort((a, b) => a.start - b.start);
  if (sorted.some((s) => s.start - toleranceMs <= t && t < s.end + toleranceMs)) return null;
  return sorted.find((s) => s.start > t)?.start ?? null;
}

const STEPS = [
  60_000, 5 * 60_000, 15 * 60_000, 30 * 60_000, 3_600_000, 2 * 3_600_000, 3 * 3_600_000,
  6 * 3_600_000,
];

/** Tick marks at a round step so that labels are at least ``minPx`` apart. */
export function ticks(view: View, minPx = 70, offsetMs = 0): number[] {
  const perPx = (view.end - view.start) / view.width;
  const step = STEPS.find((s) => s / perPx >= minPx) ?? STEPS[STEPS.length - 1];
  const first = Math.ceil((view.start + offsetMs) / step) * step - offsetMs;
  const out: number[] = [];
  for (let t = first; t <= view.end; t += step) out.push(t);
  return out;
}

export function dayView(day: Span, width: number): View {
  return { start: day.start, end: day.end, width };
}

/** A lane per bar so that bars overlapping in time do not hide each other: each bar takes
 * the first lane whose last bar ended before it starts (in start order). */
export function lanes<T extends Span>(bars: readonly T[]): number[] {
  const order = bars.map((_, i) => i).sort((a, b) => bars[a].start - bars[b].start || a - b);
  const ends: number[] = [];
  const out = new Array<number>(bars.length);
  for (const i of order) {
    let lane = ends.findIndex((end) => end <= bars[i].start);
    if (lane < 0) lane = ends.push(0) - 1;
    ends[lane] = bars[i].end;
    out[i] = lane;
  }
  return out;
}
