"""Read ffmpeg's stderr (pure): one clear reason a person can act on, and the streams
it writes."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_REASONS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"401 Unauthorized|authorization failed", re.I),
     "401 Unauthorized: wrong user name or password"),
    (re.compile(r"403 Forbidden", re.I), "403 Forbidden: the camera refused this user"),
    (re.compile(r"404 Not Found", re.I), "404 Not Found: no stream at this RTSP path"),
    (re.compile(r"Connection refused", re.I),
     "connection refused: nothing listens on this host and port"),
    (re.compile(r"No route to host|Network is unreachable|Host is unreachable", re.I),
     "host unreachable"),
    (re.compile(r"Name or service not known|Temporary failure in name resolution|"
                r"Failed to resolve hostname", re.I),
     "unknown host name"),
    (re.compile(r"Connection timed out|timed out|timeout", re.I),
     "timeout: the camera did not answer"),
    (re.compile(r"Stream map '0:v:0' matches no streams|does not contain any stream|"
                r"Output file #0 does not contain any stream", re.I),
     "no video stream at this URL"),
    (re.compile(r"No space left on device", re.I), "disk full: no space left on device"),
    (re.compile(r"stopped growing on disk", re.I),
     "recording stalled: the segment file stopped growing on disk"),
    (re.compile(r"Permission denied", re.I), "permission denied writing recordings"),
    (re.compile(r"Connection reset by peer|End of file|Broken pipe", re.I),
     "the camera closed the connection"),
    (re.compile(r"Invalid data found when processing input", re.I),
     "invalid data from the camera"),
]  # fmt: skip


_PLAIN_REASONS = frozenset(reason for _, reason in _REASONS) | {
    "the camera ended the stream (it closed the connection)",
}
_PLAIN_FORMS = re.compile(r"ffmpeg (exited with code -?\d+|was killed \(signal \d+\))")


def redacted_reason(reason: str | None) -> str | None:
    """What a viewer may read of why a camera is down: one of the fixed reasons above, or
    a generic one. Anything else may carry a URL, a host or a password from the camera's
    stream address (DVRs put them in the query), so it is for admins only."""
    if reason is None or reason in _PLAIN_REASONS or _PLAIN_FORMS.fullmatch(reason):
        return reason
    return "the camera is unavailable (an admin sees why)"


_UNPROBED = re.compile(
    r"Could not find codec parameters|unspecified (size|pixel format|sample)|"
    r"dimensions not set|Could not write header",
    re.I,
)


def needs_probing(lines: Iterable[str]) -> bool:
    """Whether ffmpeg failed for want of stream parameters it would find by reading
    more of the stream first."""
    return any(_UNPROBED.search(line) for line in lines)


def summarise(lines: Iterable[str]) -> str | None:
    """The most telling reason found in ``lines`` (the last matching line wins)."""
    found = None
    for line in lines:
        for pattern, reason in _REASONS:
            if pattern.search(line):
                found = reason
                break
    return found


_VIDEO = re.compile(r"Stream #0:\d+.*?: Video: (\w+)")
_AUDIO = re.compile(r"Stream #0:\d+.*?: Audio: (\w+)")
_SIZE = re.compile(r", (\d{2,5})x(\d{2,5})")
_FPS = re.compile(r", ([\d.]+) fps")
_TBR = re.compile(r", ([\d.]+) tbr")  # the guessed rate, when a quick start left out fps


@dataclass(frozen=True, slots=True)
class OutputStreams:
    """What ffmpeg writes, as it announces under ``Output #0``."""

    video_codec: str
    width: int
    height: int
    fps: float
    audio_codec: str | None


def output_streams(lines: Iterable[str]) -> OutputStreams | None:
    """Parse the streams listed after ``Output #0`` (None until they are all there)."""
    in_output, video, audio = False, None, None
    for line in lines:
        if "Output #0" in line:
            in_output = True
        elif in_output and (match := _VIDEO.search(line)):
            video = line, match.group(1)
        elif in_output and (match := _AUDIO.search(line)):
            audio = match.group(1)
    if video is None:
        return None
    line, codec = video
    size, fps = _SIZE.search(line), _FPS.search(line) or _TBR.search(line)
    return OutputStreams(
        video_codec=codec,
        width=int(size.group(1)) if size else 0,
        height=int(size.group(2)) if size else 0,
        fps=float(fps.group(1)) if fps else 0.0,
        audio_codec=audio,
    )


_OPENING = re.compile(r"^\[(\w+) @ [^\]]*\] Opening '(.+)' for writing$")


def opened_file(line: str) -> tuple[str, str] | None:
    """(muxer, path) when the line says ffmpeg opened a file for writing: the segment
    muxer starting a new recording file, the HLS muxer a live segment or playlist."""
    match = _OPENING.match(line)
    return (match.group(1), match.group(2)) if match else None
