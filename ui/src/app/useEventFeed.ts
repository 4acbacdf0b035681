import { type RefObject, useEffect, useState } from "react";
import type { Api, SseMessage } from "../api";
import { type Toast, alertToast } from "../components/Toasts";
import type { Camera } from "../types";

const FEED_KEPT = 200;
const TOASTS_SHOWN = 4;
const TOAST_MS = 12_000;

/** The server's event stream while signed in: the last messages (for the Detections
 * page), a toast per alert (with its snapshot when there is one), and a camera list
 * refresh whenever a camera changes. */
export function useEventFeed(api: Api, loggedIn: boolean, cameras: RefObject<Camera[]>, refresh: () => void) {
  const [feed, setFeed] = useState<SseMessage[]>([]);
  const [toasts, setToasts] = useState<Toast[]>([]);
  const dismiss = (id: string) => setToasts((old) => old.filter((t) => t.id !== id));

  useEffect(() => {
    if (!loggedIn) return;
    const abort = new AbortController();
    void api.follow((message) => {
      setFeed((old) => [...old.slice(-(FEED_KEPT - 1)), message]);
      if (message.event === "AlertRaised") {
        const data = message.data as Parameters<typeof alertToast>[0] & { camera_id: string };
        const show = (image: string | null) => {
          const name = cameras.current?.find((c) => c.camera_id === data.camera_id)?.name ?? "a camera";
          const toast = alertToast(data, name, image);
          setToasts((old) => [...old.filter((t) => t.id !== toast.id), toast].slice(-TOASTS_SHOWN));
          setTimeout(() => setToasts((old) => old.filter((t) => t.id !== toast.id)), TOAST_MS);
        };
        if (data.snapshot_url) void api.mediaUrl(data.snapshot_url).then(show, () => show(null));
        else show(null);
      } else if (message.event.startsWith("Camera") || message.event.startsWith("Recording")) {
        refresh();
      }
    }, abort.signal);
    return () => abort.abort();
  }, [api, loggedIn, cameras, refresh]);

  return { feed, toasts, dismiss };
}
