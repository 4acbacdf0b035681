// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { createRef } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Loaded } from "../src/playback/model";
import { Timeline } from "../src/playback/Timeline";
import type { View } from "../src/timeline";

afterEach(cleanup);

const DAY = { start: Date.UTC(2026, 11, 2), end: Date.UTC(2026, 11, 3) };
const HOUR = 3_600_000;
const LOADED: Loaded = {
  day: DAY,
  segments: [{ id: "s1", start: DAY.start + 8 * HOUR, end: DAY.start + 20 * HOUR, open: false }],
  markers: [{ label: "person", start: DAY.start + 14 * HOUR, end: DAY.start + 14.1 * HOUR, count: 4, confidence: 0.9 }],
  tracks: [],
  motion: [],
};
const TRACKED: Loaded = {
  ...LOADED,
  tracks: [
    { id: "t1", label: "person", start: DAY.start + 9 * HOUR, end: DAY.start + 10 * HOUR, stationary: false },
    { id: "t2", label: "car", start: DAY.start + 9.5 * HOUR, end: DAY.start + 12 * HOUR, stationary: true },
  ],
};
const FULL: View = { ...DAY, width: 1000 }; // 86.4 s a pixel; jsdom puts the bar at x = 0

function show(view: View = FULL, loaded: Loaded = LOADED) {
  const handlers = { onPlay: vi.fn(), onSelect: vi.fn(), onView: vi.fn(), onCross: vi.fn() };
  render(<Timeline loaded={loaded} view={view} caption="today" selection={null} playhead={null} bar={createRef()} {...handlers} />);
  return { ...handlers, bar: screen.getByTestId("timeline") };
}

const at = (x: number, view: View = FULL) => view.start + (x / view.width) * (view.end - view.start);

describe("Timeline", () => {
  it("draws when the picture moved where it moved, darker where more did", () => {
    const moved = [
      { start: DAY.start + 6 * HOUR, end: DAY.start + 6.5 * HOUR, peak: 0.01 },
      { start: DAY.start + 12 * HOUR, end: DAY.start + 12 * HOUR + 1000, peak: 0.5 },
    ];
    show(FULL, { ...LOADED, motion: moved });
    const [quiet, busy] = screen.getAllByTestId("motion");
    expect(quiet.style.left).toBe("250px");
    expect(parseFloat(quiet.style.width)).toBeCloseTo(20.83, 1); // half an hour
    expect(busy.style.width).toBe("2px"); // a second still shows
    expect(Number(busy.style.opacity)).toBeGreaterThan(Number(quiet.style.opacity));
  });

  it("plays from the moment clicked and clears the selection", () => {
    const { bar, onPlay, onSelect } = show();
    fireEvent.mouseDown(bar, { clientX: 500 });
    fireEvent.mouseUp(bar, { clientX: 502 }); // a hand that shakes a little still clicks
    expect(onPlay).toHaveBeenCalledWith(at(502));
    expect(onSelect).toHaveBeenCalledWith(null);
  });

  it("selects the range dragged over, whichever way, without playing", () => {
    const { bar, onPlay, onSelect } = show();
    fireEvent.mouseDown(bar, { clientX: 600 });
    fireEvent.mouseUp(bar, { clientX: 250 });
    expect(onSelect).toHaveBeenCalledWith({ start: at(250), end: at(600) });
    expect(onPlay).not.toHaveBeenCalled();
  });

  it("plays a detection from its start when its marker is clicked", () => {
    const { onPlay, onSelect } = show();
    const marker = screen.getByTestId("marker");
    expect(marker.dataset.label).toBe("person");
    fireEvent.mouseDown(marker, { clientX: 583 });
    fireEvent.mouseUp(marker, { clientX: 583 });
    fireEvent.click(marker);
    expect(onPlay).toHaveBeenCalledTimes(1);
    expect(onPlay).toHaveBeenCalledWith(LOADED.markers[0].start);
    expect(onSelect).not.toHaveBeenCalled();
  });

  it("zooms in on the middle with the button, and out no further than the day", () => {
    const { onView } = show();
    fireEvent.click(screen.getByRole("button", { name: "Zoom in" }));
    const zoomed: View = onView.mock.calls[0][0];
    expect(zoomed.end - zoomed.start).toBe(12 * HOUR);
    expect((zoomed.start + zoomed.end) / 2).toBe(DAY.start + 12 * HOUR);
    fireEvent.click(screen.getByRole("button", { name: "Zoom out" }));
    expect(onView.mock.calls[1][0]).toMatchObject(DAY);
  });

  it("zooms with the wheel about the pointer, keeping the moment under it in place", () => {
    const { bar, onView } = show();
    fireEvent.wheel(bar, { deltaY: -100, clientX: 250 });
    const zoomed: View = onView.mock.calls[0][0];
    expect(zoomed.end - zoomed.start).toBeCloseTo((DAY.end - DAY.start) / 1.5);
    expect(at(250, zoomed)).toBeCloseTo(at(250));
  });

  it("pans with shift and the wheel, inside the day", () => {
    const half: View = { start: DAY.start + 6 * HOUR, end: DAY.start + 18 * HOUR, width: 1000 };
    const { bar, onView } = show(half);
    fireEvent.wheel(bar, { deltaY: 100, shiftKey: true, clientX: 10 });
    expect(onView.mock.calls[0][0].start).toBeCloseTo(half.start + 1.2 * HOUR);
    fireEvent.wheel(bar, { deltaY: 100_000, shiftKey: true, clientX: 10 });
    expect(onView.mock.calls[1][0]).toMatchObject({ start: DAY.start + 12 * HOUR, end: DAY.end });
  });

  it("pans on past midnight into the next day, and back before it into the day before", () => {
    const evening: View = { start: DAY.end - 2 * HOUR, end: DAY.end, width: 1000 };
    const late = show(evening);
    fireEvent.wheel(late.bar, { deltaY: 100, shiftKey: true, clientX: 10 });
    expect(late.onCross).toHaveBeenCalledWith(1, 2 * HOUR);
    expect(late.onView).not.toHaveBeenCalled();
    cleanup();
    const early = show({ start: DAY.start, end: DAY.start + 2 * HOUR, width: 1000 });
    fireEvent.wheel(early.bar, { deltaY: -100, shiftKey: true, clientX: 10 });
    expect(early.onCross).toHaveBeenCalledWith(-1, 2 * HOUR);
  });

  it("draws each track from start to end, in its own lane when tracks overlap", () => {
    const { onPlay, onSelect } = show(FULL, TRACKED);
    const [person, car] = screen.getAllByTestId("track");
    expect(screen.queryByTestId("marker")).toBeNull(); // tracks replace the point markers
    expect(parseFloat(person.style.width)).toBeCloseTo(1000 / 24);
    expect(person.style.top).not.toBe(car.style.top);
    expect(car.className).toContain("still");
    fireEvent.mouseDown(car, { clientX: 400 });
    fireEvent.mouseUp(car, { clientX: 400 });
    fireEvent.click(car);
    expect(onPlay).toHaveBeenCalledWith(TRACKED.tracks[1].start);
    expect(onSelect).not.toHaveBeenCalled();
  });

  it("draws only what the view shows", () => {
    show({ start: DAY.start, end: DAY.start + 4 * HOUR, width: 1000 });
    expect(screen.queryByTestId("segment")).toBeNull();
    expect(screen.queryByTestId("marker")).toBeNull();
  });
});
