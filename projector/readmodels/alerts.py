"""The ``alerts`` read model: every alert raised, with its snapshot's path."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import psycopg

from events.catalogue import AlertRaised, Event
from projector.postgres import fetch
from projector.rows import RowOp, Upsert, table_of


@dataclass(frozen=True, slots=True)
class AlertRow:
    alert_id: UUID
    camera_id: UUID
    detection_id: UUID
    label: str
    confidence: float
    detected_at: datetime
    snapshot_path: str | None
    """Relative to the storage root; None when the snapshot could not be made."""
    track_id: UUID | None = None
    """The tracked object that raised it."""


ALERTS = table_of(
    AlertRow, "alerts", key=("alert_id",),
    indexes=("CREATE INDEX alerts_time ON {table} (detected_at)",),
)  # fmt: skip
TABLES = (ALERTS,)


def _raised(event: Event) -> Sequence[RowOp]:
    assert isinstance(event, AlertRaised)
    row = {
        "alert_id": event.alert_id,
        "camera_id": event.camera_id,
        "detection_id": event.detection_id,
        "label": event.label,
        "confidence": event.confidence,
        "detected_at": event.detected_at,
        "snapshot_path": event.snapshot_path,
        "track_id": event.track_id,
    }
    return [Upsert(ALERTS, row)]


HANDLERS: dict[type[Event], Callable[[Event], Sequence[RowOp]]] = {AlertRaised: _raised}


def recent(
    conn: psycopg.Connection, camera_id: UUID | None, visible: Collection[UUID] | None,
    label: str | None, limit: int,
) -> list[AlertRow]:  # fmt: skip
    """Newest first, narrowed by camera, the cameras a user may see, and class."""
    cameras = None if visible is None else list(visible)
    return fetch(
        conn, AlertRow,
        "SELECT * FROM alerts.alerts WHERE (camera_id = %s OR %s::uuid IS NULL)"
        " AND (camera_id = ANY(%s) OR %s::uuid[] IS NULL)"
        " AND (label = %s OR %s::text IS NULL) ORDER BY detected_at DESC LIMIT %s",
        (camera_id, camera_id, cameras, cameras, label, label, limit),
    )  # fmt: skip


def alert(conn: psycopg.Connection, alert_id: UUID) -> AlertRow | None:
    rows = fetch(conn, AlertRow, "SELECT * FROM alerts.alerts WHERE alert_id = %s", (alert_id,))
    return rows[0] if rows else None
