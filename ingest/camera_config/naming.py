"""File-system names for cameras and segments (pure).

A camera's folder is its name made safe: no path separators, no ``..``, no control
characters, no leading dots, at most 100 characters; unicode letters stay readable.
Folders are unique among cameras: a clash gets `` (2)``, `` (3)``, ...

A segment is stored at ``{folder}/{YYYY-MM-DD}/HH-MM-SS.mp4``: the date and time of its
first frame in the local time zone of the ingest machine (the ``TZ`` environment
variable, else the system zone). Event times are UTC; only file names use local time.
Two segments starting in the same second get ``-1``, ``-2``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from datetime import datetime
from pathlib import PurePosixPath

_UNSAFE = re.compile(r"[/\\:*?\"<>|\x00-\x1f\x7f]")
_MAX = 100


def safe_directory(name: str) -> str:
    """The camera name as one safe path component (never empty, never . or ..)."""
    text = unicodedata.normalize("NFC", name)
    text = "".join(" " if unicodedata.category(c).startswith("C") else c for c in text)
    text = _UNSAFE.sub("_", text)
    text = re.sub(r"\s+", " ", text).strip().lstrip(".").strip()
    text = text[:_MAX].rstrip()
    return text or "camera"


def unique_directory(name: str, taken: Collection[str]) -> str:
    """A safe folder for a new camera, distinct (case-insensitively) from ``taken``."""
    base = safe_directory(name)
    used = {t.casefold() for t in taken}
    candidate, n = base, 1
    while candidate.casefold() in used:
        n += 1
        candidate = f"{base[: _MAX - 6]} ({n})"
    return candidate


def segment_path(directory: str, start_local: datetime, suffix: int = 0) -> str:
    """``{directory}/{YYYY-MM-DD}/HH-MM-SS[-suffix].mp4`` relative to the storage root."""
    stem = start_local.strftime("%H-%M-%S") + (f"-{suffix}" if suffix else "")
    return str(PurePosixPath(directory, start_local.strftime("%Y-%m-%d"), f"{stem}.mp4"))
