"""Recordings: days with footage, a day's timeline, segment lists, MP4 with HTTP ranges.

IDs in URLs, never paths: a segment is found by its id in the read model, and its file
must resolve (symlinks followed) inside the storage root.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, Response, StreamingResponse
from pydantic import BaseModel

from api.deps import MEDIA, SIGNED_IN, Connection, Media, VisibleCamera
from api.inputs import CONTROL_FREE, Day, Instant, TimeZoneName
from api.timeline import Span, day_bounds, gaps
from projector.readmodels import detections, jobs, motion, segments, tracks

router = APIRouter(prefix="/api", tags=["recordings"])


class Segment(BaseModel):
    segment_id: UUID
    start: datetime
    end: datetime
    duration_s: float
    bytes: int
    video_codec: str
    width: int
    height: int
    recovered: bool
    open: bool = False
    """Still being written: ``end`` is its last flushed fragment, and it grows."""


class Gap(BaseModel):
    start: datetime
    end: datetime


class Marker(BaseModel):
    """Detections of one class close together in time (see ``api.timeline.markers``)."""

    label: str
    start: datetime
    end: datetime
    count: int
    max_confidence: float


class TrackBar(BaseModel):
    """A tracked object from when it was first to when it was last seen."""

    track_id: UUID
    label: str
    start: datetime
    end: datetime
    stationary: bool


class MotionBar(BaseModel):
    """A stretch of time in which the picture moved; ``peak``: the most of it that did."""

    start: datetime
    end: datetime
    peak: float


class DayTimeline(BaseModel):
    camera_id: UUID
    day: date
    timezone: str
    start: datetime
    end: datetime
    segments: list[Segment]
    gaps: list[Gap]
    model_id: str | None
    markers: list[Marker]
    tracks: list[TrackBar]
    motion: list[MotionBar]


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise HTTPException(422, f"unknown time zone {name!r}") from e


def _closed(row: segments.SegmentRow) -> Segment:
    return Segment(
        segment_id=row.segment_id, start=row.start_at, end=row.end_at,
        duration_s=row.duration_s, bytes=row.bytes, video_codec=row.video_codec,
        width=row.width, height=row.height, recovered=row.recovered,
    )  # fmt: skip


def _segments(conn: Connection, camera_id: UUID, window: Span, root: Path) -> list[Segment]:
    """Closed segments overlapping ``window``, then the one being written, if it does."""
    closed = [_closed(r) for r in segments.overlapping(conn, camera_id, window.start, window.end)]
    growing = _open_segment(conn, camera_id, root)
    if growing is None or growing.end <= window.start or growing.start >= window.end:
        return closed
    return [*closed, growing]


def _open_segment(conn: Connection, camera_id: UUID, root: Path) -> Segment | None:
    """The segment the camera is writing, ending where its file ends now (None when
    there is none, or its file is gone: the run ended without closing it)."""
    row = segments.open_segment(conn, camera_id)
    if row is None:
        return None
    try:
        stat = (root / row.path).stat()
    except OSError:
        return None
    end = max(row.start_at, datetime.fromtimestamp(stat.st_mtime, UTC))
    return Segment(
        segment_id=row.segment_id, start=row.start_at, end=end,
        duration_s=(end - row.start_at).total_seconds(), bytes=stat.st_size,
        video_codec=row.video_codec, width=row.width, height=row.height, recovered=False,
        open=True,
    )  # fmt: skip


@router.get("/cameras/{camera_id}/days", response_model=list[date], **SIGNED_IN)
def days_with_footage(
    camera_id: VisibleCamera, conn: Connection, timezone: TimeZoneName = "UTC"
) -> list[date]:
    """Calendar days (in ``timezone``) that hold footage of this camera."""
    return segments.days_with_footage(conn, camera_id, _zone(timezone).key)


@router.get("/cameras/{camera_id}/timeline", response_model=DayTimeline, **SIGNED_IN)
def day_timeline(
    camera_id: VisibleCamera,
    request: Request,
    conn: Connection,
    day: Annotated[Day, Query(description="YYYY-MM-DD")],
    timezone: TimeZoneName = "UTC",
    model_id: str | None = Query(
        None,
        description="whose detections; default the primary",
        max_length=200,
        pattern=CONTROL_FREE,
    ),
) -> DayTimeline:
    """A day's segments, the gaps between them, detection markers by class, tracked
    objects as bars, and when the picture moved."""
    zone = _zone(timezone)
    window = day_bounds(day, zone)
    segments = _segments(conn, camera_id, window, request.app.state.storage_root)
    holes = gaps([Span(s.start, s.end) for s in segments], window)
    model = model_id or jobs.primary_model(conn)
    return DayTimeline(
        camera_id=camera_id, day=day, timezone=zone.key, start=window.start, end=window.end,
        segments=segments, gaps=[Gap(start=g.start, end=g.end) for g in holes],
        model_id=model, markers=_markers(conn, camera_id, window, model),
        tracks=_tracks(conn, camera_id, window, model),
        motion=[MotionBar(start=m.start_at, end=m.end_at, peak=m.peak)
                for m in motion.between(conn, camera_id, window.start, window.end)],
    )  # fmt: skip


def _markers(conn: Connection, camera_id: UUID, window: Span, model_id: str | None) -> list[Marker]:
    if model_id is None:
        return []
    found = detections.markers(conn, camera_id, model_id, window.start, window.end)
    return [
        Marker(
            label=m.label, start=m.start, end=m.end, count=m.count, max_confidence=m.max_confidence
        )
        for m in found
    ]


def _tracks(
    conn: Connection, camera_id: UUID, window: Span, model_id: str | None
) -> list[TrackBar]:
    if model_id is None:
        return []
    where = tracks.TrackFilter(model_id=model_id, camera_id=camera_id, start=window.start,
                               end=window.end)  # fmt: skip
    return [
        TrackBar(
            track_id=t.track_id,
            label=t.label,
            start=t.start,
            end=t.last_seen,
            stationary=t.stationary,
        )
        for t in tracks.search(conn, where, limit=5000)
    ]


@router.get("/cameras/{camera_id}/segments", response_model=list[Segment], **SIGNED_IN)
def list_segments(
    camera_id: VisibleCamera,
    request: Request,
    conn: Connection,
    start: Instant,
    end: Instant,
) -> list[Segment]:
    """Segments overlapping ``[start, end)`` (ISO 8601 with a time zone), the one being
    written included."""
    if end <= start:
        return []  # no footage in an empty window
    return _segments(conn, camera_id, Span(start, end), request.app.state.storage_root)


def segment_file(root: Path, relative: str) -> Path:
    """The file of a segment, refused if it resolves outside the storage root."""
    base = root.resolve()
    path = (base / relative).resolve()
    if not path.is_relative_to(base) or not path.is_file():
        raise HTTPException(404, "the recording is not on disk")
    return path


@router.get(
    "/segments/{segment_id}/video",
    response_class=FileResponse,
    responses={
        206: {"description": "the requested byte range"},
        416: {"description": "the range asks for nothing there is"},
    },
    **MEDIA,
)
def segment_video(segment_id: UUID, request: Request, grant: Media, conn: Connection) -> Response:
    """The segment as MP4; honours Range requests (206 with an exact Content-Range). The
    segment being written is served as far as it is written (fragmented MP4 plays up to
    its last fragment); fetch it again to see more."""
    found = segments.file_of(conn, segment_id)  # an open segment's id finds it once closed
    if found is None or not grant.opens(f"segment:{segment_id}", found.camera_id):
        raise HTTPException(404, "no such segment")
    path = segment_file(request.app.state.storage_root, found.path)
    if found.path.startswith(".incoming/"):
        return growing_file(path, request.headers.get("range"))
    return FileResponse(path, media_type="video/mp4", filename=path.name)


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The ``[start, end)`` a single-range ``Range`` header asks of ``size`` bytes (None:
    the whole file); 416 when it asks for nothing there is."""
    if not header:
        return None
    unit, _, spec = header.partition("=")
    first, dash, last = spec.strip().partition("-")
    if unit.strip() != "bytes" or not dash or "," in spec:
        return None  # not one we serve in part: the whole file, as RFC 9110 allows
    try:
        if first:
            start, end = int(first), (int(last) + 1 if last else size)
        else:
            start, end = max(0, size - int(last)), size
    except ValueError:
        return None
    if start >= size or start < 0 or end <= start:
        raise HTTPException(416, f"bytes {header!r} are not in the {size}-byte recording")
    return start, min(end, size)


def growing_file(path: Path, range_header: str | None, chunk: int = 256 * 1024) -> Response:
    """A file ffmpeg is still writing, as far as it is written now: exactly the bytes it
    had when asked (a growing file must not overrun its Content-Length)."""
    size = path.stat().st_size
    wanted = byte_range(range_header, size)
    start, end = wanted or (0, size)

    def read() -> Iterator[bytes]:
        with open(path, "rb") as file:
            file.seek(start)
            left = end - start
            while left > 0 and (data := file.read(min(chunk, left))):
                left -= len(data)
                yield data

    headers = {"content-length": str(end - start), "accept-ranges": "bytes",
               "cache-control": "no-store"}  # fmt: skip
    if wanted is not None:
        headers["content-range"] = f"bytes {start}-{end - 1}/{size}"
    status = 206 if wanted is not None else 200
    return StreamingResponse(read(), status, headers=headers, media_type="video/mp4")
