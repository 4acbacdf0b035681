import { type RefObject, useCallback, useRef, useState } from "react";
import { type Api, withQuery } from "../api";
import { gapSkip, seekTo } from "../timeline";
import type { Loaded } from "./model";

export interface Playing {
  id: string;
  start: number;
  offset: number;
}

/** How much footage one file holds: the player asks for the next when it ends. */
const WINDOW_MS = 3_600_000;

/** Plays the footage from a moment on as one file (`footage.mp4`: every segment of the
 * next hour back to back on one timeline, so the video's own scrub bar crosses segment
 * files), skipping gaps; then the next hour, or, at the segment still being written,
 * what it has written since. Past the day's last footage ``onPastDay`` may go on into
 * the next day. */
export function usePlayer(
  api: Api, cameraId: string, loadedRef: RefObject<Loaded | null>, load: () => Promise<void>,
  onError: (m: string | null) => void, onPastDay: (t: number) => boolean = () => false,
) {
  const video = useRef<HTMLVideoElement>(null);
  const [playing, setPlaying] = useState<Playing | null>(null);
  const [now, setNow] = useState<number | null>(null);
  const windowEnd = useRef(0);

  const play = useCallback(
    async (t: number) => {
      const found = loadedRef.current && seekTo(loadedRef.current.segments, t);
      if (!found) {
        if (!onPastDay(t)) onError("no footage after this moment");
        return;
      }
      const from = Math.max(t, found.segment.start);
      const path = `/api/cameras/${cameraId}/footage.mp4`;
      const url = withQuery(path, {
        start: new Date(from).toISOString(), end: new Date(from + WINDOW_MS).toISOString(), token: await api.mediaToken(path),
      });
      const head = await fetch(url, { headers: { Range: "bytes=0-0" } });
      const origin = Date.parse(head.headers.get("x-footage-start") ?? "");
      if (!head.ok || !origin) {
        onError(head.status === 404 ? "no footage after this moment" : `cannot play: ${head.status}`);
        return;
      }
      onError(null);
      windowEnd.current = from + WINDOW_MS;
      setPlaying({ id: url, start: origin, offset: (from - origin) / 1000 });
      const element = video.current;
      if (!element) return;
      element.src = url;
      element.dataset.segmentStart = String(origin);
      element.currentTime = Math.max(0, (from - origin) / 1000);
      element.play().catch(() => {});
    },
    [api, cameraId, loadedRef, onError, onPastDay],
  );

  const goOn = useCallback(async () => {
    if (!playing || !video.current) return;
    const reached = playing.start + video.current.currentTime * 1000;
    if (reached < windowEnd.current - 2000) await load(); // the segment being written grew
    void play(reached < windowEnd.current - 2000 ? reached : windowEnd.current);
  }, [playing, load, play]);

  /** In a gap of the recording, jump to where footage goes on. */
  const skipGaps = useCallback((element: HTMLVideoElement) => {
    const start = Number(element.dataset.segmentStart);
    const to = start && loadedRef.current && gapSkip(loadedRef.current.segments, start + element.currentTime * 1000);
    if (to && to < windowEnd.current) element.currentTime = (to - start) / 1000;
  }, [loadedRef]);

  const playhead = now ?? (playing ? playing.start + playing.offset * 1000 : null);
  return { video, playing, setPlaying, setNow, play, goOn, skipGaps, playhead };
}

export type PlayerState = ReturnType<typeof usePlayer>;

export function Player({ player }: { player: PlayerState }) {
  return (
    <div className="video-frame">
      <video
        ref={player.video}
        controls
        playsInline
        data-testid="playback-video"
        onTimeUpdate={(e) => {
          const start = Number(e.currentTarget.dataset.segmentStart);
          if (start) player.setNow(start + e.currentTarget.currentTime * 1000);
          player.skipGaps(e.currentTarget);
        }}
        onEnded={() => void player.goOn()}
      />
      {!player.playing && <div className="video-hint">Click the timeline to play from that moment.</div>}
    </div>
  );
}
