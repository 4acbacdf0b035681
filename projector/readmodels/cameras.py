"""The ``cameras`` read model: each camera's configuration and live status.

Written from the cameras topic (configuration from the API's commands, status from
ingest); read by the API, ingest (what to record), the detector (what to watch live) and
retention (per-camera limits).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import psycopg

from events.catalogue import (
    CameraAdded,
    CameraConnected,
    CameraDisconnected,
    CameraRemoved,
    CameraUpdated,
    CameraZonesChanged,
    Event,
    RecordingStarted,
    RecordingStopped,
    RetentionTiers,
    ZoneConfig,
)
from projector.postgres import fetch
from projector.rows import Delete, Patch, RowOp, Upsert, table_of


@dataclass(frozen=True, slots=True)
class CameraRow:
    camera_id: UUID
    name: str
    directory: str
    rtsp_url: str
    credentials_ciphertext: str | None
    camera_group: str | None
    position: int
    enabled: bool
    detection_enabled: bool
    status: str
    last_error: str | None
    status_changed_at: datetime | None
    updated_at: datetime
    retention_days: float | None
    retention_max_gb: float | None
    zone_config: str | None = None
    """Its zones and masks (``ZoneConfig`` as JSON; None: none set)."""

    retention_tiers: str | None = None
    """Its limits per retention tier (``RetentionTiers`` as JSON; None: the defaults)."""

    sub_rtsp_url: str | None = None
    """Its sub-stream (grid and live detection), if it has one."""

    def zones(self) -> ZoneConfig:
        if self.zone_config is None:
            return ZoneConfig()
        return ZoneConfig.model_validate_json(self.zone_config)

    def tiers(self) -> RetentionTiers:
        if self.retention_tiers is None:
            return RetentionTiers()
        return RetentionTiers.model_validate_json(self.retention_tiers)


def camera_updated(row: CameraRow, **changes: object) -> CameraUpdated:
    """The camera's whole configuration as a ``CameraUpdated``, with ``changes`` (fields
    of the event: ``position``, ``enabled``, ``detection_enabled`` ...) applied: what a
    command that changes one thing emits."""
    values: dict[str, object] = {
        "camera_id": row.camera_id, "name": row.name, "directory": row.directory,
        "rtsp_url": row.rtsp_url, "sub_rtsp_url": row.sub_rtsp_url,
        "credentials_ciphertext": row.credentials_ciphertext, "group": row.camera_group,
        "position": row.position, "enabled": row.enabled,
        "detection_enabled": row.detection_enabled, "retention_days": row.retention_days,
        "retention_max_gb": row.retention_max_gb,
        "retention_tiers": None if row.retention_tiers is None else row.tiers(),
    }  # fmt: skip
    return CameraUpdated.model_validate({**values, **changes})


CHANGES_CHANNEL = "ronin_cameras"
"""Told whenever a camera's row changes (ingest listens instead of reading the list
every few seconds)."""
CAMERAS = table_of(CameraRow, "cameras", key=("camera_id",), announce=CHANGES_CHANNEL)
TABLES = (CAMERAS,)


def _configured(event: Event) -> Sequence[RowOp]:
    assert isinstance(event, CameraAdded | CameraUpdated)
    values = {
        "name": event.name,
        "directory": event.directory,
        "rtsp_url": event.rtsp_url,
        "sub_rtsp_url": event.sub_rtsp_url,
        "credentials_ciphertext": event.credentials_ciphertext,
        "camera_group": event.group,
        "position": event.position,
        "enabled": event.enabled,
        "detection_enabled": event.detection_enabled,
        "updated_at": event.occurred_at,
        "retention_days": event.retention_days,
        "retention_max_gb": event.retention_max_gb,
        "retention_tiers": None
        if event.retention_tiers is None
        else event.retention_tiers.model_dump_json(),
    }
    if isinstance(event, CameraUpdated):  # keep the status ingest reported
        return [Patch(CAMERAS, (event.camera_id,), values)]
    row = {
        "camera_id": event.camera_id,
        **values,
        "status": "offline",
        "last_error": None,
        "status_changed_at": event.occurred_at,
        "zone_config": None,
    }
    return [Upsert(CAMERAS, row)]


def _zones_changed(event: Event) -> Sequence[RowOp]:
    assert isinstance(event, CameraZonesChanged)
    values = {"zone_config": event.config.model_dump_json()}
    return [Patch(CAMERAS, (event.camera_id,), values)]


def _removed(event: Event) -> Sequence[RowOp]:
    assert isinstance(event, CameraRemoved)
    return [Delete(CAMERAS, (event.camera_id,))]


def _status(status: str, error_field: str | None = None) -> Callable[[Event], Sequence[RowOp]]:
    def handler(event: Event) -> Sequence[RowOp]:
        camera_id = event.camera_id  # type: ignore[attr-defined]
        values: dict[str, object] = {"status": status, "status_changed_at": event.occurred_at}
        if error_field is not None:
            values["last_error"] = getattr(event, error_field)
        elif status in ("online", "recording"):
            values["last_error"] = None
        return [Patch(CAMERAS, (camera_id,), values)]

    return handler


HANDLERS: dict[type[Event], Callable[[Event], Sequence[RowOp]]] = {
    CameraAdded: _configured,
    CameraUpdated: _configured,
    CameraRemoved: _removed,
    CameraZonesChanged: _zones_changed,
    CameraConnected: _status("online"),
    CameraDisconnected: _status("offline", "reason"),
    RecordingStarted: _status("recording"),
    RecordingStopped: _status("online", "reason"),
}

# --- queries -------------------------------------------------------------------------

_ORDER = " ORDER BY position, name"


def all_cameras(
    conn: psycopg.Connection, visible: Collection[UUID] | None = None
) -> list[CameraRow]:
    """Every camera in display order (only those in ``visible`` when it is given)."""
    if visible is None:
        return fetch(conn, CameraRow, "SELECT * FROM cameras.cameras" + _ORDER)
    return fetch(
        conn, CameraRow, "SELECT * FROM cameras.cameras WHERE camera_id = ANY(%s)" + _ORDER,
        (list(visible),),
    )  # fmt: skip


def camera(conn: psycopg.Connection, camera_id: UUID) -> CameraRow | None:
    rows = fetch(
        conn, CameraRow, "SELECT * FROM cameras.cameras WHERE camera_id = %s", (camera_id,)
    )
    return rows[0] if rows else None


def enabled_cameras(conn: psycopg.Connection) -> list[CameraRow]:
    """The cameras ingest records, in display order."""
    return fetch(conn, CameraRow, "SELECT * FROM cameras.cameras WHERE enabled" + _ORDER)


def detection_cameras(conn: psycopg.Connection) -> list[UUID]:
    """Enabled cameras with detection on (the detector watches their live streams)."""
    rows = fetch(
        conn, CameraRow, "SELECT * FROM cameras.cameras WHERE enabled AND detection_enabled"
    )
    return [row.camera_id for row in rows]


def cameras_named(conn: psycopg.Connection, names: Sequence[str]) -> list[CameraRow]:
    return fetch(
        conn, CameraRow, "SELECT * FROM cameras.cameras WHERE name = ANY(%s)", (list(names),)
    )


@dataclass(frozen=True, slots=True)
class _Exists:
    created: bool


def created(conn: psycopg.Connection) -> bool:
    """Whether the projector has created the read model yet."""
    rows = fetch(conn, _Exists, "SELECT to_regclass('cameras.cameras') IS NOT NULL AS created")
    return bool(rows and rows[0].created)
