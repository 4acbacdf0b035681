"""The ``segments`` and ``open_segments`` read models: the footage on disk.

``segments`` holds one row per closed segment (from SegmentClosed; a purge removes it, a
transcode changes its file); ``open_segments`` the one segment each camera is writing now,
whose end is wherever its file ends. Both live in the ``recordings`` schema, with
:mod:`projector.readmodels.purges`; DuckDB keeps a copy of ``segments`` for the charts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

import duckdb
import psycopg

from events.catalogue import (
    Event,
    RetentionPurged,
    SegmentClosed,
    SegmentOpened,
    SegmentTranscoded,
)
from projector import analytics
from projector.postgres import fetch
from projector.rows import BigInt, Delete, DeleteWhere, Patch, RowOp, Upsert, table_of


@dataclass(frozen=True, slots=True)
class SegmentRow:
    segment_id: UUID
    camera_id: UUID
    path: str
    start_at: datetime
    end_at: datetime
    duration_s: float
    bytes: BigInt
    video_codec: str
    width: int
    height: int
    fps: float
    audio_codec: str | None
    recovered: bool
    opened_as: UUID | None
    """The id it had while it was written: a player that asked for that still gets it."""


@dataclass(frozen=True, slots=True)
class OpenSegmentRow:
    segment_id: UUID
    camera_id: UUID
    path: str
    start_at: datetime
    video_codec: str
    width: int
    height: int


SEGMENTS = table_of(
    SegmentRow, "segments", key=("segment_id",),
    indexes=(
        "CREATE INDEX segments_camera_start ON {table} (camera_id, start_at)",
        "CREATE INDEX segments_opened_as ON {table} (opened_as)",
    ),
)  # fmt: skip
OPEN_SEGMENTS = table_of(OpenSegmentRow, "open_segments", key=("segment_id",))
"""The segment each camera is writing now (at most one a camera; its end is its file's)."""
TABLES = (SEGMENTS, OPEN_SEGMENTS)


def _opened(event: Event) -> Sequence[RowOp]:
    assert isinstance(event, SegmentOpened)
    row = {"segment_id": event.segment_id, "camera_id": event.camera_id, "path": event.path,
           "start_at": event.start, "video_codec": event.video_codec, "width": event.width,
           "height": event.height}  # fmt: skip
    # a camera writes one segment at a time: this one replaces any left by a crash
    return [DeleteWhere(OPEN_SEGMENTS, "camera_id", event.camera_id), Upsert(OPEN_SEGMENTS, row)]


def _closed(event: Event) -> Sequence[RowOp]:
    assert isinstance(event, SegmentClosed)
    closed: list[RowOp] = [] if event.opened_as is None else [
        Delete(OPEN_SEGMENTS, (event.opened_as,))
    ]  # fmt: skip
    row = {
        "segment_id": event.segment_id,
        "camera_id": event.camera_id,
        "path": event.path,
        "start_at": event.start,
        "end_at": event.end,
        "duration_s": event.duration_s,
        "bytes": event.bytes,
        "video_codec": event.video_codec,
        "width": event.width,
        "height": event.height,
        "fps": event.fps,
        "audio_codec": event.audio_codec,
        "recovered": event.recovered,
        "opened_as": event.opened_as,
    }
    return [*closed, Upsert(SEGMENTS, row)]


def _purged(event: Event) -> Sequence[RowOp]:
    assert isinstance(event, RetentionPurged)
    return [Delete(SEGMENTS, (event.segment_id,))]


def _transcoded(event: Event) -> Sequence[RowOp]:
    assert isinstance(event, SegmentTranscoded)
    values = {"bytes": event.new_bytes, "video_codec": event.new_codec, "path": event.path}
    return [Patch(SEGMENTS, (event.segment_id,), values)]


HANDLERS: dict[type[Event], Callable[[Event], Sequence[RowOp]]] = {
    SegmentOpened: _opened,
    SegmentClosed: _closed,
    RetentionPurged: _purged,
    SegmentTranscoded: _transcoded,
}

# --- queries -------------------------------------------------------------------------


def overlapping(
    conn: psycopg.Connection, camera_id: UUID, start: datetime, end: datetime
) -> list[SegmentRow]:
    """The camera's closed segments overlapping ``[start, end)``, oldest first."""
    return fetch(
        conn, SegmentRow,
        "SELECT * FROM recordings.segments WHERE camera_id = %s AND end_at > %s"
        " AND start_at < %s ORDER BY start_at",
        (camera_id, start, end),
    )  # fmt: skip


def open_segment(conn: psycopg.Connection, camera_id: UUID) -> OpenSegmentRow | None:
    """The segment the camera is writing now, if any."""
    rows = fetch(
        conn, OpenSegmentRow, "SELECT * FROM recordings.open_segments WHERE camera_id = %s",
        (camera_id,),
    )  # fmt: skip
    return rows[0] if rows else None


@dataclass(frozen=True, slots=True)
class _Day:
    day: date


def days_with_footage(conn: psycopg.Connection, camera_id: UUID, timezone: str) -> list[date]:
    """Calendar days (in the IANA ``timezone``) on which a segment of the camera starts."""
    rows = fetch(
        conn, _Day,
        "SELECT DISTINCT (start_at AT TIME ZONE %s)::date AS day FROM recordings.segments"
        " WHERE camera_id = %s ORDER BY 1",
        (timezone, camera_id),
    )  # fmt: skip
    return [row.day for row in rows]


@dataclass(frozen=True, slots=True)
class SegmentFile:
    path: str
    camera_id: UUID


def file_of(conn: psycopg.Connection, segment_id: UUID) -> SegmentFile | None:
    """Where a segment's file is: a closed one's, found by its id or the id it had while
    it was written, or the one being written."""
    rows = fetch(
        conn, SegmentFile,
        "SELECT path, camera_id FROM recordings.segments WHERE segment_id = %s"
        " UNION ALL SELECT path, camera_id FROM recordings.segments WHERE opened_as = %s"
        " UNION ALL SELECT path, camera_id FROM recordings.open_segments WHERE segment_id = %s",
        (segment_id, segment_id, segment_id),
    )  # fmt: skip
    return rows[0] if rows else None


def all_segments(conn: psycopg.Connection) -> list[SegmentRow]:
    """Every closed segment (retention and the integrity check weigh them all)."""
    return fetch(conn, SegmentRow, "SELECT * FROM recordings.segments")


def awaiting_transcode(
    conn: psycopg.Connection, older_than: datetime, limit: int
) -> list[SegmentRow]:
    """Oldest first, segments not yet H.265 that closed before ``older_than``."""
    return fetch(
        conn, SegmentRow,
        "SELECT * FROM recordings.segments WHERE video_codec NOT IN ('hevc', 'h265')"
        " AND end_at < %s ORDER BY start_at LIMIT %s",
        (older_than, limit),
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class CameraFootage:
    camera_id: UUID
    segments: int
    bytes: int
    oldest: datetime | None
    newest: datetime | None


def footage_by_camera(conn: psycopg.Connection) -> list[CameraFootage]:
    """How much footage each camera id has (a removed camera's stays until purged)."""
    return fetch(
        conn, CameraFootage,
        "SELECT camera_id, count(*) AS segments, sum(bytes)::bigint AS bytes,"
        " min(start_at) AS oldest, max(end_at) AS newest FROM recordings.segments"
        " GROUP BY camera_id",
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class _NewestFps:
    camera_id: UUID
    fps: float


def newest_fps(conn: psycopg.Connection) -> dict[UUID, float]:
    """Each camera's frame rate, as its newest segment has it."""
    rows = fetch(
        conn, _NewestFps,
        "SELECT DISTINCT ON (camera_id) camera_id, fps FROM recordings.segments"
        " ORDER BY camera_id, start_at DESC",
    )  # fmt: skip
    return {r.camera_id: r.fps for r in rows}


@dataclass(frozen=True, slots=True)
class DailyFootage:
    day: datetime
    camera_id: UUID
    bytes: int
    segments: int


def footage_per_day(con: duckdb.DuckDBPyConnection, since: datetime) -> list[DailyFootage]:
    """From the analytics copy: bytes and segments per camera per UTC day."""
    return analytics.fetch(
        con, DailyFootage,
        "SELECT date_trunc('day', start_at) AS day, camera_id, sum(bytes)::BIGINT AS bytes,"
        " count(*) AS segments FROM analytics_recordings.segments WHERE start_at >= ?"
        " GROUP BY 1, 2 ORDER BY 1, 2",
        [since],
    )  # fmt: skip
