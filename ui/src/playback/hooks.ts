import { type RefObject, useCallback, useEffect, useRef, useState } from "react";
import type { Api } from "../api";
import { isoDay, timezone } from "../format";
import { type View, enteredView } from "../timeline";
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

/** Local midnight at the start of a day "YYYY-MM-DD" (epoch milliseconds). */
export function dayStart(day: string): number {
  const [y, m, d] = day.split("-").map(Number);
  return new Date(y, m - 1, d).getTime();
}

/** Panning the timeline past midnight moves to the next (or previous) day, and the view
 * keeps its span at the edge it entered from. */
export function useCrossing(timeline: ReturnType<typeof useDayTimeline>, day: string, setDay: (d: string) => void) {
  const carried = useRef<{ span: number; cross: -1 | 1 } | null>(null);
  const { loaded, setView, view } = timeline;
  useEffect(() => {
    if (!loaded || !carried.current || loaded.day.start !== dayStart(day)) return; // the new day's
    setView(enteredView(carried.current.span, carried.current.cross, loaded.day, view?.width ?? 900));
    carried.current = null;
  }, [loaded, setView, view?.width, day]);
  return useCallback((cross: -1 | 1, span: number) => {
    carried.current = { span, cross };
    setDay(isoDay(new Date(dayStart(day) + (cross > 0 ? 36 : -12) * 3_600_000)));
  }, [day, setDay]);
}
