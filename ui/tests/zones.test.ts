import { describe, expect, it } from "vitest";
import type { Point } from "../src/types";
import { EMPTY_CONFIG, addShape, pointAt, problem, removeShape, svgPoints, toggleRequired, updateZone } from "../src/zones";

const TRIANGLE: Point[] = [[0.1, 0.1], [0.5, 0.1], [0.3, 0.6]];

describe("zone configuration", () => {
  it("turns clicks into picture fractions, clamped to the picture", () => {
    expect(pointAt(320, 90, 640, 360)).toEqual([0.5, 0.25]);
    expect(pointAt(-5, 400, 640, 360)).toEqual([0, 1]);
  });

  it("adds zones with free names and masks of each kind; two points make nothing", () => {
    let config = addShape(EMPTY_CONFIG, "zone", TRIANGLE);
    config = addShape(config, "zone", TRIANGLE);
    config = addShape(config, "motion_mask", TRIANGLE);
    config = addShape(config, "object_mask", TRIANGLE.slice(0, 2));
    expect(config.zones.map((z) => z.name)).toEqual(["zone 1", "zone 2"]);
    expect(config.zones[0]).toMatchObject({ inertia: 3, loitering_s: 0, labels: [] });
    expect(config.motion_masks).toHaveLength(1);
    expect(config.object_masks).toHaveLength(0);
  });

  it("keeps the required zones in step with renames and removals", () => {
    let config = toggleRequired(addShape(EMPTY_CONFIG, "zone", TRIANGLE), "zone 1");
    config = updateZone(config, 0, { name: "door" });
    expect(config.required_zones).toEqual(["door"]);
    expect(removeShape(config, "zone", 0)).toMatchObject({ zones: [], required_zones: [] });
    expect(toggleRequired(config, "door").required_zones).toEqual([]);
  });

  it("refuses empty and repeated names", () => {
    const two = addShape(addShape(EMPTY_CONFIG, "zone", TRIANGLE), "zone", TRIANGLE);
    expect(problem(two)).toBeNull();
    expect(problem(updateZone(two, 1, { name: "zone 1" }))).toContain("zone 1");
    expect(problem(updateZone(two, 0, { name: " " }))).toContain("name");
  });

  it("draws polygons in a 0-1 viewBox", () => {
    expect(svgPoints(TRIANGLE)).toBe("0.1,0.1 0.5,0.1 0.3,0.6");
  });
});
