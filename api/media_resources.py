"""What a media token opens: one resource, named from the URL it is for (pure).

A ``<video>`` or ``<img>`` cannot send a header, so media URLs carry a token in the
query, where it may leak (history, logs, a shared screenshot). So a media token names
the one thing it opens (a camera's live stream, a segment, a snapshot, an export) and
lives minutes; the players ask for a new one before it runs out.
"""

from __future__ import annotations

import re

_UUID = r"([0-9a-fA-F-]{36})"
_PATHS = (
    (rf"/api/cameras/{_UUID}/live/[^/?#\x00-\x20\x7f]+", "live"),
    (rf"/api/segments/{_UUID}/video", "segment"),
    (rf"/api/alerts/{_UUID}/snapshot", "snapshot"),
    (rf"/api/exports/{_UUID}/download", "export"),
    (rf"/api/tracks/{_UUID}/thumbnail", "thumbnail"),
    (rf"/api/cameras/{_UUID}/footage\.mp4", "footage"),
)
_KINDS = tuple((re.compile(f"^{path}$"), kind) for path, kind in _PATHS)

MEDIA_PATH = "^(" + "|".join(path for path, _ in _PATHS) + r")(\?[^\x00-\x1f\x7f]*)?$"
"""Every media URL's path (a query may follow), for the document: what a media token
may be asked for."""

LIVE_TOKEN_S = 300
"""A live stream's token: the player asks for a new one each few minutes."""
MEDIA_TOKEN_S = 1800
"""A recording's: long enough to watch a 15-minute segment (its range requests carry
the token it was opened with), with pauses."""


def live_resource(camera_id: object) -> str:
    return f"live:{camera_id}"


def resource_of(path: str) -> str | None:
    """``/api/segments/<id>/video`` → ``segment:<id>``; None for anything else."""
    for pattern, kind in _KINDS:
        found = pattern.match(path.split("?", 1)[0])
        if found:
            return f"{kind}:{found.group(1).lower()}"
    return None
