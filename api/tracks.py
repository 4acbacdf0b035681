"""Tracked objects: what was in view, from when to when, still or moving.

``GET /api/tracks/{id}/thumbnail`` is the object at its best sighting, cropped from the
recording. ``GET /api/tracks`` searches them by camera, class, zone entered, time window (a track
matches when it was in view during it), least duration and model ("people who stayed
longer than 30 s in the driveway last week"), keeping to the cameras the user may see.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel

from api.deps import MEDIA, SIGNED_IN, Connection, CurrentUser, Media, ensure_visible
from api.inputs import CONTROL_FREE, Instant
from api.recordings import segment_file
from events.catalogue import BoundingBox
from events.errors import MediaError
from ingest.stills import Crop, StillCutter, StillsBusy
from projector.readmodels import jobs, segments, tracks

router = APIRouter(prefix="/api", tags=["detections"])


class Track(BaseModel):
    track_id: UUID
    camera_id: UUID
    model_id: str
    label: str
    start: datetime
    end: datetime
    """When it was last seen (so far, while ``ended`` is false)."""
    duration_s: float
    stationary: bool
    ended: bool
    sightings: int
    best_detection_id: UUID
    best_at: datetime
    best_confidence: float
    best_box: BoundingBox
    zones: list[str]
    """The zones it entered."""
    in_required_zone: bool


def track_out(row: tracks.TrackPieceRow) -> Track:
    box = BoundingBox(x1=row.best_x1, y1=row.best_y1, x2=row.best_x2, y2=row.best_y2)
    return Track(
        track_id=row.track_id, camera_id=row.camera_id, model_id=row.model_id,
        label=row.label, start=row.start, end=row.last_seen, duration_s=row.duration_s,
        stationary=row.stationary, ended=row.ended, sightings=row.sightings,
        best_detection_id=row.best_detection_id, best_at=row.best_at,
        best_confidence=row.best_confidence, best_box=box,
        zones=[z for z in row.zones.split(",") if z], in_required_zone=row.in_required_zone,
    )  # fmt: skip


@router.get("/tracks", response_model=list[Track], **SIGNED_IN)
def list_tracks(
    user: CurrentUser,
    conn: Connection,
    camera_id: UUID | None = None,
    label: str | None = Query(None, max_length=64, pattern=CONTROL_FREE),
    start: Instant | None = None,
    end: Instant | None = None,
    min_duration_s: float | None = Query(None, ge=0, description="stayed at least this long"),
    zone: str | None = Query(
        None, max_length=64, pattern=CONTROL_FREE, description="entered this zone"
    ),
    model_id: str | None = Query(
        None, description="default: the primary model", max_length=200, pattern=CONTROL_FREE
    ),
    limit: int = Query(200, ge=1, le=5000),
) -> list[Track]:
    """Newest first; filters combine."""
    ensure_visible(user, camera_id)
    if start and end and start >= end:
        return []  # nothing was tracked in an empty window
    where = tracks.TrackFilter(
        model_id=model_id or jobs.primary_model(conn), camera_id=camera_id,
        visible=user.camera_filter(), label=label, start=start, end=end,
        min_duration_s=min_duration_s, zone=zone,
    )  # fmt: skip
    return [track_out(row) for row in tracks.search(conn, where, limit)]


@router.get("/tracks/{track_id}/thumbnail", response_class=FileResponse, **MEDIA)
def track_thumbnail(
    track_id: UUID, request: Request, grant: Media, conn: Connection
) -> FileResponse:
    """The object at its best sighting, cropped from the recording (a JPEG 320 px wide,
    cut when first asked for, then kept with the snapshots). 404 when that moment cannot
    be cut (remembered for a while); 503 while too many stills are being cut."""
    found = tracks.track(conn, track_id)
    if found is None or not grant.opens(f"thumbnail:{track_id}", found.camera_id):
        raise HTTPException(404, "no such tracked object")
    root: Path = request.app.state.storage_root
    source, offset_s = _recording_at(conn, root, found.camera_id, found.best_at)
    crop = Crop(found.best_x1, found.best_y1, found.best_x2, found.best_y2).padded()
    target = root / ".snapshots" / "tracks" / f"{found.best_detection_id}.jpg"
    cutter: StillCutter = request.app.state.stills
    try:
        cutter.cut(grant.user.username, source, offset_s, crop, target)
    except StillsBusy as e:
        raise HTTPException(503, str(e), {"Retry-After": "2"}) from e
    except MediaError as e:
        raise HTTPException(404, str(e)) from e
    return FileResponse(target, media_type="image/jpeg")


def _recording_at(
    conn: Connection, root: Path, camera_id: UUID, at: datetime
) -> tuple[Path, float]:
    """The file that holds the camera's footage at ``at``, and the offset in it."""
    closed = segments.overlapping(conn, camera_id, at, at + timedelta(milliseconds=1))
    if closed:
        return segment_file(root, closed[0].path), (at - closed[0].start_at).total_seconds()
    growing = segments.open_segment(conn, camera_id)
    if growing is not None and growing.start_at <= at:
        return segment_file(root, growing.path), (at - growing.start_at).total_seconds()
    raise HTTPException(404, "no recording of that moment (purged, or never recorded)")
