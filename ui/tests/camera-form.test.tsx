// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Api } from "../src/api";
import { streamFor } from "../src/live/Tile";
import { CameraForm } from "../src/setup/CameraForm";
import type { Camera, ConnectionAnswer } from "../src/types";

afterEach(cleanup);

const STREAM = { ok: true, reason: "ok", video_codec: "h264", audio_codec: null };
const ANSWER: ConnectionAnswer = {
  ...STREAM, width: 1920, height: 1080, sub_stream: { ...STREAM, width: 640, height: 360 },
};

function fakeApi() {
  const post = vi.fn(async (_path: string, _body?: unknown) => ANSWER);
  return { api: { post, put: vi.fn() } as unknown as Api, post };
}

function type(name: string, value: string) {
  fireEvent.change(document.querySelector(`input[name=${name}]`)!, { target: { value } });
}

describe("a camera with a sub-stream", () => {
  it("tests and saves both URLs and says what each stream is", async () => {
    const { api, post } = fakeApi();
    render(<CameraForm api={api} camera={null} position={0} onDone={() => {}} />);
    type("name", "Door");
    type("rtsp_url", "rtsp://cam/main");
    type("sub_rtsp_url", "rtsp://cam/sub");
    fireEvent.click(screen.getByText("Test connection"));
    await waitFor(() => expect(screen.getByTestId("connection-answer").textContent).toBe(
      "Connected: h264 1920×1080; sub-stream h264 640×360",
    ));
    expect(post.mock.calls[0]?.[1]).toMatchObject({ rtsp_url: "rtsp://cam/main", sub_rtsp_url: "rtsp://cam/sub" });
    fireEvent.click(screen.getByText("Add camera"));
    await waitFor(() => expect(post).toHaveBeenCalledTimes(2));
    expect(post.mock.calls[1]?.[1]).toMatchObject({ name: "Door", sub_rtsp_url: "rtsp://cam/sub" });
  });

  it("sends no sub-stream when the field is empty", async () => {
    const { api, post } = fakeApi();
    render(<CameraForm api={api} camera={null} position={0} onDone={() => {}} />);
    type("rtsp_url", "rtsp://cam/main");
    fireEvent.click(screen.getByText("Test connection"));
    await waitFor(() => expect(post).toHaveBeenCalled());
    expect(post.mock.calls[0]?.[1]).toMatchObject({ sub_rtsp_url: null });
  });

  it("plays the sub-stream in the grid and the main stream enlarged", () => {
    const camera = { has_sub_stream: true } as Camera;
    expect(streamFor(camera, false)).toBe("sub");
    expect(streamFor(camera, true)).toBe("main");
    expect(streamFor({ has_sub_stream: false } as Camera, false)).toBe("main");
  });
});
