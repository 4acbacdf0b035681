import { type RefObject, useEffect, useRef, useState } from "react";
import { withToken } from "../api";
import { LiveVideo } from "./LiveVideo";
import { keepLive, socketProblem, socketUrl, trimBefore } from "../live/liveEdge";

interface Props {
  src: string;
  token: RefObject<string>;
  muted?: boolean;
  controls?: boolean;
  onPlaying?: () => void;
  onError?: (message: string) => void;
  /** This browser cannot play the stream this way (no codec, no socket): use another. */
  onUnavailable: (why: string) => void;
}

/** Live fragmented MP4 over a WebSocket into Media Source Extensions: each frame is
 * appended as it arrives, and the player is kept at the live edge. Reconnects by itself. */
export function MsePlayer({ src, token, muted = true, controls = false, onPlaying, onError, onUnavailable }: Props) {
  const video = useRef<HTMLVideoElement>(null);
  const [attempt, setAttempt] = useState(0);
  const failures = useRef(0);

  useEffect(() => {
    const element = video.current;
    if (!element) return;
    const source = new MediaSource();
    const objectUrl = URL.createObjectURL(source);
    element.src = objectUrl;
    const queue: ArrayBuffer[] = [];
    let buffer: SourceBuffer | null = null;
    let mime: string | null = null;
    let received = false;
    let retry: ReturnType<typeof setTimeout> | undefined;

    const open = () => {
      if (buffer || !mime || source.readyState !== "open") return;
      buffer = source.addSourceBuffer(mime);
      buffer.addEventListener("updateend", () => {
        follow();
        append();
      });
      append();
    };
    const append = () => {
      if (!buffer || buffer.updating || queue.length === 0) return;
      const chunk = join(queue.splice(0));
      try {
        buffer.appendBuffer(chunk);
      } catch (e) {
        socket?.close();
        onError?.(`cannot play the live stream: ${e instanceof Error ? e.message : String(e)}`);
      }
    };
    const follow = () => {
      const ranges = element.buffered;
      if (!buffer || ranges.length === 0) return;
      const start = ranges.start(ranges.length - 1);
      const action = keepLive(element.currentTime, start, ranges.end(ranges.length - 1));
      if (action.seekTo !== null) element.currentTime = action.seekTo;
      element.playbackRate = action.rate;
      const trim = trimBefore(element.currentTime, ranges.start(0));
      if (trim !== null && !buffer.updating) buffer.remove(0, trim);
      if (element.paused) element.play().catch(() => {});
    };
    source.addEventListener("sourceopen", open);

    let socket: WebSocket | null = null;
    try {
      socket = new WebSocket(socketUrl(withToken(src, token.current ?? ""), window.location));
    } catch (e) {
      onUnavailable(`no WebSocket: ${e instanceof Error ? e.message : String(e)}`);
      return () => URL.revokeObjectURL(objectUrl);
    }
    socket.binaryType = "arraybuffer";
    socket.onmessage = (event) => {
      if (typeof event.data === "string") {
        mime = (JSON.parse(event.data) as { mime: string }).mime;
        if (!MediaSource.isTypeSupported(mime)) onUnavailable(`this browser cannot play ${mime}`);
        else open();
        return;
      }
      received = true;
      failures.current = 0;
      queue.push(event.data as ArrayBuffer);
      append();
    };
    socket.onclose = (event) => {
      const problem = socketProblem(event.code);
      if (problem) onError?.(problem);
      failures.current += received ? 0 : 1;
      if (failures.current >= 3) return onUnavailable(`the live socket closed (${event.code})`);
      retry = setTimeout(() => setAttempt((n) => n + 1), problem ? 5000 : 500 * failures.current);
    };
    return () => {
      clearTimeout(retry);
      if (socket) socket.onclose = null;
      socket?.close();
      URL.revokeObjectURL(objectUrl);
    };
  }, [src, attempt, token, onError, onUnavailable]);

  return <LiveVideo ref={video} muted={muted} controls={controls} onPlaying={onPlaying} />;
}

function join(chunks: ArrayBuffer[]): ArrayBuffer {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(new Uint8Array(chunk), at);
    at += chunk.byteLength;
  }
  return out.buffer;
}
