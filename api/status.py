"""Status: storage per camera and in total, free disk, days kept, camera states, workers."""

from __future__ import annotations

import shutil
from datetime import datetime
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from api.deps import ADMIN_ONLY, SIGNED_IN, Connection, CurrentUser
from api.health import ComponentHealth, GivenUp, GroupLag, check_health
from ingest.ffmpeg_log import redacted_reason
from projector.readmodels import cameras, purges, segments

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
    """Admins only (empty for viewers), as for ``/api/health``."""
    consumer_groups: list[GroupLag]
    given_up: list[GivenUp]
    """Items workers gave up on, per topic (admins only)."""


def camera_storage(
    configured: list[cameras.CameraRow], footage: list[segments.CameraFootage]
) -> list[CameraStorage]:
    """One row per camera, configured or not: a removed camera's footage keeps its id
    (status "removed", no name) until retention purges it. By name, then id."""
    kept = {f.camera_id: f for f in footage}
    known = {c.camera_id: c for c in configured}
    out = []
    for camera_id in known.keys() | kept.keys():
        camera, stored = known.get(camera_id), kept.get(camera_id)
        oldest, newest = (stored.oldest, stored.newest) if stored else (None, None)
        span = (newest - oldest).total_seconds() / 86400 if oldest and newest else 0.0
        out.append(CameraStorage(
            camera_id=camera_id, name=camera.name if camera else None,
            status=camera.status if camera else "removed",
            last_error=camera.last_error if camera else None,
            segments=stored.segments if stored else 0, bytes=stored.bytes if stored else 0,
            oldest=oldest, newest=newest, days_kept=round(span, 2),
        ))  # fmt: skip
    return sorted(out, key=lambda c: (c.name is None, c.name or "", str(c.camera_id)))


@router.get("/status", response_model=StatusReport, **SIGNED_IN)
def status(request: Request, user: CurrentUser, conn: Connection) -> StatusReport:
    """What the Status page shows: storage, disk, cameras (those the user may see), and
    for admins only the components and queue lag (their details name hosts, users,
    paths and errors)."""
    storage = camera_storage(cameras.all_cameras(conn), segments.footage_by_camera(conn))
    shown = [c for c in storage if user.may_see(c.camera_id)]
    if not user.is_admin:
        shown = [c.model_copy(update={"last_error": redacted_reason(c.last_error)}) for c in shown]
    root = request.app.state.storage_root
    root.mkdir(parents=True, exist_ok=True)
    disk = shutil.disk_usage(root)
    components: list[ComponentHealth] = []
    groups: list[GroupLag] = []
    given_up: list[GivenUp] = []
    if user.is_admin:
        config = request.app.state.config
        health = check_health(
            request.app.state.store, config.database_url, config.analytics_snapshot,
            config.expected_workers,
        )  # fmt: skip
        components, groups, given_up = health.components, health.consumer_groups, health.given_up
    return StatusReport(
        cameras=shown,
        recordings_bytes=sum(c.bytes for c in shown),
        disk=Disk(total_bytes=disk.total, used_bytes=disk.used, free_bytes=disk.free),
        components=components,
        consumer_groups=groups,
        given_up=given_up,
    )


class PurgeRecord(BaseModel):
    segment_id: UUID
    camera_id: UUID
    path: str
    bytes_freed: int
    reason: str
    purged_at: datetime
    tier: str | None
    """What the segment held: alert, detection or continuous (None: not by the policy)."""


@router.get("/retention/purges", response_model=list[PurgeRecord], **ADMIN_ONLY)
def retention_purges(
    conn: Connection,
    camera_id: UUID | None = None,
    limit: int = Query(200, ge=1, le=5000),
) -> list[PurgeRecord]:
    """The retention audit trail, newest first: what was deleted, when, why, bytes freed."""
    rows = purges.recent(conn, camera_id, limit)
    return [PurgeRecord(segment_id=r.segment_id, camera_id=r.camera_id, path=r.path,
                        bytes_freed=r.bytes_freed, reason=r.reason, purged_at=r.purged_at,
                        tier=r.tier)
            for r in rows]  # fmt: skip
