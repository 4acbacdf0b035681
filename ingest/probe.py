"""ffprobe a recorded file into the facts SegmentClosed carries."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from events.errors import RoninError


class ProbeFailed(RoninError):
    """ffprobe could not read a media file (truncated, corrupt, not media)."""


class EmptyMedia(ProbeFailed):
    """The file is well-formed but holds no footage (headers only)."""


@dataclass(frozen=True, slots=True)
class MediaInfo:
    duration_s: float
    video_codec: str
    width: int
    height: int
    fps: float
    audio_codec: str | None


def _rate(text: str | None) -> float:
    try:
        value = float(Fraction(text or "0"))
    except (ValueError, ZeroDivisionError):
        return 0.0
    return value if 0 < value < 1000 else 0.0


def parse_probe(output: str) -> MediaInfo:
    """Pure: ffprobe's JSON (``-show_streams -show_format``) into MediaInfo."""
    data = json.loads(output)
    streams = data.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    if video is None:
        raise ProbeFailed("no video stream")
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    try:
        duration = float(data.get("format", {}).get("duration") or video.get("duration") or 0)
    except ValueError:
        duration = 0.0
    return MediaInfo(
        duration_s=max(0.0, duration),
        video_codec=str(video.get("codec_name", "unknown")),
        width=int(video.get("width") or 0),
        height=int(video.get("height") or 0),
        fps=_rate(video.get("avg_frame_rate")) or _rate(video.get("r_frame_rate")),
        audio_codec=str(audio["codec_name"]) if audio and audio.get("codec_name") else None,
    )


def probe(path: Path, timeout_s: float = 30) -> MediaInfo:
    try:
        result = subprocess.run(
            ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ProbeFailed(f"{path.name}: ffprobe failed: {e}") from e
    if result.returncode != 0:
        raise ProbeFailed(f"{path.name}: {result.stderr.strip()[-300:] or 'unreadable'}")
    try:
        info = parse_probe(result.stdout)
    except (json.JSONDecodeError, TypeError) as e:
        raise ProbeFailed(f"{path.name}: unexpected ffprobe output") from e
    if info.duration_s <= 0:
        raise EmptyMedia(f"{path.name}: no media in the file")
    return info
