import { type RefObject, useCallback, useRef, useState } from "react";
import type { Api } from "../api";
import { resumeAt, seekTo } from "../timeline";
import type { Loaded } from "./model";

export interface Playing {
  id: string;
  start: number;
  offset: number;
}

/** Plays the footage from a moment on, one segment after another: when a segment ends the
 * next one starts where the footage goes on (a growing segment is fetched again first);
 * past the day's last footage ``onPastDay`` may go on into the next day. */
export function usePlayer(
  api: Api, loadedRef: RefObject<Loaded | null>, load: () => Promise<void>, onError: (m: string | null) => void,
  onPastDay: (t: number) => boolean = () => false,
) {
  const video = useRef<HTMLVideoElement>(null);
  const [playing, setPlaying] = useState<Playing | null>(null);
  const [now, setNow] = useState<number | null>(null);

  const play = useCallback(
    async (t: number) => {
      const found = loadedRef.current && seekTo(loadedRef.current.segments, t);
      if (!found) {
        if (!onPastDay(t)) onError("no footage after this moment");
        return;
      }
      onError(null);
      setPlaying({ id: found.segment.id, start: found.segment.start, offset: found.offsetS });
      const element = video.current;
      if (!element) return;
      element.src = await api.mediaUrl(`/api/segments/${found.segment.id}/video`);
      element.dataset.segmentStart = String(found.segment.start);
      element.currentTime = found.offsetS;
      element.play().catch(() => {});
    },
    [api, loadedRef, onError, onPastDay],
  );

  const goOn = useCallback(async () => {
    const segment = playing && loadedRef.current?.segments.find((s) => s.id === playing.id);
    if (!segment || !video.current) return;
    if (segment.open) await load(); // it has grown since: fetch it again
    void play(resumeAt(segment, segment.start + video.current.currentTime * 1000));
  }, [playing, loadedRef, load, play]);

  const playhead = now ?? (playing ? playing.start + playing.offset * 1000 : null);
  return { video, playing, setPlaying, setNow, play, goOn, playhead };
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
        }}
        onEnded={() => void player.goOn()}
      />
      {!player.playing && <div className="video-hint">Click the timeline to play from that moment.</div>}
    </div>
  );
}
