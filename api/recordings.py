"""Recordings: days with footage, a day's timeline, segment lists, MP4 with HTTP ranges.

IDs in URLs, never paths: a segment is found by its id in the read model, and its file
must resolve (symlinks followed) inside the storage root.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel

from api.deps import Connection, CurrentUser, MediaToken
from api.timeline import Span, day_bounds, gaps

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


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise HTTPException(422, f"unknown time zone {name!r}") from e


def _segments(conn: Connection, camera_id: UUID, window: Span) -> list[Segment]:
    rows = conn.execute(
        "SELECT segment_id, start_at, end_at, duration_s, bytes, video_codec, width, height,"
        " recovered FROM recordings.segments WHERE camera_id = %s AND end_at > %s"
        " AND start_at < %s ORDER BY start_at",
        (camera_id, window.start, window.end),
    ).fetchall()
    fields = list(Segment.model_fields)
    return [Segment(**dict(zip(fields, row, strict=True))) for row in rows]


@router.get("/cameras/{camera_id}/days", response_model=list[date])
def days_with_footage(
    camera_id: UUID, _user: CurrentUser, conn: Connection, timezone: str = "UTC"
) -> list[date]:
    """Calendar days (in ``timezone``) that hold footage of this camera."""
    zone = _zone(timezone)
    rows = conn.execute(
        "SELECT DISTINCT (start_at AT TIME ZONE %s)::date FROM recordings.segments"
        " WHERE camera_id = %s ORDER BY 1",
        (zone.key, camera_id),
    ).fetchall()
    return [row[0] for row in rows]


@router.get("/cameras/{camera_id}/timeline", response_model=DayTimeline)
def day_timeline(
    camera_id: UUID,
    _user: CurrentUser,
    conn: Connection,
    day: date = Query(..., description="YYYY-MM-DD"),
    timezone: str = "UTC",
    model_id: str | None = Query(None, description="whose detections; default the primary"),
) -> DayTimeline:
    """A day's segments, the gaps between them, and detection markers by class."""
    zone = _zone(timezone)
    window = day_bounds(day, zone)
    segments = _segments(conn, camera_id, window)
    holes = gaps([Span(s.start, s.end) for s in segments], window)
    model = model_id or primary_model(conn)
    return DayTimeline(
        camera_id=camera_id, day=day, timezone=zone.key, start=window.start, end=window.end,
        segments=segments, gaps=[Gap(start=g.start, end=g.end) for g in holes],
        model_id=model, markers=_markers(conn, camera_id, window, model),
    )  # fmt: skip


MARKERS_SQL = """
SELECT label, min(detected_at), max(detected_at), count(*), max(confidence)
FROM (
    SELECT label, detected_at, confidence,
           sum(new_run) OVER (PARTITION BY label ORDER BY detected_at) AS run
    FROM (
        SELECT label, detected_at, confidence,
               CASE WHEN detected_at - lag(detected_at) OVER (PARTITION BY label
                    ORDER BY detected_at) <= make_interval(secs => %s) THEN 0 ELSE 1 END
                   AS new_run
        FROM detections.detections
        WHERE camera_id = %s AND model_id = %s AND NOT live
          AND detected_at >= %s AND detected_at < %s
    ) AS marked
) AS runs
GROUP BY label, run
ORDER BY 2, 1
"""
"""``api.timeline.markers`` in SQL (gaps and islands), so only the markers leave the
database; tests check that both agree."""


def _markers(
    conn: Connection, camera_id: UUID, window: Span, model_id: str | None, merge_s: float = 10.0
) -> list[Marker]:
    if model_id is None:
        return []
    try:
        rows = conn.execute(
            MARKERS_SQL, (merge_s, camera_id, model_id, window.start, window.end)
        ).fetchall()
    except psycopg.errors.UndefinedTable:
        conn.rollback()
        return []
    return [
        Marker(label=label, start=start, end=end, count=count, max_confidence=best)
        for label, start, end, count, best in rows
    ]


def primary_model(conn: Connection) -> str | None:
    """The model whose detections are shown by default: the primary group's latest."""
    try:
        row = conn.execute(
            "SELECT model_id FROM detections.jobs WHERE NOT reprocess"
            " ORDER BY started_at DESC LIMIT 1"
        ).fetchone()
    except psycopg.errors.UndefinedTable:
        conn.rollback()
        return None
    return str(row[0]) if row else None


@router.get("/cameras/{camera_id}/segments", response_model=list[Segment])
def list_segments(
    camera_id: UUID, _user: CurrentUser, conn: Connection, start: datetime, end: datetime
) -> list[Segment]:
    """Segments overlapping ``[start, end)`` (ISO 8601 with a time zone)."""
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        raise HTTPException(422, "start and end need a time zone, and end must follow start")
    return _segments(conn, camera_id, Span(start, end))


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
    responses={206: {"description": "the requested byte range"}},
)
def segment_video(
    segment_id: UUID, request: Request, _token: MediaToken, conn: Connection
) -> FileResponse:
    """The segment as MP4; honours Range requests (206 with an exact Content-Range)."""
    row = conn.execute(
        "SELECT path FROM recordings.segments WHERE segment_id = %s", (segment_id,)
    ).fetchone()
    if row is None:
        raise HTTPException(404, "no such segment")
    path = segment_file(request.app.state.storage_root, row[0])
    return FileResponse(path, media_type="video/mp4", filename=path.name)
