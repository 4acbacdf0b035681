"""Stills cut from the recording: a tracked object's thumbnail, from its best sighting.

The detector keeps no pictures of recorded footage (pixels stay in the files), so a
thumbnail is cut when first asked for: ffmpeg seeks the segment to the moment, crops the
object's box with some room around it, and writes a small JPEG that is kept under
``.snapshots/tracks/`` (aged out with the other snapshots). The command is pure.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from events.errors import MediaError


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


def cut_still(source: Path, offset_s: float, crop: Crop, target: Path) -> Path:
    """Write ``target`` (atomically) unless it is there already; MediaError when the
    recording cannot give that frame."""
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.stem + ".partial.jpg")
    done = subprocess.run(
        still_command(source, offset_s, crop, partial), capture_output=True, timeout=30
    )
    if done.returncode != 0 or not partial.is_file() or partial.stat().st_size == 0:
        partial.unlink(missing_ok=True)
        detail = done.stderr.decode(errors="replace").strip()[-200:]
        raise MediaError(f"cannot cut a still from {source.name}: {detail or 'no frame there'}")
    partial.rename(target)
    return target
