import { type RefObject, useCallback, useEffect, useRef, useState } from "react";
import type { Api } from "../api";
import { timezone } from "../format";
import type { View } from "../timeline";
import type { DayTimeline } from "../types";
import { type Loaded, fromTimeline } from "./model";

/** The element's width in pixels, kept up to date as it resizes. */
export function useWidth(element: RefObject<HTMLElement | null>, fallback = 900): number {
  const [width, setWidth] = useState(fallback);
  useEffect(() => {
    const node = element.current;
    if (!node || typeof ResizeObserver === "undefined") return;
    const observer = new ResizeObserver(() => setWidth(node.clientWidth || fallback));
    observer.observe(node);
    return () => observer.disconnect();
  }, [element, fallback]);
  return width;
}

/** Days with footage of the camera (in the browser's time zone). */
export function useFootageDays(api: Api, cameraId: string, day: string, onError: (m: string) => void): Set<string> {
  const [days, setDays] = useState<Set<string>>(new Set());
  useEffect(() => {
    if (!cameraId) return;
    api.get<string[]>(`/api/cameras/${cameraId}/days`, { timezone: timezone() })
      .then((list) => setDays(new Set(list)))
      .catch((e) => onError(String(e.message ?? e)));
  }, [api, cameraId, day, onError]);
  return days;
}

/** The day's timeline, fetched again every 15 s (every 5 s while a segment grows), and
 * the view over it: kept while it still fits the day, reset when camera or day change. */
export function useDayTimeline(api: Api, cameraId: string, day: string, width: number, onError: (m: string) => void) {
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [view, setView] = useState<View | null>(null);
  const loadedRef = useRef<Loaded | null>(null);
  const widthRef = useRef(width);
  widthRef.current = width;

  const load = useCallback(async () => {
    if (!cameraId) return;
    const t = await api.get<DayTimeline>(`/api/cameras/${cameraId}/timeline`, { day, timezone: timezone() });
    const next = fromTimeline(t);
    loadedRef.current = next;
    setLoaded(next);
    setView((v) => (v && v.start >= next.day.start && v.end <= next.day.end ? v : { ...next.day, width: widthRef.current }));
  }, [api, cameraId, day]);

  useEffect(() => setView(null), [cameraId, day]);

  const growing = !!loaded?.segments.some((s) => s.open);
  useEffect(() => {
    void load().catch((e) => onError(String(e.message ?? e)));
    const timer = setInterval(() => void load().catch(() => {}), growing ? 5_000 : 15_000);
    return () => clearInterval(timer);
  }, [load, growing, onError]);

  return { loaded, loadedRef, load, view: view ? { ...view, width } : null, setView };
}
