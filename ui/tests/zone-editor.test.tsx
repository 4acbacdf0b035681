// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Api } from "../src/api";
import { ZoneEditor } from "../src/setup/ZoneEditor";
import type { Camera, ZoneConfig } from "../src/types";
import { EMPTY_CONFIG } from "../src/zones";

vi.mock("../src/live/Tile", () => ({ Tile: () => <div data-testid="live-picture" /> }));
afterEach(cleanup);

const CAMERA = { camera_id: "c1", name: "Door" } as Camera;

function fakeApi(stored: ZoneConfig = EMPTY_CONFIG) {
  const api = { get: vi.fn(async () => stored), put: vi.fn(async () => stored) };
  return { api, typed: api as unknown as Api };
}

function clickAt(canvas: HTMLElement, x: number, y: number) {
  canvas.getBoundingClientRect = () => ({ left: 0, top: 0, width: 400, height: 200 }) as DOMRect;
  fireEvent.click(canvas, { clientX: x, clientY: y });
}

describe("ZoneEditor", () => {
  it("draws a zone by clicking the picture, makes it required and saves it", async () => {
    const { api, typed } = fakeApi();
    const done = vi.fn();
    render(<ZoneEditor api={typed} camera={CAMERA} onDone={done} />);
    fireEvent.click(await screen.findByRole("button", { name: "Draw a zone" }));
    const canvas = screen.getByTestId("zone-canvas");
    const finish = screen.getByRole("button", { name: "Finish shape" });
    clickAt(canvas, 0, 0);
    clickAt(canvas, 200, 0);
    expect(finish).toHaveProperty("disabled", true); // two points are no polygon
    clickAt(canvas, 200, 100);
    fireEvent.click(finish);
    fireEvent.change(screen.getByLabelText("Name"), { target: { value: "door" } });
    fireEvent.click(screen.getByLabelText("Required for alerts"));
    fireEvent.click(screen.getByRole("button", { name: "Save zones" }));
    await vi.waitFor(() => expect(done).toHaveBeenCalled());
    expect(api.put).toHaveBeenCalledWith("/api/cameras/c1/zones", {
      zones: [{ name: "door", points: [[0, 0], [0.5, 0], [0.5, 0.5]], labels: [], inertia: 3, loitering_s: 0 }],
      required_zones: ["door"], motion_masks: [], object_masks: [],
    });
  });

  it("shows what is stored, and refuses two zones of one name before asking the server", async () => {
    const zone = { name: "a", points: [[0, 0], [1, 0], [1, 1]] as [number, number][], labels: [], inertia: 3, loitering_s: 0 };
    const { api, typed } = fakeApi({ ...EMPTY_CONFIG, zones: [zone, { ...zone, name: "b" }], motion_masks: [zone.points] });
    render(<ZoneEditor api={typed} camera={CAMERA} onDone={vi.fn()} />);
    expect(await screen.findAllByTestId("zone-item")).toHaveLength(2);
    expect(screen.getByText(/Motion mask 1/)).toBeTruthy();
    fireEvent.change(screen.getAllByLabelText("Name")[1], { target: { value: "a" } });
    fireEvent.click(screen.getByRole("button", { name: "Save zones" }));
    expect((await screen.findByRole("alert")).textContent).toContain("must differ");
    expect(api.put).not.toHaveBeenCalled();
  });
});
