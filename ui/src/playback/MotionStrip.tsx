import type { View } from "../timeline";
import { timeToX } from "../timeline";
import type { Loaded } from "./model";

/** When the picture moved: a thin band over the segments, darker where more moved, so
 * a user can scrub straight to where something happened. */
export function MotionStrip({ motion, view }: { motion: Loaded["motion"]; view: View }) {
  const x = (t: number) => timeToX(view, t);
  return (
    <>
      {motion.map((m) => {
        const x1 = Math.max(0, x(m.start));
        const x2 = Math.min(view.width, Math.max(x(m.end), x(m.start) + 2));
        return x2 > 0 && x1 < view.width ? (
          <div
            key={m.start} className="motion-bar" data-testid="motion"
            style={{ left: x1, width: Math.max(2, x2 - x1), opacity: 0.35 + 0.65 * Math.min(1, m.peak * 10) }}
          />
        ) : null;
      })}
    </>
  );
}
