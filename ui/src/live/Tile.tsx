import Hls from "hls.js";
import { useCallback, useEffect, useRef, useState } from "react";
import { type Api, tokenOf } from "../api";
import { HlsPlayer } from "../components/HlsPlayer";
import { Icon } from "../components/Icon";
import { MsePlayer } from "../components/MsePlayer";
import type { Camera } from "../types";
import { type LivePath, firstPath } from "./liveEdge";

interface LiveUrls {
  socket_url: string;
  playlist_url: string;
  expires_in: number;
}

/** Which of a camera's streams a tile plays: a grid tile its sub-stream, when it has one
 * (a small picture: many tiles at once); the enlarged view the main one, with sound. */
export function streamFor(camera: Camera, large: boolean): "main" | "sub" {
  return !large && camera.has_sub_stream ? "sub" : "main";
}

/** One camera's live stream, its name and state. It plays over a WebSocket into Media
 * Source Extensions (a fraction of a second behind) and falls back to HLS where that
 * path is unavailable; the media token is renewed before it expires. */
export function Tile({ api, camera, onOpen, large }: { api: Api; camera: Camera; onOpen: () => void; large?: boolean }) {
  const stream = streamFor(camera, large ?? false);
  const [urls, setUrls] = useState<LiveUrls | null>(null);
  const [path, setPath] = useState<LivePath>(() => firstPath("MediaSource" in window, localStorage.getItem("ronin.livePath")));
  const [problem, setProblem] = useState<string | null>(null);
  const [muted, setMuted] = useState(true);
  const token = useRef("");
  useEffect(() => {
    let renew: ReturnType<typeof setTimeout> | undefined;
    const start = async () => {
      try {
        const live = await api.post<LiveUrls>(`/api/cameras/${camera.camera_id}/stream/start?stream=${stream}`);
        token.current = tokenOf(live.playlist_url); // players send the newest; Safari reloads
        setUrls((old) => (old && Hls.isSupported() ? old : live));
        renew = setTimeout(() => void start(), Math.max(30, live.expires_in - 60) * 1000);
      } catch (e) {
        setProblem(e instanceof Error ? e.message : String(e));
        renew = setTimeout(() => void start(), 10_000);
      }
    };
    void start();
    return () => clearTimeout(renew);
  }, [api, camera.camera_id, stream]);
  const [playing, setPlaying] = useState(false);
  const onError = useCallback((why: string) => {
    setPlaying(false);
    setProblem(why);
  }, []);
  const onPlaying = useCallback(() => {
    setPlaying(true);
    setProblem(null);
  }, []);
  const onUnavailable = useCallback((why: string) => {
    console.info(`live view of ${camera.name} falls back to HLS: ${why}`);
    setPath("hls");
  }, [camera.name]);
  return (
    <div className={`tile ${large ? "large" : ""}`} onClick={onOpen} data-testid="live-tile" data-path={path} data-stream={stream}>
      {!urls ? (
        <div className="placeholder">Connecting…</div>
      ) : path === "mse" ? (
        <MsePlayer src={urls.socket_url} token={token} muted={muted} onError={onError} onPlaying={onPlaying} onUnavailable={onUnavailable} controls={large} />
      ) : (
        <HlsPlayer src={urls.playlist_url} token={token} muted={muted} onError={onError} onPlaying={onPlaying} controls={large} />
      )}
      <div className="tile-bar">
        <span className={`status-dot ${camera.status}`} title={camera.status} />
        <span className="tile-name">{camera.name}</span>
        <span className="tile-status">{camera.status}</span>
        {stream === "main" && <button
          className="tile-sound" data-testid="tile-sound" aria-label={muted ? "Sound on" : "Sound off"}
          title={muted ? "Sound on" : "Sound off"} onClick={(e) => { e.stopPropagation(); setMuted(!muted); }}
        >
          <Icon name={muted ? "muted" : "sound"} size={16} />
        </button>}
      </div>
      {!playing && (camera.status === "offline" || problem) && (
        <div className="tile-problem">{camera.last_error ?? problem ?? "offline"}</div>
      )}
    </div>
  );
}
