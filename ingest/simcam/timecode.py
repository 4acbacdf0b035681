"""Read the wall-clock time a simulated camera burned into a frame (exact, no OCR).

``rtsp_server.py`` draws the time in tenths of a second as 40 black or white squares
(two rows of 20, most significant bit first) of side ``max(8, width // 32)`` pixels,
starting one square from the top-left corner.
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

BITS, PER_ROW = 40, 20


def square_size(width: int) -> int:
    return max(8, width // 32)


def decode_timecode(gray: np.ndarray) -> datetime:
    """The time burned into a grey frame (``height`` by ``width`` uint8)."""
    s = square_size(gray.shape[1])
    code = 0
    for i in range(BITS):
        y = s + (i // PER_ROW) * s + s // 4
        x = s + (i % PER_ROW) * s + s // 4
        cell = gray[y : y + s // 2, x : x + s // 2]
        code = (code << 1) | int(cell.mean() > 128)
    return datetime.fromtimestamp(code / 10, UTC)


def first_frame_time(path: Path, width: int, height: int, seek_s: float = 0.0) -> datetime:
    """Decode the frame at ``seek_s`` of a recording and read its burned-in time."""
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-ss", f"{seek_s:.3f}", "-i", str(path), "-frames:v", "1",
         "-f", "rawvideo", "-pix_fmt", "gray", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    return decode_timecode(np.frombuffer(raw, np.uint8)[: width * height].reshape(height, width))
