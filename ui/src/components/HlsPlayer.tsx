import Hls from "hls.js";
import { useEffect, useRef, useState } from "react";

interface Props {
  src: string | null;
  muted?: boolean;
  controls?: boolean;
  className?: string;
  onError?: (message: string) => void;
  onPlaying?: () => void;
}

/** A live HLS player in low-latency mode that reconnects by itself. */
export function HlsPlayer({ src, muted = true, controls = false, className, onError, onPlaying }: Props) {
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
  }, [src, attempt, onError]);

  return (
    <video
      ref={video}
      className={className}
      muted={muted}
      controls={controls}
      playsInline
      autoPlay
      onPlaying={onPlaying}
      data-testid="live-video"
    />
  );
}
