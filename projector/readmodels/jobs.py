"""The ``jobs`` read model: one row per detection job (a segment, a model, an attempt).

What the detector has finished and how (frames sampled, analysed, skipped by the motion
gate, inference time) comes from its events; the API reads the ML status from here,
never from the detector's own keys. Lives in the ``detections`` schema.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from uuid import UUID

import psycopg

from events.catalogue import (
    DetectionJobCompleted,
    DetectionJobFailed,
    DetectionJobStarted,
    DetectionsPurged,
    Event,
)
from projector.postgres import fetch
from projector.rows import DeleteWhere, Patch, RowOp, Upsert, table_of


@dataclass(frozen=True, slots=True)
class JobRow:
    job_id: UUID
    segment_id: UUID
    camera_id: UUID
    segment_start: datetime
    model_id: str
    reprocess: bool
    """Started by ``ronin reprocess`` (a model's second look), not the primary group."""
    status: str
    """running, retrying, done or failed."""
    attempt: int
    started_at: datetime
    finished_at: datetime | None
    frames_sampled: int | None
    frames_analysed: int | None
    frames_skipped: int | None
    detections: int | None
    inference_s: float | None
    elapsed_s: float | None
    error: str | None


JOBS = table_of(
    JobRow, "jobs", key=("job_id",),
    indexes=("CREATE INDEX jobs_status ON {table} (status, started_at)",),
)  # fmt: skip
TABLES = (JOBS,)


def _started(event: Event) -> Sequence[RowOp]:
    assert isinstance(event, DetectionJobStarted)
    row: dict[str, object] = dict.fromkeys(f.name for f in fields(JobRow))
    row.update(
        job_id=event.job_id,
        segment_id=event.segment_id,
        camera_id=event.camera_id,
        segment_start=event.segment_start,
        model_id=event.model_id,
        reprocess=event.reprocess,
        status="running",
        attempt=event.attempt,
        started_at=event.occurred_at,
    )
    return [Upsert(JOBS, row)]


def _completed(event: Event) -> Sequence[RowOp]:
    assert isinstance(event, DetectionJobCompleted)
    values = {
        "status": "done",
        "finished_at": event.occurred_at,
        "frames_sampled": event.frames_sampled,
        "frames_analysed": event.frames_analysed,
        "frames_skipped": event.frames_skipped,
        "detections": event.detections,
        "inference_s": event.inference_s,
        "elapsed_s": event.elapsed_s,
        "error": None,
    }
    return [Patch(JOBS, (event.job_id,), values)]


def _failed(event: Event) -> Sequence[RowOp]:
    assert isinstance(event, DetectionJobFailed)
    values = {
        "status": "failed" if event.final else "retrying",
        "finished_at": event.occurred_at if event.final else None,
        "error": event.reason,
    }
    return [Patch(JOBS, (event.job_id,), values)]


def _purged(event: Event) -> Sequence[RowOp]:
    assert isinstance(event, DetectionsPurged)
    return [DeleteWhere(JOBS, "segment_id", event.segment_id)]


HANDLERS: dict[type[Event], Callable[[Event], Sequence[RowOp]]] = {
    DetectionJobStarted: _started,
    DetectionJobCompleted: _completed,
    DetectionJobFailed: _failed,
    DetectionsPurged: _purged,
}

# --- queries -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Model:
    model_id: str


def primary_model(conn: psycopg.Connection) -> str | None:
    """The model whose detections are shown by default: the primary group's latest."""
    rows = fetch(
        conn, _Model,
        "SELECT model_id FROM detections.jobs WHERE NOT reprocess"
        " ORDER BY started_at DESC LIMIT 1",
    )  # fmt: skip
    return rows[0].model_id if rows else None


@dataclass(frozen=True, slots=True)
class WorkDone:
    """Every finished job's work, summed."""

    frames_analysed: int
    frames_skipped: int
    inference_s: float


def work_done(conn: psycopg.Connection) -> WorkDone:
    rows = fetch(
        conn, WorkDone,
        "SELECT coalesce(sum(frames_analysed), 0)::bigint AS frames_analysed,"
        " coalesce(sum(frames_skipped), 0)::bigint AS frames_skipped,"
        " coalesce(sum(inference_s), 0)::float8 AS inference_s"
        " FROM detections.jobs WHERE status = 'done'",
    )  # fmt: skip
    return rows[0] if rows else WorkDone(0, 0, 0.0)


@dataclass(frozen=True, slots=True)
class _StatusCount:
    status: str
    count: int


def primary_status_counts(conn: psycopg.Connection) -> dict[str, int]:
    """How many of the primary group's jobs are in each status."""
    rows = fetch(
        conn, _StatusCount,
        "SELECT status, count(*) AS count FROM detections.jobs WHERE NOT reprocess"
        " GROUP BY status",
    )  # fmt: skip
    return {row.status: row.count for row in rows}


@dataclass(frozen=True, slots=True)
class _ModelDone:
    model_id: str
    done: int


def done_by_model(conn: psycopg.Connection) -> dict[str, int]:
    """Every model that has jobs, and how many of them finished."""
    rows = fetch(
        conn, _ModelDone,
        "SELECT model_id, count(*) FILTER (WHERE status = 'done') AS done"
        " FROM detections.jobs GROUP BY model_id ORDER BY model_id",
    )  # fmt: skip
    return {row.model_id: row.done for row in rows}
