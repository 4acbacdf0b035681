"""A camera's zones and masks: read them (anyone who sees the camera), set them (admins).

Setting them appends ``CameraZonesChanged`` with the whole configuration; the detector
picks it up within seconds (historical jobs and live tracking alike). Zone names are
unique per camera, and the zones required for alerts must be among them.
"""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, HTTPException, status

from api.deps import ADMIN_ONLY, SIGNED_IN, AdminUser, Connection, EventStoreDep, VisibleCamera
from events.catalogue import CameraZonesChanged, ZoneConfig
from projector.readmodels import cameras

router = APIRouter(prefix="/api/cameras", tags=["cameras"])


def zone_problem(config: ZoneConfig) -> str | None:
    """Why a zone configuration cannot be saved (None: it can)."""
    names = [z.name for z in config.zones]
    if any("," in n for n in names):
        return "a zone name cannot hold a comma"
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        return f"zone names must differ: {', '.join(twice)}"
    unknown = sorted(set(config.required_zones) - set(names))
    if unknown:
        return f"required zones must be zones of this camera: {', '.join(unknown)}"
    return None


@router.get("/{camera_id}/zones", response_model=ZoneConfig, **SIGNED_IN)
def camera_zones(camera_id: VisibleCamera, conn: Connection) -> ZoneConfig:
    """The camera's zones, the zones alerts require, motion masks and object masks."""
    row = cameras.camera(conn, camera_id)
    if row is None:
        raise HTTPException(404, "no such camera")
    return row.zones()


@router.put("/{camera_id}/zones", response_model=ZoneConfig,
            status_code=status.HTTP_202_ACCEPTED, **ADMIN_ONLY)  # fmt: skip
def set_camera_zones(
    camera_id: UUID, body: ZoneConfig, user: AdminUser, conn: Connection, store: EventStoreDep
) -> ZoneConfig:
    """Replace the camera's zones and masks (CameraZonesChanged). Zone names are unique,
    and required zones must be zones of this camera (422 otherwise)."""
    if cameras.camera(conn, camera_id) is None:
        raise HTTPException(404, "no such camera")
    problem = zone_problem(body)
    if problem is not None:
        raise HTTPException(422, problem)
    store.append(CameraZonesChanged(camera_id=camera_id, config=body))
    return body
