import Hls from "hls.js";
import { useCallback, useEffect, useRef, useState } from "react";
import { type Api, tokenOf } from "../api";
import { HlsPlayer } from "../components/HlsPlayer";
import type { Camera } from "../types";

/** One camera's live stream, its name and state; the media token is renewed before it
 * expires (hls.js sends the newest with every request). */
export function Tile({ api, camera, onOpen, large }: { api: Api; camera: Camera; onOpen: () => void; large?: boolean }) {
  const [src, setSrc] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const token = useRef("");
  useEffect(() => {
    let renew: ReturnType<typeof setTimeout> | undefined;
    const start = async () => {
      try {
        const live = await api.post<{ playlist_url: string; expires_in: number }>(`/api/cameras/${camera.camera_id}/stream/start`);
        token.current = tokenOf(live.playlist_url); // hls.js sends the newest; Safari reloads
        setSrc((old) => (old && Hls.isSupported() ? old : live.playlist_url));
        renew = setTimeout(() => void start(), Math.max(30, live.expires_in - 60) * 1000);
      } catch (e) {
        setProblem(e instanceof Error ? e.message : String(e));
        renew = setTimeout(() => void start(), 10_000);
      }
    };
    void start();
    return () => clearTimeout(renew);
  }, [api, camera.camera_id]);
  const [playing, setPlaying] = useState(false);
  const onError = useCallback((why: string) => {
    setPlaying(false);
    setProblem(why);
  }, []);
  const onPlaying = useCallback(() => {
    setPlaying(true);
    setProblem(null);
  }, []);
  return (
    <div className={`tile ${large ? "large" : ""}`} onClick={onOpen} data-testid="live-tile">
      {src ? (
        <HlsPlayer src={src} token={token} onError={onError} onPlaying={onPlaying} controls={large} />
      ) : (
        <div className="placeholder">Connecting…</div>
      )}
      <div className="tile-bar">
        <span className={`status-dot ${camera.status}`} title={camera.status} />
        <span className="tile-name">{camera.name}</span>
        <span className="tile-status">{camera.status}</span>
      </div>
      {!playing && (camera.status === "offline" || problem) && (
        <div className="tile-problem">{camera.last_error ?? problem ?? "offline"}</div>
      )}
    </div>
  );
}
