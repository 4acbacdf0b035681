"""Stills cut from the recording: a tracked object's thumbnail, from its best sighting.

The detector keeps no pictures of recorded footage (pixels stay in the files), so a
thumbnail is cut when first asked for: ffmpeg seeks the segment to the moment, crops the
object's box with some room around it, and writes a small JPEG that is kept under
``.snapshots/tracks/`` (aged out with the other snapshots). The command is pure.
"""

from __future__ import annotations

import secrets
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from events.errors import MediaError, RoninError


@dataclass(frozen=True, slots=True)
class Crop:
    """A box in picture fractions (x1, y1, x2, y2)."""

    x1: float
    y1: float
    x2: float
    y2: float

    def padded(self, room: float = 0.5, least: float = 0.2) -> Crop:
        """The box grown by ``room`` of its size each way (at least ``least`` of the
        picture), kept inside the picture."""
        w = max(self.x2 - self.x1, 0.0)
        h = max(self.y2 - self.y1, 0.0)
        half_w = max(w * (1 + room), least) / 2
        half_h = max(h * (1 + room), least) / 2
        cx, cy = (self.x1 + self.x2) / 2, (self.y1 + self.y2) / 2
        x1, x2 = _inside(cx - half_w, cx + half_w)
        y1, y2 = _inside(cy - half_h, cy + half_h)
        return Crop(x1, y1, x2, y2)


def _inside(low: float, high: float) -> tuple[float, float]:
    size = min(high - low, 1.0)
    low = min(max(low, 0.0), 1.0 - size)
    return low, low + size


def still_command(
    source: Path, offset_s: float, crop: Crop, target: Path, width: int = 320
) -> list[str]:
    """ffmpeg: one frame at ``offset_s`` of ``source``, cropped and scaled to ``width``."""
    c = crop
    area = (
        f"crop=iw*{c.x2 - c.x1:.4f}:ih*{c.y2 - c.y1:.4f}:iw*{c.x1:.4f}:ih*{c.y1:.4f},"
        f"scale={width}:-2"
    )
    return [
        "ffmpeg", "-nostdin", "-v", "error", "-y", "-ss", f"{max(0.0, offset_s):.3f}",
        "-i", str(source), "-frames:v", "1", "-vf", area, "-q:v", "4", str(target),
    ]  # fmt: skip


def cut_still(source: Path, offset_s: float, crop: Crop, target: Path, timeout_s: float = 15.0
              ) -> Path:  # fmt: skip
    """Write ``target`` (atomically: a temporary file of this call's own, renamed) unless
    it is there already; MediaError when the recording cannot give that frame in time."""
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.stem}.{secrets.token_hex(6)}.partial.jpg")
    try:
        done = subprocess.run(still_command(source, offset_s, crop, partial),
                              capture_output=True, timeout=timeout_s)  # fmt: skip
    except subprocess.TimeoutExpired as e:
        partial.unlink(missing_ok=True)
        raise MediaError(f"cutting a still from {source.name} took over {timeout_s:g} s") from e
    if done.returncode != 0 or not partial.is_file() or partial.stat().st_size == 0:
        partial.unlink(missing_ok=True)
        detail = done.stderr.decode(errors="replace").strip()[-200:]
        raise MediaError(f"cannot cut a still from {source.name}: {detail or 'no frame there'}")
    partial.rename(target)
    return target


class StillsBusy(RoninError):
    """Too many stills are being cut right now (HTTP 503 with Retry-After)."""


@dataclass
class StillCutter:
    """Stills for many users at once, within bounds: each user cuts at most ``per_user``
    at a time and everyone together ``at_once`` (ffmpeg is a process each); a still that
    could not be cut is not tried again for ``failure_s`` (asking again and again for a
    purged moment starts no ffmpeg)."""

    per_user: int = 2
    at_once: int = 4
    failure_s: float = 300.0
    timeout_s: float = 15.0
    clock: Callable[[], float] = time.monotonic
    _failures: dict[Path, tuple[float, str]] = field(default_factory=dict)
    _running: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def cut(self, who: str, source: Path, offset_s: float, crop: Crop, target: Path) -> Path:
        if target.is_file():
            return target
        with self._lock:
            failed = self._failures.get(target)
            if failed is not None and failed[0] > self.clock():
                raise MediaError(failed[1])
            if self._running[who] >= self.per_user or self._running.total() >= self.at_once:
                raise StillsBusy("stills are being cut for you already: try again in a moment")
            self._running[who] += 1
        try:
            return cut_still(source, offset_s, crop, target, self.timeout_s)
        except MediaError as e:
            with self._lock:
                if len(self._failures) > 10_000:
                    self._failures.clear()
                self._failures[target] = (self.clock() + self.failure_s, str(e))
            raise
        finally:
            with self._lock:
                self._running[who] -= 1
