import { describe, expect, it } from "vitest";
import { JUMP_LAG_S, TARGET_LAG_S, firstPath, keepLive, socketProblem, socketUrl, trimBefore } from "../src/live/liveEdge";

describe("keeping a live player at the edge", () => {
  it("jumps to just behind the newest frame when more than a second behind", () => {
    expect(keepLive(10, 0, 10 + JUMP_LAG_S + 0.5)).toEqual({ seekTo: 11.5 - TARGET_LAG_S, rate: 1 });
  });
  it("jumps into what is buffered when playback stands before it", () => {
    expect(keepLive(0, 4, 4.5).seekTo).toBeCloseTo(4.5 - TARGET_LAG_S);
  });
  it("speeds up a little when somewhat behind, and plays normally at the edge", () => {
    expect(keepLive(10, 0, 10.6)).toEqual({ seekTo: null, rate: 1.1 });
    expect(keepLive(10, 0, 10.1)).toEqual({ seekTo: null, rate: 1 });
  });
  it("trims media well behind playback", () => {
    expect(trimBefore(100, 0)).toBe(80);
    expect(trimBefore(25, 0)).toBeNull();
  });
});

describe("the live path", () => {
  it("prefers MSE unless the browser lacks it or the user chose HLS", () => {
    expect(firstPath(true, null)).toBe("mse");
    expect(firstPath(false, null)).toBe("hls");
    expect(firstPath(true, "hls")).toBe("hls");
  });
  it("builds the socket URL on the page's host, secure on https", () => {
    expect(socketUrl("/api/x?token=t", { protocol: "http:", host: "h:8000" })).toBe("ws://h:8000/api/x?token=t");
    expect(socketUrl("/api/x", { protocol: "https:", host: "nvr" })).toBe("wss://nvr/api/x");
  });
  it("names the close codes a reconnect will not mend", () => {
    expect(socketProblem(4401)).toMatch(/log in/);
    expect(socketProblem(4000)).toBeNull();
  });
});
