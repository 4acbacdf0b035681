"""Motion pre-filter: OpenCV MOG2 background subtraction on a small grey frame.

A sampled frame goes to the model only when enough of the picture changed, so hours of
an empty, static scene cost almost no inference. The first frame of a run is always
analysed (a person standing still is still found), and so is one frame every
``refresh_s`` seconds of stillness. Motion masks (polygons in picture fractions) are
left out of the count: a tree in the wind or the camera's own clock never opens the gate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from detector.model import Frame


@dataclass(frozen=True, slots=True)
class MotionConfig:
    width: int = 160
    """Frames are shrunk to this width (and made grey and blurred) before MOG2."""
    min_changed: float = 0.004
    """Fraction of the picture that must change to count as motion."""
    history: int = 60
    var_threshold: float = 25.0
    refresh_s: float = 60.0
    enabled: bool = True


class MotionFilter:
    """Says whether a frame is worth running the model on; one instance per video stream."""

    def __init__(
        self,
        config: MotionConfig | None = None,
        masks: Sequence[Sequence[tuple[float, float]]] = (),
    ) -> None:
        import cv2

        self.config = config or MotionConfig()
        self._cv2 = cv2
        self._mog = cv2.createBackgroundSubtractorMOG2(
            history=self.config.history,
            varThreshold=self.config.var_threshold,
            detectShadows=False,
        )
        self._last_analysed_s: float | None = None
        self._masks = masks
        self._counted: np.ndarray | None = None
        self.changed = 0.0

    def should_analyse(self, frame: Frame, at_s: float) -> bool:
        """Feed the frame to the background model; True when it moved (or must be looked at)."""
        self.changed = self._changed_fraction(frame)
        due = (
            not self.config.enabled
            or self._last_analysed_s is None
            or at_s - self._last_analysed_s >= self.config.refresh_s
        )
        if due or self.changed >= self.config.min_changed:
            self._last_analysed_s = at_s
            return True
        return False

    def _changed_fraction(self, frame: Frame) -> float:
        cv2 = self._cv2
        h, w = frame.shape[:2]
        small_w = min(self.config.width, w)
        small = cv2.resize(frame, (small_w, max(1, h * small_w // w)), interpolation=cv2.INTER_AREA)
        grey = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (5, 5), 0)
        mask: np.ndarray = self._mog.apply(grey)
        if not self._masks:
            return float(np.count_nonzero(mask)) / mask.size
        counted = self._counted_area(mask.shape[1], mask.shape[0])
        area = np.count_nonzero(counted)
        return float(np.count_nonzero(mask & counted)) / area if area else 0.0

    def _counted_area(self, width: int, height: int) -> np.ndarray:
        """255 where motion counts, 0 under the masks (made once, at the frame's size)."""
        if self._counted is None or self._counted.shape != (height, width):
            counted = np.full((height, width), 255, np.uint8)
            for polygon in self._masks:
                points = np.array([[x * width, y * height] for x, y in polygon], np.int32)
                self._cv2.fillPoly(counted, [points], 0)
            self._counted = counted
        return self._counted


@dataclass(frozen=True, slots=True)
class MotionSample:
    at_s: float
    changed: float
    """The fraction of the picture that changed (``MotionFilter.changed``)."""


@dataclass(frozen=True, slots=True)
class Activity:
    start_s: float
    end_s: float
    peak: float


def activity(
    samples: Sequence[MotionSample], min_changed: float, join_s: float = 2.0
) -> list[Activity]:
    """Spans of motion (pure): samples at or over ``min_changed``, each lasting until the
    next sample, joined when less than ``join_s`` of stillness lies between them. The
    first sample of a stream is left out: the background model has nothing to compare
    it with."""
    out: list[Activity] = []
    ordered = sorted(samples, key=lambda s: s.at_s)[1:]
    following_of = [*ordered[1:], None] if ordered else []
    for sample, following in zip(ordered, following_of, strict=True):
        if sample.changed < min_changed:
            continue
        end = sample.at_s if following is None else following.at_s
        last = out[-1] if out else None
        if last is not None and sample.at_s - last.end_s < join_s:
            out[-1] = Activity(last.start_s, max(last.end_s, end), max(last.peak, sample.changed))
        else:
            out.append(Activity(sample.at_s, end, sample.changed))
    return out
