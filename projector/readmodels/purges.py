"""The ``purges`` read model: retention's audit trail, one row per purged segment."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import psycopg

from events.catalogue import Event, RetentionPurged
from projector.postgres import fetch
from projector.rows import BigInt, RowOp, Upsert, table_of


@dataclass(frozen=True, slots=True)
class PurgeRow:
    segment_id: UUID
    camera_id: UUID
    path: str
    bytes_freed: BigInt
    reason: str
    purged_at: datetime
    tier: str | None = None
    """What the segment held (alert, detection, continuous) when the policy chose it."""


PURGES = table_of(
    PurgeRow, "purges", key=("segment_id",),
    indexes=("CREATE INDEX purges_time ON {table} (purged_at)",),
)  # fmt: skip
TABLES = (PURGES,)


def _purged(event: Event) -> Sequence[RowOp]:
    assert isinstance(event, RetentionPurged)
    row = {
        "segment_id": event.segment_id,
        "camera_id": event.camera_id,
        "path": event.path,
        "bytes_freed": event.bytes_freed,
        "reason": event.reason.value,
        "purged_at": event.occurred_at,
        "tier": None if event.tier is None else event.tier.value,
    }
    return [Upsert(PURGES, row)]


HANDLERS: dict[type[Event], Callable[[Event], Sequence[RowOp]]] = {RetentionPurged: _purged}


def recent(conn: psycopg.Connection, camera_id: UUID | None, limit: int) -> list[PurgeRow]:
    """Newest first (of one camera when ``camera_id`` is given)."""
    return fetch(
        conn, PurgeRow,
        "SELECT * FROM recordings.purges WHERE (camera_id = %s OR %s::uuid IS NULL)"
        " ORDER BY purged_at DESC LIMIT %s",
        (camera_id, camera_id, limit),
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Path:
    path: str


def purged_paths(conn: psycopg.Connection) -> set[str]:
    """The files retention has purged (a file still there was left behind by a crash)."""
    return {row.path for row in fetch(conn, _Path, "SELECT path FROM recordings.purges")}
