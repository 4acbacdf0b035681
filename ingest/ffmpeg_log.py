"""Turn ffmpeg's stderr into one clear reason a person can act on (pure)."""

from __future__ import annotations

import re
from collections.abc import Iterable

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
    (re.compile(r"Permission denied", re.I), "permission denied writing recordings"),
    (re.compile(r"Connection reset by peer|End of file|Broken pipe", re.I),
     "the camera closed the connection"),
    (re.compile(r"Invalid data found when processing input", re.I),
     "invalid data from the camera"),
]  # fmt: skip


def summarise(lines: Iterable[str]) -> str | None:
    """The most telling reason found in ``lines`` (the last matching line wins)."""
    found = None
    for line in lines:
        for pattern, reason in _REASONS:
            if pattern.search(line):
                found = reason
                break
    return found
