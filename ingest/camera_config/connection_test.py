"""Test an RTSP URL before a camera is saved: ffprobe with a timeout, and a clear answer."""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ingest.camera_config.credentials import endpoint
from ingest.ffmpeg_log import summarise
from ingest.probe import ProbeFailed, parse_probe
from ingest.recorder import redact
from ingest.source_input import probe_input, script_text, write_script


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
    with tempfile.TemporaryDirectory(prefix="ronin-test-") as private:  # mode 0700
        return _probe(url, timeout_s, Path(private) / "source.ffconcat")


def _probe(url: str, timeout_s: float, script: Path) -> ConnectionResult:
    camera = [("rtsp_transport", "tcp"), ("timeout", str(int(timeout_s * 1_000_000)))]
    text = script_text(url, camera, [])
    if text is not None:  # the password stays off the command line
        write_script(script, text)
    options, source = probe_input(url, camera, [], script)
    command = ["ffprobe", "-v", "error", *options, "-show_streams", "-show_format",
               "-of", "json", source]  # fmt: skip
    started = time.monotonic()
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout_s + 5, check=False
        )
    except subprocess.TimeoutExpired:
        return ConnectionResult(False, _silent(url, timeout_s))
    if result.returncode != 0:
        if time.monotonic() - started >= timeout_s * 0.9:  # ffprobe gave up waiting
            return ConnectionResult(False, _silent(url, timeout_s))
        lines = [redact(line) for line in result.stderr.splitlines()]
        return ConnectionResult(False, summarise(lines) or (lines[-1] if lines else "failed"))
    try:
        info = parse_probe(result.stdout)
    except ProbeFailed:
        return ConnectionResult(False, "no video stream at this URL")
    except ValueError:
        return ConnectionResult(False, "unexpected answer from the camera")
    return ConnectionResult(True, "ok", info.video_codec, info.width, info.height, info.audio_codec)


def _silent(url: str, timeout_s: float) -> str:
    """A timeout in words: did the camera take the connection at all?"""
    _, host, port = endpoint(url)
    try:
        socket.create_connection((host, port or 554), timeout=2).close()
    except OSError:
        return f"timeout: {host}:{port} did not answer in {timeout_s:.0f} s"
    return f"timeout: the camera accepted the connection but sent nothing in {timeout_s:.0f} s"


test_connection.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
