"""Test an RTSP URL before a camera is saved: ffprobe with a timeout, and a clear answer."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from ingest.ffmpeg_log import summarise
from ingest.probe import ProbeFailed, parse_probe
from ingest.recorder import redact


@dataclass(frozen=True, slots=True)
class ConnectionResult:
    ok: bool
    reason: str
    video_codec: str | None = None
    width: int | None = None
    height: int | None = None
    audio_codec: str | None = None


def test_connection(url: str, timeout_s: float = 10.0) -> ConnectionResult:
    """Open the stream once (TCP) and say what is there, or what is wrong, in words."""
    command = [
        "ffprobe", "-v", "error", "-rtsp_transport", "tcp",
        "-timeout", str(int(timeout_s * 1_000_000)),
        "-show_streams", "-show_format", "-of", "json", url,
    ]  # fmt: skip
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout_s + 5, check=False
        )
    except subprocess.TimeoutExpired:
        return ConnectionResult(False, "timeout: the camera did not answer")
    if result.returncode != 0:
        lines = [redact(line) for line in result.stderr.splitlines()]
        return ConnectionResult(False, summarise(lines) or (lines[-1] if lines else "failed"))
    try:
        info = parse_probe(result.stdout)
    except ProbeFailed:
        return ConnectionResult(False, "no video stream at this URL")
    except ValueError:
        return ConnectionResult(False, "unexpected answer from the camera")
    return ConnectionResult(True, "ok", info.video_codec, info.width, info.height, info.audio_codec)


test_connection.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
