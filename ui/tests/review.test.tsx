// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Api } from "../src/api";
import { Review } from "../src/pages/Review";
import { dayWindow, duration, parseLink, playbackLink, rewindLink } from "../src/review";
import type { Camera, ReviewItem } from "../src/types";

afterEach(cleanup);

const AT = Date.UTC(2026, 11, 2, 14, 32);
function item(id: string, severity: ReviewItem["severity"] = "alert"): ReviewItem {
  return {
    item_id: id, camera_id: "c1", start: new Date(AT).toISOString(), end: new Date(AT + 80_000).toISOString(),
    labels: ["person"], zones: ["porch"], severity, tracks: 1, best_detection_id: "d",
    best_at: new Date(AT + 10_000).toISOString(), thumbnail_url: `/api/tracks/t-${id}/thumbnail`,
    preview: { segment_id: "s1", start_s: 59, end_s: 69 }, reviewed: false,
  };
}

describe("review links", () => {
  it("opens Playback a little before the clearest moment, never before the item", () => {
    const link = playbackLink(item("a"));
    expect(parseLink(link)).toEqual({ camera: "c1", at: AT + 7000 });
    expect(parseLink("#/playback")).toBeNull();
    expect(parseLink(rewindLink("c2", 30_000, AT))).toEqual({ camera: "c2", at: AT - 30_000 });
    expect(duration(item("a"))).toBe("1 min 20 s");
  });

  it("turns a day into its local start and end", () => {
    const { start, end } = dayWindow("2026-12-02");
    expect(new Date(start!).getDate()).toBe(2);
    expect(Date.parse(end!) - Date.parse(start!)).toBeGreaterThanOrEqual(23 * 3_600_000);
    expect(dayWindow("")).toEqual({ start: null, end: null });
  });
});

describe("Review page", () => {
  it("lists items, marks one reviewed, then all the rest", async () => {
    const post = vi.fn(async () => ({}));
    const get = vi.fn(async () => [item("a"), item("b", "detection"), item("c")]);
    const mediaUrl = vi.fn(async (path: string) => `${path}?token=t`);
    const api = { get, post, mediaUrl } as unknown as Api;
    render(<Review api={api} cameras={[{ camera_id: "c1", name: "Door" } as Camera]} />);
    expect(await screen.findAllByTestId("review-item")).toHaveLength(3);
    expect(get).toHaveBeenCalledWith("/api/review", expect.objectContaining({ reviewed: false }));
    expect(screen.getAllByText("Play")[0].getAttribute("href")).toContain("camera=c1");
    fireEvent.click(screen.getAllByRole("button", { name: "Reviewed" })[0]);
    await vi.waitFor(() => expect(screen.getAllByTestId("review-item")).toHaveLength(2));
    expect(post).toHaveBeenCalledWith("/api/review/reviewed", { item_ids: ["a"], reviewed: true });
    fireEvent.click(screen.getByRole("button", { name: "Mark all reviewed" }));
    await vi.waitFor(() => expect(screen.queryAllByTestId("review-item")).toHaveLength(0));
    expect(post).toHaveBeenLastCalledWith("/api/review/reviewed", { item_ids: ["b", "c"], reviewed: true });
    expect(screen.getByText("Nothing to review.")).toBeTruthy();
  });

  it("shows each item's thumbnail, plays its clip while pointed at, and filters by zone", async () => {
    const get = vi.fn(async () => [item("a")]);
    const mediaUrl = vi.fn(async (path: string) => `${path}?token=t`);
    render(<Review api={{ get, post: vi.fn(), mediaUrl } as unknown as Api} cameras={[]} />);
    const thumb = (await screen.findByAltText("person thumbnail")) as HTMLImageElement;
    expect(thumb.src).toContain("/api/tracks/t-a/thumbnail?token=t");
    fireEvent.mouseEnter(thumb.parentElement!);
    const clip = (await screen.findByTestId("review-preview")) as HTMLVideoElement;
    expect(clip.src).toContain("/api/segments/s1/video?token=t#t=59.0,69.0");
    fireEvent.change(screen.getByLabelText("Zone filter"), { target: { value: "porch" } });
    await vi.waitFor(() => expect(get).toHaveBeenLastCalledWith("/api/review", expect.objectContaining({ zone: "porch" })));
    fireEvent.change(screen.getByLabelText("Least duration filter"), { target: { value: "30" } });
    await vi.waitFor(() => expect(get).toHaveBeenLastCalledWith("/api/review", expect.objectContaining({ zone: "porch", min_duration_s: "30" })));
  });
});
