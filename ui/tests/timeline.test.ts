import { describe, expect, it } from "vitest";
import { MIN_SPAN_MS, enteredView, lanes, gapSkip, nextFootageDay, pan, panAcross, seekTo, ticks, timeToX, xToTime, zoom } from "../src/timeline";

const DAY = { start: Date.UTC(2026, 10, 24), end: Date.UTC(2026, 10, 25) };
const view = { ...DAY, width: 960 };

describe("timeline geometry", () => {
  it("maps time to pixels and back", () => {
    expect(timeToX(view, DAY.start)).toBe(0);
    expect(timeToX(view, DAY.end)).toBe(960);
    expect(timeToX(view, DAY.start + 12 * 3_600_000)).toBe(480);
    for (const x of [0, 1, 123.5, 959]) expect(timeToX(view, xToTime(view, x))).toBeCloseTo(x, 6);
  });

  it("zooms around the pointer and keeps the day as bounds", () => {
    const anchorX = 240;
    const anchored = xToTime(view, anchorX);
    const zoomed = zoom(view, 4, anchorX, DAY);
    expect(zoomed.end - zoomed.start).toBe(6 * 3_600_000);
    expect(xToTime(zoomed, anchorX)).toBeCloseTo(anchored, 3);
    const out = zoom(zoomed, 1 / 100, anchorX, DAY);
    expect(out.start).toBe(DAY.start);
    expect(out.end).toBe(DAY.end);
    let deep = view;
    for (let i = 0; i < 20; i++) deep = zoom(deep, 4, 10, DAY);
    expect(deep.end - deep.start).toBe(MIN_SPAN_MS);
    const edge = zoom(view, 10, 959, DAY);
    expect(edge.end).toBeLessThanOrEqual(DAY.end);
  });

  it("pans without leaving the day", () => {
    const zoomed = zoom(view, 2, 480, DAY);
    const moved = pan(zoomed, 96, DAY);
    expect(moved.start - zoomed.start).toBe(4_320_000); // 96 px of a 12-hour view
    expect(pan(zoomed, 1e9, DAY).end).toBe(DAY.end);
    expect(pan(zoomed, -1e9, DAY).start).toBe(DAY.start);
  });

  it("seeks into the covering segment, or the next one after a gap", () => {
    const segments = [
      { id: "a", start: DAY.start, end: DAY.start + 900_000 },
      { id: "b", start: DAY.start + 1_800_000, end: DAY.start + 2_700_000 },
    ];
    expect(seekTo(segments, DAY.start + 60_000)).toEqual({ segment: segments[0], offsetS: 60 });
    expect(seekTo(segments, DAY.start + 1_000_000)).toEqual({ segment: segments[1], offsetS: 0 });
    expect(seekTo(segments, DAY.start + 2_000_000)?.offsetS).toBe(200);
    expect(seekTo(segments, DAY.end)).toBeNull();
  });

  it("places ticks at round steps, far enough apart", () => {
    const marks = ticks(view, 70);
    expect(marks.length).toBeGreaterThan(4);
    expect((marks[1] - marks[0]) % 3_600_000).toBe(0);
    const zoomed = zoom(view, 96, 480, DAY); // 15 minutes on screen
    const fine = ticks(zoomed, 70);
    expect(fine[1] - fine[0]).toBeLessThanOrEqual(5 * 60_000);
  });
});

describe("following footage", () => {
  it("plays on from the first footage at or after a moment", () => {
    const closed = { start: 1_000, end: 11_000 };
    const growing = { start: 11_000, end: 15_000, open: true };
    expect(seekTo([closed, growing], 11_001)?.segment).toBe(growing);
    expect(seekTo([closed, growing], 500)).toEqual({ segment: closed, offsetS: 0 });
    expect(seekTo([closed, growing], 15_000)).toBeNull();
  });
  it("jumps over a gap in the recording, not over a keyframe's seam", () => {
    const segments = [{ start: 0, end: 10_000 }, { start: 10_400, end: 20_000 }, { start: 60_000, end: 70_000 }];
    expect(gapSkip(segments, 10_200)).toBeNull(); // within a second of footage
    expect(gapSkip(segments, 5_000)).toBeNull();
    expect(gapSkip(segments, 30_000)).toBe(60_000);
    expect(gapSkip(segments, 80_000)).toBeNull(); // nothing follows
  });
});

describe("lanes", () => {
  it("puts overlapping bars in different lanes and reuses a lane once it is free", () => {
    const bars = [
      { start: 0, end: 10 },
      { start: 5, end: 20 },
      { start: 12, end: 15 },
      { start: 21, end: 30 },
    ];
    expect(lanes(bars)).toEqual([0, 1, 0, 0]);
  });
});

describe("crossing midnight", () => {
  const day = { start: 0, end: 86_400_000 };
  it("pans within the day, and past its end into the next day with the same span", () => {
    const view = { start: 82_800_000, end: 86_400_000, width: 1000 };
    expect(panAcross(view, 100, day).cross).toBe(1);
    expect(panAcross(view, -100, day)).toEqual({ view: { ...view, start: 82_440_000, end: 86_040_000 }, cross: 0 });
    expect(panAcross({ start: 0, end: 3_600_000, width: 1000 }, -100, day).cross).toBe(-1);
    expect(panAcross({ ...day, width: 1000 }, 100, day).cross).toBe(0); // the whole day: nowhere to go
  });
  it("enters a day at the edge it came from", () => {
    const next = { start: 86_400_000, end: 172_800_000 };
    expect(enteredView(3_600_000, 1, next, 800)).toEqual({ start: 86_400_000, end: 90_000_000, width: 800 });
    expect(enteredView(3_600_000, -1, next, 800)).toEqual({ start: 169_200_000, end: 172_800_000, width: 800 });
  });
  it("finds the next day with footage", () => {
    expect(nextFootageDay(["2026-03-01", "2026-03-04", "2026-02-27"], "2026-03-01")).toBe("2026-03-04");
    expect(nextFootageDay(["2026-03-01"], "2026-03-01")).toBeNull();
  });
});
