"""Motion pre-filter: OpenCV MOG2 background subtraction on a small grey frame.

A sampled frame goes to the model only when enough of the picture changed, so hours of
an empty, static scene cost almost no inference. The first frame of a run is always
analysed (a person standing still is still found), and so is one frame every
``refresh_s`` seconds of stillness.
"""

from __future__ import annotations

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

    def __init__(self, config: MotionConfig | None = None) -> None:
        import cv2

        self.config = config or MotionConfig()
        self._cv2 = cv2
        self._mog = cv2.createBackgroundSubtractorMOG2(
            history=self.config.history,
            varThreshold=self.config.var_threshold,
            detectShadows=False,
        )
        self._last_analysed_s: float | None = None
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
        return float(np.count_nonzero(mask)) / mask.size
