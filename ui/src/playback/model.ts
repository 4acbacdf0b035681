import type { DayTimeline } from "../types";

/** A day's timeline with times as epoch milliseconds (what the timeline draws). */
export interface Loaded {
  day: { start: number; end: number };
  segments: { id: string; start: number; end: number; open: boolean }[];
  markers: { label: string; start: number; end: number; count: number; confidence: number }[];
  tracks: { id: string; label: string; start: number; end: number; stationary: boolean }[];
  motion: { start: number; end: number; peak: number }[];
}

export interface Range {
  start: number;
  end: number;
}

export function fromTimeline(t: DayTimeline): Loaded {
  return {
    day: { start: Date.parse(t.start), end: Date.parse(t.end) },
    segments: t.segments.map((s) => ({ id: s.segment_id, start: Date.parse(s.start), end: Date.parse(s.end), open: !!s.open })),
    markers: t.markers.map((m) => ({ label: m.label, start: Date.parse(m.start), end: Date.parse(m.end), count: m.count, confidence: m.max_confidence })),
    tracks: (t.tracks ?? []).map((k) => ({ id: k.track_id, label: k.label, start: Date.parse(k.start), end: Date.parse(k.end), stationary: k.stationary })),
    motion: (t.motion ?? []).map((m) => ({ start: Date.parse(m.start), end: Date.parse(m.end), peak: m.peak })),
  };
}
