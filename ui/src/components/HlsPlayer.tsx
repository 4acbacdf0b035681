import Hls from "hls.js";
import { type RefObject, useEffect, useRef, useState } from "react";
import { withToken } from "../api";
import { LiveVideo } from "./LiveVideo";

interface Props {
  src: string | null;
  muted?: boolean;
  controls?: boolean;
  className?: string;
  onError?: (message: string) => void;
  onPlaying?: () => void;
  /** The current media token: every request carries it, so it can be renewed while
   * the stream plays (the tokens in the playlist's URIs age out in minutes). */
  token?: RefObject<string>;
}

/** A live HLS player in low-latency mode that reconnects by itself. */
export function HlsPlayer({ src, muted = true, controls = false, className, onError, onPlaying, token }: Props) {
  const video = useRef<HTMLVideoElement>(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const element = video.current;
    if (!element || !src) return;
    let retry: ReturnType<typeof setTimeout> | undefined;
    const again = (why: string) => {
      onError?.(why);
      retry = setTimeout(() => setAttempt((n) => n + 1), 3000);
    };
    if (Hls.isSupported()) {
      const hls = new Hls({
        lowLatencyMode: true,
        liveSyncDurationCount: 2,
        liveMaxLatencyDurationCount: 5,
        maxLiveSyncPlaybackRate: 1.5,
        backBufferLength: 10,
        manifestLoadingMaxRetry: 2,
        xhrSetup: (xhr, url) => {
          if (token?.current) xhr.open("GET", withToken(url, token.current), true);
        },
      });
      hls.on(Hls.Events.ERROR, (_e, data) => {
        if (data.fatal) {
          hls.destroy();
          again(`stream error: ${data.details}`);
        }
      });
      hls.loadSource(src);
      hls.attachMedia(element);
      element.play().catch(() => {});
      return () => {
        clearTimeout(retry);
        hls.destroy();
      };
    }
    element.src = src; // Safari plays HLS natively
    element.play().catch(() => again("cannot play"));
    return () => clearTimeout(retry);
  }, [src, attempt, onError, token]);

  return <LiveVideo ref={video} className={className} muted={muted} controls={controls} onPlaying={onPlaying} />;
}
