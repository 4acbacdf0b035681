import { useState } from "react";
import { clock, labelColour, percent } from "../format";

/** The alert's snapshot; retried a few times (the read model may lag the event by a moment). */
export function Snapshot({ src, alt }: { src: string; alt: string }) {
  const [attempt, setAttempt] = useState(0);
  const url = attempt ? `${src}${src.includes("?") ? "&" : "?"}retry=${attempt}` : src;
  return (
    <img
      src={url}
      alt={alt}
      onError={() => attempt < 6 && setTimeout(() => setAttempt((n) => n + 1), 1000)}
    />
  );
}

export interface Toast {
  id: string;
  title: string;
  body: string;
  label?: string;
  image?: string | null;
  at: number;
}

export function Toasts({ toasts, onDismiss }: { toasts: Toast[]; onDismiss: (id: string) => void }) {
  return (
    <div className="toasts" aria-live="polite">
      {toasts.map((t) => (
        <div key={t.id} className="toast" data-testid="alert-toast" onClick={() => onDismiss(t.id)}>
          {t.image && <Snapshot src={t.image} alt={t.title} />}
          <div>
            <strong>
              {t.label && <span className="dot" style={{ background: labelColour(t.label) }} />}
              {t.title}
            </strong>
            <span>{t.body}</span>
            <small>{clock(t.at)}</small>
          </div>
        </div>
      ))}
    </div>
  );
}

export function alertToast(data: { alert_id: string; label: string; confidence: number; detected_at: string; snapshot_url?: string | null }, camera: string, image: string | null): Toast {
  return {
    id: data.alert_id,
    title: `${data.label[0].toUpperCase()}${data.label.slice(1)} at ${camera}`,
    body: `confidence ${percent(data.confidence)}`,
    label: data.label,
    image,
    at: Date.parse(data.detected_at),
  };
}
