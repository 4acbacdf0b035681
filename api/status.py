"""Status: storage per camera and in total, free disk, days kept, camera states, workers."""

from __future__ import annotations

import shutil
from datetime import datetime
from uuid import UUID

import psycopg
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from api.deps import ADMIN_ONLY, SIGNED_IN, Connection, CurrentUser
from api.health import ComponentHealth, GroupLag, check_health

router = APIRouter(prefix="/api", tags=["status"])


class CameraStorage(BaseModel):
    camera_id: UUID
    name: str | None
    status: str | None
    last_error: str | None
    segments: int
    bytes: int
    oldest: datetime | None
    newest: datetime | None
    days_kept: float


class Disk(BaseModel):
    total_bytes: int
    used_bytes: int
    free_bytes: int


class StatusReport(BaseModel):
    cameras: list[CameraStorage]
    recordings_bytes: int
    disk: Disk
    components: list[ComponentHealth]
    consumer_groups: list[GroupLag]


def _storage(conn: psycopg.Connection) -> list[CameraStorage]:
    try:
        rows = conn.execute(
            # camera_id from USING: a removed camera's footage keeps its id (c.* is null)
            "SELECT camera_id, c.name, coalesce(c.status, 'removed'), c.last_error,"
            " count(s.segment_id), coalesce(sum(s.bytes), 0), min(s.start_at), max(s.end_at)"
            " FROM cameras.cameras c FULL JOIN recordings.segments s USING (camera_id)"
            " GROUP BY camera_id, c.name, c.status, c.last_error ORDER BY c.name, camera_id"
        ).fetchall()
    except psycopg.errors.UndefinedTable:  # before the projector's first start
        conn.rollback()
        return []
    out = []
    for camera_id, name, state, error, count, size, oldest, newest in rows:
        span = (newest - oldest).total_seconds() / 86400 if oldest and newest else 0.0
        out.append(CameraStorage(
            camera_id=camera_id, name=name, status=state, last_error=error, segments=count,
            bytes=size, oldest=oldest, newest=newest, days_kept=round(span, 2),
        ))  # fmt: skip
    return out


@router.get("/status", response_model=StatusReport, **SIGNED_IN)
def status(request: Request, user: CurrentUser, conn: Connection) -> StatusReport:
    """What the Status page shows: storage, disk, cameras (those the user may see),
    workers and queue lag."""
    cameras = [c for c in _storage(conn) if user.may_see(c.camera_id)]
    root = request.app.state.storage_root
    root.mkdir(parents=True, exist_ok=True)
    disk = shutil.disk_usage(root)
    config = request.app.state.config
    health = check_health(
        request.app.state.store, config.database_url, config.analytics_snapshot,
        config.expected_workers,
    )  # fmt: skip
    return StatusReport(
        cameras=cameras,
        recordings_bytes=sum(c.bytes for c in cameras),
        disk=Disk(total_bytes=disk.total, used_bytes=disk.used, free_bytes=disk.free),
        components=health.components,
        consumer_groups=health.consumer_groups,
    )


class PurgeRecord(BaseModel):
    segment_id: UUID
    camera_id: UUID
    path: str
    bytes_freed: int
    reason: str
    purged_at: datetime


@router.get("/retention/purges", response_model=list[PurgeRecord], **ADMIN_ONLY)
def retention_purges(
    conn: Connection,
    camera_id: UUID | None = None,
    limit: int = Query(200, ge=1, le=5000),
) -> list[PurgeRecord]:
    """The retention audit trail, newest first: what was deleted, when, why, bytes freed."""
    try:
        rows = conn.execute(
            "SELECT segment_id, camera_id, path, bytes_freed, reason, purged_at"
            " FROM recordings.purges WHERE (camera_id = %s OR %s::uuid IS NULL)"
            " ORDER BY purged_at DESC LIMIT %s",
            (camera_id, camera_id, limit),
        ).fetchall()
    except psycopg.errors.UndefinedTable:
        conn.rollback()
        return []
    fields = list(PurgeRecord.model_fields)
    return [PurgeRecord(**dict(zip(fields, row, strict=True))) for row in rows]
