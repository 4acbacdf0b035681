"""The ``detections`` read model: every object a model found, recorded or live.

One row per detection (per model: reprocessing with another model adds rows beside the
old ones). Lives in the ``detections`` schema with :mod:`projector.readmodels.jobs`;
DuckDB keeps a copy for the charts. A purged segment's detections go with it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import duckdb
import psycopg

from events.catalogue import DetectionsPurged, Event, ObjectDetected
from projector import analytics
from projector.postgres import fetch
from projector.rows import BigInt, DeleteWhere, RowOp, Upsert, table_of


@dataclass(frozen=True, slots=True)
class DetectionRow:
    detection_id: UUID
    camera_id: UUID
    segment_id: UUID | None
    """None for a live detection (found on the live stream, not in a segment)."""
    model_id: str
    detected_at: datetime
    offset_s: float | None
    label: str
    class_id: int
    confidence: float
    x1: float
    y1: float
    x2: float
    y2: float
    frame_number: BigInt
    live: bool


DETECTIONS = table_of(
    DetectionRow, "detections", key=("detection_id",),
    indexes=(
        "CREATE INDEX detections_camera_model_time ON {table} (camera_id, model_id, detected_at)",
        "CREATE INDEX detections_segment ON {table} (segment_id)",
    ),
)  # fmt: skip
TABLES = (DETECTIONS,)


def _detected(event: Event) -> Sequence[RowOp]:
    assert isinstance(event, ObjectDetected)
    row = {
        "detection_id": event.detection_id,
        "camera_id": event.camera_id,
        "segment_id": event.segment_id,
        "model_id": event.model_id,
        "detected_at": event.detected_at,
        "offset_s": event.offset_s,
        "label": event.label,
        "class_id": event.class_id,
        "confidence": event.confidence,
        "x1": event.box.x1,
        "y1": event.box.y1,
        "x2": event.box.x2,
        "y2": event.box.y2,
        "frame_number": event.frame_number,
        "live": event.segment_id is None,
    }
    return [Upsert(DETECTIONS, row)]


def _purged(event: Event) -> Sequence[RowOp]:
    assert isinstance(event, DetectionsPurged)
    return [DeleteWhere(DETECTIONS, "segment_id", event.segment_id)]


HANDLERS: dict[type[Event], Callable[[Event], Sequence[RowOp]]] = {
    ObjectDetected: _detected,
    DetectionsPurged: _purged,
}

# --- queries -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DetectionFilter:
    """What ``GET /api/detections`` narrows by; None means any."""

    model_id: str | None = None
    camera_id: UUID | None = None
    visible: Collection[UUID] | None = None
    label: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    live: bool | None = None


def search(conn: psycopg.Connection, where: DetectionFilter, limit: int) -> list[DetectionRow]:
    """Newest first, every filter applied."""
    visible = None if where.visible is None else list(where.visible)
    return fetch(
        conn, DetectionRow,
        "SELECT * FROM detections.detections"
        " WHERE (model_id = %s OR %s::text IS NULL) AND (camera_id = %s OR %s::uuid IS NULL)"
        " AND (camera_id = ANY(%s) OR %s::uuid[] IS NULL) AND (label = %s OR %s::text IS NULL)"
        " AND (detected_at >= %s OR %s::timestamptz IS NULL)"
        " AND (detected_at < %s OR %s::timestamptz IS NULL) AND (live = %s OR %s::bool IS NULL)"
        " ORDER BY detected_at DESC LIMIT %s",
        (where.model_id, where.model_id, where.camera_id, where.camera_id, visible, visible,
         where.label, where.label, where.start, where.start, where.end, where.end,
         where.live, where.live, limit),
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Marker:
    """Recorded detections of one class of one camera, each within ``merge_s`` of the
    previous one (see ``api.timeline.markers``, which does the same in Python)."""

    label: str
    start: datetime
    end: datetime
    count: int
    max_confidence: float


MARKERS_SQL = """
SELECT label, min(detected_at) AS start, max(detected_at) AS end, count(*) AS count,
       max(confidence) AS max_confidence
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
"""Gaps and islands in SQL, so only the markers leave the database."""


def markers(
    conn: psycopg.Connection, camera_id: UUID, model_id: str, start: datetime, end: datetime,
    merge_s: float = 10.0,
) -> list[Marker]:  # fmt: skip
    return fetch(conn, Marker, MARKERS_SQL, (merge_s, camera_id, model_id, start, end))


@dataclass(frozen=True, slots=True)
class _ModelCount:
    model_id: str
    count: int


def count_by_model(conn: psycopg.Connection) -> dict[str, int]:
    """How many detections each model has (over every camera)."""
    rows = fetch(
        conn, _ModelCount,
        "SELECT model_id, count(*) AS count FROM detections.detections GROUP BY model_id",
    )  # fmt: skip
    return {row.model_id: row.count for row in rows}


@dataclass(frozen=True, slots=True)
class HourlyCount:
    hour: datetime
    label: str
    count: int


def per_hour(
    con: duckdb.DuckDBPyConnection, since: datetime, camera_id: UUID | None,
    model_id: str | None, visible: Collection[UUID] | None,
) -> list[HourlyCount]:  # fmt: skip
    """From the analytics copy: detections per UTC hour and class."""
    cameras = None if visible is None else list(visible)
    return analytics.fetch(
        con, HourlyCount,
        "SELECT date_trunc('hour', detected_at) AS hour, label, count(*) AS count"
        " FROM analytics_detections.detections WHERE detected_at >= ?"
        " AND (camera_id = ? OR ? IS NULL) AND (model_id = ? OR ? IS NULL)"
        " AND (?::uuid[] IS NULL OR list_contains(?::uuid[], camera_id))"
        " GROUP BY 1, 2 ORDER BY 1, 2",
        [since, camera_id, camera_id, model_id, model_id, cameras, cameras],
    )  # fmt: skip
