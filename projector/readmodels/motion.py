"""The ``motion`` read model: when each camera's picture moved, from the motion gate's
measurements of every recorded segment (the timeline's motion strip).

One row per span of activity. A segment's spans are replaced as a whole each time a job
reports them (every job on a segment reports the same), and go when the segment is
purged. Lives in the ``detections`` schema.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import psycopg

from events.catalogue import DetectionsPurged, Event, MotionMeasured
from projector.postgres import fetch
from projector.rows import DeleteWhere, RowOp, Upsert, table_of


@dataclass(frozen=True, slots=True)
class MotionRow:
    segment_id: UUID
    camera_id: UUID
    start_at: datetime
    end_at: datetime
    peak: float


MOTION = table_of(
    MotionRow, "motion", key=("segment_id", "start_at"),
    indexes=("CREATE INDEX motion_camera_time ON {table} (camera_id, start_at)",),
)  # fmt: skip
TABLES = (MOTION,)


def _measured(event: Event) -> Sequence[RowOp]:
    assert isinstance(event, MotionMeasured)
    rows: list[RowOp] = [DeleteWhere(MOTION, "segment_id", event.segment_id)]
    for span in event.spans:
        row = {"segment_id": event.segment_id, "camera_id": event.camera_id,
               "start_at": span.start, "end_at": span.end, "peak": span.peak}  # fmt: skip
        rows.append(Upsert(MOTION, row))
    return rows


def _purged(event: Event) -> Sequence[RowOp]:
    assert isinstance(event, DetectionsPurged)
    return [DeleteWhere(MOTION, "segment_id", event.segment_id)]


HANDLERS: dict[type[Event], Callable[[Event], Sequence[RowOp]]] = {
    MotionMeasured: _measured,
    DetectionsPurged: _purged,
}


def between(
    conn: psycopg.Connection, camera_id: UUID, start: datetime, end: datetime, limit: int = 20_000
) -> list[MotionRow]:
    """The camera's spans of motion overlapping ``[start, end)``, oldest first."""
    return fetch(
        conn, MotionRow,
        "SELECT * FROM detections.motion WHERE camera_id = %s AND end_at > %s AND start_at < %s"
        " ORDER BY start_at LIMIT %s",
        (camera_id, start, end, limit),
    )  # fmt: skip
