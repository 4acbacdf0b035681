import { useEffect, useState } from "react";
import type { Api } from "../api";
import { dateTime, labelColour } from "../format";
import { duration, playbackLink } from "../review";
import type { ReviewItem } from "../types";

/** The clip's address: the segment's video, played from start to end (a media fragment). */
export function previewSource(url: string, preview: NonNullable<ReviewItem["preview"]>): string {
  return `${url}#t=${preview.start_s.toFixed(1)},${preview.end_s.toFixed(1)}`;
}

/** One review item: its thumbnail (a short clip plays while the pointer is over it),
 * what and where, a link to Playback and the reviewed toggle. */
export function ReviewCard({ api, item, camera, onMark }: { api: Api; item: ReviewItem; camera: string; onMark: (reviewed: boolean) => void }) {
  const [thumb, setThumb] = useState<string | null>(null);
  const [clip, setClip] = useState<string | null>(null);
  const [hover, setHover] = useState(false);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let live = true;
    api.mediaUrl(item.thumbnail_url).then((u) => live && setThumb(u), () => undefined);
    return () => { live = false; };
  }, [api, item.thumbnail_url, attempt]);

  // a moment just recorded may not be on disk yet: look again a little later
  const retry = () => { setThumb(null); if (attempt < 5) setTimeout(() => setAttempt((a) => a + 1), 3000); };

  useEffect(() => {
    if (!hover || !item.preview || clip) return;
    const preview = item.preview;
    api.mediaUrl(`/api/segments/${preview.segment_id}/video`).then((u) => setClip(previewSource(u, preview)), () => undefined);
  }, [api, hover, item.preview, clip]);

  return (
    <article className={`review-item ${item.severity}`} data-testid="review-item" data-item={item.item_id}>
      <div className="review-thumb" onMouseEnter={() => setHover(true)} onMouseLeave={() => setHover(false)}>
        {hover && clip ? (
          <video src={clip} autoPlay muted playsInline data-testid="review-preview" />
        ) : thumb ? (
          <img src={thumb} alt={`${item.labels.join(", ")} thumbnail`} loading="lazy" onError={retry} />
        ) : <div className="placeholder small" />}
      </div>
      <span className={`badge ${item.severity}`}>{item.severity}</span>
      <div className="review-what">
        <strong>{item.labels.map((l) => <span key={l}><i className="dot" style={{ background: labelColour(l) }} />{l} </span>)}</strong>
        <span className="muted small">{camera} · {dateTime(item.start)} · {duration(item)}{item.zones.length ? ` · ${item.zones.join(", ")}` : ""}</span>
      </div>
      <a className="button" href={playbackLink(item)}>Play</a>
      <button onClick={() => onMark(!item.reviewed)}>{item.reviewed ? "Not reviewed" : "Reviewed"}</button>
    </article>
  );
}
