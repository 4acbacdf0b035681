"""Any time range of a camera's footage as one MP4, made on the fly, never written.

``GET /api/cameras/{id}/footage.mp4?start=&end=`` answers one fragmented MP4 of the
segments that cover ``[start, end)`` (the one being written included) by stream copy,
without re-encoding or even copying: its bytes are the first segment's init segment,
the chosen fragments of each segment (their ``moof`` boxes with decode times moved onto
one timeline, their media read straight from the segment files) and an index of the
keyframes at the end (``ingest/live/virtual_mp4.py``). So a ``<video>`` plays and seeks
it across segment files, midnight and days, range requests and all, at once and for
any length up to ``MAX_SPAN_S``. It starts at the keyframe at or before ``start``;
media time is wall-clock time since that frame (a gap in the recording is a gap in
media time).

Segment indexes (box headers and ``moof`` boxes) are kept per file, size and time, and
the layout of a range for a minute, so the range requests a player makes (each seek is
one) read each segment's index once and plan the range once; a request rewrites only
the ``moof`` boxes of the bytes it asked for, as they are sent. Each user has at most
a few footage requests in flight (429 beyond).
"""

from __future__ import annotations

import functools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response, StreamingResponse

from api.deps import MEDIA, Connection, Media
from api.inputs import Instant
from api.recordings import byte_range, segment_file
from api.stream_quota import StreamQuota, TooManyStreams
from ingest.live.virtual_mp4 import FileIndex, Layout, Part, Source, index_file, plan_range
from projector.readmodels import segments

router = APIRouter(prefix="/api", tags=["recordings"])

MAX_SPAN_S = 24 * 3600
"""The longest range served at once: a day (the player asks for the next as it plays)."""
_CHUNK = 256 * 1024


def footage_resource(camera_id: UUID) -> str:
    return f"footage:{camera_id}"


def footage_camera(camera_id: UUID, grant: Media) -> UUID:
    """A camera whose footage the token opens (others do not exist for the caller); a
    dependency, so it answers before the range is even read."""
    if not grant.opens(footage_resource(camera_id), camera_id):
        raise HTTPException(404, "no such camera")
    return camera_id


@functools.lru_cache(maxsize=512)
def _indexed(path: Path, size: int, mtime_ns: int) -> FileIndex | None:
    return index_file(path)


SourceKey = tuple[tuple[str, int, int, datetime], ...]
"""The recordings a layout is made of: (path, size, mtime, start) each."""


def _sources(conn: Connection, camera_id: UUID, start: datetime, end: datetime,
             root: Path) -> tuple[SourceKey, list[Source]]:  # fmt: skip
    """The recordings covering ``[start, end)`` in time order, the one being written too,
    and what identifies them (a file that grew is another source)."""
    rows = [(r.path, r.start_at, False)
            for r in segments.overlapping(conn, camera_id, start, end)]  # fmt: skip
    growing = segments.open_segment(conn, camera_id)
    if growing is not None and growing.start_at < end:
        rows.append((growing.path, growing.start_at, True))
    key, found = [], []
    for relative, begins, is_growing in sorted(rows, key=lambda r: r[1]):
        try:
            path = segment_file(root, relative)
            stat = path.stat()
            index = _indexed(path, stat.st_size, stat.st_mtime_ns)
        except (HTTPException, OSError):
            continue  # purged, or a run that ended without closing it
        if index is not None:
            # The file being written grows twice a second: a layout keeps what it had
            # when planned, so that a player's range requests see one size throughout.
            size, mtime = (0, 0) if is_growing else (stat.st_size, stat.st_mtime_ns)
            key.append((str(path), size, mtime, begins))
            found.append(Source(index, begins))
    return tuple(key), found


@dataclass
class LayoutCache:
    """Layouts of recent ranges: a player's range requests (and its seeks) ask for the
    same range again and again, and a day's layout is ~170,000 fragments to plan. Kept
    for ``ttl_s`` while its closed recordings are unchanged; the one being written
    counts as unchanged until it closes (the layout serves what it held then)."""

    size: int = 16
    ttl_s: float = 60.0
    _kept: OrderedDict[object, tuple[float, Layout | None]] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, key: object, make: Callable[[], Layout | None]) -> Layout | None:
        now = time.monotonic()
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None and now - kept[0] < self.ttl_s:
                self._kept.move_to_end(key)
                return kept[1]
        layout = make()
        with self._lock:
            self._kept[key] = (now, layout)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
        return layout


def _body(parts: Iterator[Part], release: Callable[[], None]) -> Iterator[bytes]:
    """The bytes of the parts asked for, read as they are sent (at most a chunk held)."""
    try:
        for part in parts:
            if isinstance(part, bytes):
                yield part
                continue
            path, offset, length = part
            with path.open("rb") as file:
                file.seek(offset)
                while length > 0 and (data := file.read(min(_CHUNK, length))):
                    length -= len(data)
                    yield data
    finally:
        release()


@router.get(
    "/cameras/{camera_id}/footage.mp4",
    response_class=Response,
    responses={206: {"description": "the requested byte range"},
               404: {"description": "no recording in that range"},
               416: {"description": "the range asks for nothing there is"},
               429: {"description": "this user has as many footage streams as allowed"}},
    **MEDIA,
)  # fmt: skip
def footage(
    camera_id: Annotated[UUID, Depends(footage_camera)],
    request: Request,
    conn: Connection,
    grant: Media,
    start: Instant,
    end: Instant,
) -> Response:
    """``[start, end)`` of the camera's footage as one fragmented, seekable MP4 (stream
    copy, from the keyframe at or before ``start``); Range requests honoured.

    ``end`` must follow ``start``, by at most a day (422 otherwise)."""
    if end <= start:
        raise HTTPException(422, "end must follow start")
    if (end - start).total_seconds() > MAX_SPAN_S:
        raise HTTPException(422, f"at most {MAX_SPAN_S // 3600} hours at once")
    user = grant.user.username
    quota: StreamQuota = request.app.state.stream_quota
    try:
        quota.take("footage", user)
    except TooManyStreams as e:
        raise HTTPException(429, str(e), {"Retry-After": "2"}) from e
    try:
        key, sources = _sources(conn, camera_id, start, end, request.app.state.storage_root)
        cache: LayoutCache = request.app.state.footage_layouts
        layout = cache.get((start, end, key), lambda: plan_range(sources, start, end))
        if layout is None:
            raise HTTPException(404, "no recording in that time range")
        wanted = byte_range(request.headers.get("range"), layout.size)
    except BaseException:
        quota.give_back("footage", user)
        raise
    first, last = wanted or (0, layout.size)
    headers = {"content-length": str(last - first), "accept-ranges": "bytes",
               "cache-control": "no-store"}  # fmt: skip
    if layout.origin is not None:
        headers["x-footage-start"] = layout.origin.isoformat()
    if wanted is not None:
        headers["content-range"] = f"bytes {first}-{last - 1}/{layout.size}"
    return StreamingResponse(
        _body(layout.slices(first, last), lambda: quota.give_back("footage", user)),
        206 if wanted else 200, headers=headers, media_type="video/mp4",
    )  # fmt: skip
