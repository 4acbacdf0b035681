"""Frames out of recordings: ffmpeg decodes, scales and samples; Python reads raw BGR.

The sampling plan is pure (:func:`sample_command`, :func:`scaled_size`); :func:`read_frames`
is the shell around one ffmpeg process. ffmpeg's ``fps`` filter picks the frames (the
decoder still sees every frame, which H.264/H.265 needs for P-frames) and scales them
down before they cross the pipe. ``bench/detector_bench.py`` compares it with decoding
keyframes only (``-skip_frame nokey``) and with OpenCV seeking.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from detector.model import Frame
from events.errors import MediaError


@dataclass(frozen=True, slots=True)
class SamplePlan:
    fps: float
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class SampledFrame:
    index: int
    """The n-th sampled frame (0-based)."""
    offset_s: float
    """Seconds from the start of the segment."""
    image: Frame


def scaled_size(width: int, height: int, max_width: int = 640) -> tuple[int, int]:
    """The decode size: at most ``max_width`` wide, aspect kept, both sides even."""
    if width <= 0 or height <= 0:
        raise MediaError(f"a video of {width}x{height} has no picture")
    w = min(width, max_width)
    h = max(2, round(height * w / width / 2) * 2)
    return w - w % 2, h


def sample_command(source: str, plan: SamplePlan, ffmpeg: str = "ffmpeg") -> list[str]:
    """ffmpeg arguments that write sampled frames as raw BGR to stdout."""
    filters = f"fps={plan.fps:g}:round=down,scale={plan.width}:{plan.height}:flags=fast_bilinear"
    return [
        ffmpeg,
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-i",
        source,
        "-an",
        "-sn",
        "-vf",
        filters,
        "-f",
        "rawvideo",
        "-pix_fmt",
        "bgr24",
        "pipe:1",
    ]


def _feed(process: subprocess.Popen[bytes], data: bytes) -> None:
    assert process.stdin is not None
    try:
        process.stdin.write(data)
        process.stdin.close()
    except (BrokenPipeError, ValueError, OSError):
        pass


def read_frames(
    source: Path | str, plan: SamplePlan, stdin_data: bytes | None = None
) -> Iterator[SampledFrame]:
    """Decode ``source`` (a file, or ``-`` with ``stdin_data``) into sampled frames."""
    size = plan.width * plan.height * 3
    command = sample_command(str(source), plan)
    if stdin_data is not None:
        command[1] = "-y"  # allow stdin (replaces -nostdin)
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except OSError as e:
        raise MediaError(f"cannot run ffmpeg: {e}") from e
    assert process.stdout is not None and process.stderr is not None
    if stdin_data is not None:  # fed from a thread: ffmpeg writes while it reads
        threading.Thread(target=_feed, args=(process, stdin_data), daemon=True).start()
    index = 0
    try:
        while True:
            chunk = process.stdout.read(size)
            if len(chunk) < size:
                break
            image = np.frombuffer(chunk, dtype=np.uint8).reshape(plan.height, plan.width, 3)
            yield SampledFrame(index, index / plan.fps, image)
            index += 1
    finally:
        process.stdout.close()
        error = process.stderr.read().decode(errors="replace").strip()
        process.stderr.close()
        code = process.wait()
    if code != 0 and index == 0:
        raise MediaError(f"ffmpeg could not decode {source}: {error[-300:] or code}")
