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

Segment indexes (box headers and ``moof`` boxes) are kept per file, size and time, so
the range requests a player makes read each segment's index once.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response, StreamingResponse

from api.deps import MEDIA, Connection, Media
from api.recordings import byte_range, segment_file
from ingest.live.virtual_mp4 import FileIndex, Layout, Source, index_file, plan_range
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


def _index(path: Path) -> FileIndex | None:
    stat = path.stat()
    return _indexed(path, stat.st_size, stat.st_mtime_ns)


def _sources(conn: Connection, camera_id: UUID, start: datetime, end: datetime,
             root: Path) -> list[Source]:  # fmt: skip
    """The recordings covering ``[start, end)`` in time order, the one being written too."""
    rows = [(r.path, r.start_at) for r in segments.overlapping(conn, camera_id, start, end)]
    growing = segments.open_segment(conn, camera_id)
    if growing is not None and growing.start_at < end:
        rows.append((growing.path, growing.start_at))
    found = []
    for relative, begins in sorted(rows, key=lambda r: r[1]):
        try:
            index = _index(segment_file(root, relative))
        except (HTTPException, OSError):
            continue  # purged, or a run that ended without closing it
        if index is not None:
            found.append(Source(index, begins))
    return found


def _body(layout: Layout, start: int, end: int) -> Iterator[bytes]:
    for part in layout.slices(start, end):
        if isinstance(part, bytes):
            yield part
            continue
        path, offset, length = part
        with path.open("rb") as file:
            file.seek(offset)
            while length > 0 and (data := file.read(min(_CHUNK, length))):
                length -= len(data)
                yield data


@router.get(
    "/cameras/{camera_id}/footage.mp4",
    response_class=Response,
    responses={206: {"description": "the requested byte range"},
               404: {"description": "no recording in that range"}},
    **MEDIA,
)  # fmt: skip
def footage(
    camera_id: Annotated[UUID, Depends(footage_camera)],
    request: Request,
    conn: Connection,
    start: datetime,
    end: datetime,
) -> Response:
    """``[start, end)`` of the camera's footage as one fragmented, seekable MP4 (stream
    copy, from the keyframe at or before ``start``); Range requests honoured."""
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        raise HTTPException(422, "start and end need a time zone, and end must follow start")
    if (end - start).total_seconds() > MAX_SPAN_S:
        raise HTTPException(422, f"at most {MAX_SPAN_S // 3600} hours at once")
    sources = _sources(conn, camera_id, start, end, request.app.state.storage_root)
    layout = plan_range(sources, start, end)
    if layout is None:
        raise HTTPException(404, "no recording in that time range")
    wanted = byte_range(request.headers.get("range"), layout.size)
    first, last = wanted or (0, layout.size)
    headers = {"content-length": str(last - first), "accept-ranges": "bytes",
               "cache-control": "no-store"}  # fmt: skip
    if layout.origin is not None:
        headers["x-footage-start"] = layout.origin.isoformat()
    if wanted is not None:
        headers["content-range"] = f"bytes {first}-{last - 1}/{layout.size}"
    return StreamingResponse(
        _body(layout, first, last), 206 if wanted else 200, headers=headers,
        media_type="video/mp4",
    )  # fmt: skip
