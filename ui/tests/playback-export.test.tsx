// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Api } from "../src/api";
import { ExportPanel } from "../src/playback/ExportPanel";
import type { ExportJob } from "../src/types";

afterEach(cleanup);

const RANGE = { start: Date.UTC(2026, 11, 2, 14, 30), end: Date.UTC(2026, 11, 2, 14, 32) };

function job(state: ExportJob["state"], extra: Partial<ExportJob> = {}): ExportJob {
  return { export_id: "e1", camera_id: "c1", state, progress: 0, error: null, download_url: null, ...extra };
}

function fakeApi(post: () => Promise<ExportJob>, polls: ExportJob[]) {
  const get = vi.fn(async () => polls.shift()!);
  const api = { post: vi.fn(post), get, mediaUrl: vi.fn(async (p: string) => `${p}?token=t`) };
  return { api, typed: api as unknown as Api };
}

describe("ExportPanel", () => {
  it("asks for the selected range, follows the job and offers the download", async () => {
    const { api, typed } = fakeApi(async () => job("pending"), [
      job("running", { progress: 0.5 }),
      job("done", { progress: 1, download_url: "/api/exports/e1/download?x" }),
    ]);
    render(<ExportPanel api={typed} cameraId="c1" selection={RANGE} onError={vi.fn()} pollMs={1} />);
    expect(screen.getByTestId("export-panel").textContent).toContain("(120 s)");
    fireEvent.click(screen.getByRole("button", { name: "Export MP4" }));
    expect(await screen.findByRole("button", { name: "Download" })).toBeTruthy();
    expect(api.post).toHaveBeenCalledWith("/api/cameras/c1/exports", {
      start: "2026-12-02T14:30:00.000Z",
      end: "2026-12-02T14:32:00.000Z",
    });
    expect(api.get).toHaveBeenCalledWith("/api/exports/e1");
    expect(screen.getByRole("button", { name: "Export MP4" })).toHaveProperty("disabled", false);
  });

  it("shows why a job failed", async () => {
    const { typed } = fakeApi(async () => job("pending"), [job("failed", { error: "no footage in this range" })]);
    render(<ExportPanel api={typed} cameraId="c1" selection={RANGE} onError={vi.fn()} pollMs={1} />);
    fireEvent.click(screen.getByRole("button", { name: "Export MP4" }));
    expect(await screen.findByText("no footage in this range")).toBeTruthy();
  });

  it("passes on a refusal as the page's error, and can be asked again", async () => {
    const onError = vi.fn();
    const { typed } = fakeApi(async () => {
      throw new Error("422: an export spans at most 24 hours");
    }, []);
    render(<ExportPanel api={typed} cameraId="c1" selection={RANGE} onError={onError} pollMs={1} />);
    fireEvent.click(screen.getByRole("button", { name: "Export MP4" }));
    await vi.waitFor(() => expect(onError).toHaveBeenCalledWith("422: an export spans at most 24 hours"));
    expect(screen.getByRole("button", { name: "Export MP4" })).toHaveProperty("disabled", false);
  });
});
