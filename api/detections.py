"""Detections, alerts and the ML status page.

- ``GET /api/detections``: detections by camera, class, time range and model.
- ``GET /api/detections/models``: every model that has results (reprocessing keeps each).
- ``GET /api/alerts`` and ``GET /api/alerts/{id}/snapshot`` (a media token, like video).
- ``GET /api/ml/status``: whether detection is on (and how to turn it on), the model,
  the job queue (pending/running/done/failed, per-job progress), frames analysed and
  skipped by motion, inference time per frame, live-detection fps per camera.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel

from api.deps import MEDIA, SIGNED_IN, Connection, CurrentUser, EventStoreDep, Media, ensure_visible
from api.inputs import CONTROL_FREE, Instant
from api.recordings import segment_file
from events.catalogue import Topic
from events.heartbeat import worker_statuses
from events.progress import DETECTION_GROUP, JobBoard, LiveStats, RunningJob
from projector.readmodels import alerts, detections, jobs

router = APIRouter(prefix="/api", tags=["detections"])


class Detection(BaseModel):
    detection_id: UUID
    camera_id: UUID
    segment_id: UUID | None
    model_id: str
    detected_at: datetime
    offset_s: float | None
    label: str
    confidence: float
    x1: float
    y1: float
    x2: float
    y2: float
    live: bool


class ModelResults(BaseModel):
    model_id: str
    detections: int
    jobs_done: int
    primary: bool


class Alert(BaseModel):
    alert_id: UUID
    camera_id: UUID
    detection_id: UUID
    label: str
    confidence: float
    detected_at: datetime
    snapshot_url: str | None
    track_id: UUID | None = None
    """The tracked object that raised it (its review item holds it)."""


class JobCounts(BaseModel):
    pending: int
    running: int
    done: int
    failed: int
    retrying: int


class LiveCamera(BaseModel):
    camera_id: UUID
    fps: float
    frames: int
    skipped: int


class MlStatus(BaseModel):
    detection: str
    hint: str | None
    model_id: str | None
    layout: str | None
    providers: list[str]
    live: bool
    jobs: JobCounts
    running: list[RunningJob]
    frames_analysed: int
    frames_skipped: int
    inference_ms_per_frame: float | None
    live_cameras: list[LiveCamera]


@router.get("/detections", response_model=list[Detection], **SIGNED_IN)
def list_detections(
    user: CurrentUser,
    conn: Connection,
    camera_id: UUID | None = None,
    label: str | None = Query(None, max_length=64, pattern=CONTROL_FREE),
    start: Instant | None = None,
    end: Instant | None = None,
    model_id: str | None = Query(
        None, description="default: the primary model", max_length=200, pattern=CONTROL_FREE
    ),
    live: bool | None = None,
    limit: int = Query(200, ge=1, le=5000),
) -> list[Detection]:
    """Newest first; filters combine (and keep to the cameras the user may see)."""
    ensure_visible(user, camera_id)
    where = detections.DetectionFilter(
        model_id=model_id or jobs.primary_model(conn), camera_id=camera_id,
        visible=user.camera_filter(), label=label, start=start, end=end, live=live,
    )  # fmt: skip
    return [
        Detection(
            detection_id=d.detection_id,
            camera_id=d.camera_id,
            segment_id=d.segment_id,
            model_id=d.model_id,
            detected_at=d.detected_at,
            offset_s=d.offset_s,
            label=d.label,
            confidence=d.confidence,
            x1=d.x1,
            y1=d.y1,
            x2=d.x2,
            y2=d.y2,
            live=d.live,
        )
        for d in detections.search(conn, where, limit)
    ]


@router.get("/detections/models", response_model=list[ModelResults], **SIGNED_IN)
def detection_models(conn: Connection) -> list[ModelResults]:
    """Models and how much each found (counts over every camera: no camera is named)."""
    primary, found = jobs.primary_model(conn), detections.count_by_model(conn)
    return [
        ModelResults(model_id=m, detections=found.get(m, 0), jobs_done=done, primary=m == primary)
        for m, done in jobs.done_by_model(conn).items()
    ]


@router.get("/alerts", response_model=list[Alert], **SIGNED_IN)
def list_alerts(
    user: CurrentUser,
    conn: Connection,
    camera_id: UUID | None = None,
    label: str | None = Query(None, max_length=64, pattern=CONTROL_FREE),
    limit: int = Query(100, ge=1, le=1000),
) -> list[Alert]:
    """Newest first, of the cameras the user may see."""
    ensure_visible(user, camera_id)
    rows = alerts.recent(conn, camera_id, user.camera_filter(), label, limit)
    return [
        Alert(
            alert_id=a.alert_id,
            camera_id=a.camera_id,
            detection_id=a.detection_id,
            label=a.label,
            confidence=a.confidence,
            detected_at=a.detected_at,
            snapshot_url=f"/api/alerts/{a.alert_id}/snapshot" if a.snapshot_path else None,
            track_id=a.track_id,
        )
        for a in rows
    ]


@router.get("/alerts/{alert_id}/snapshot", response_class=FileResponse, **MEDIA)
def alert_snapshot(
    alert_id: UUID, request: Request, grant: Media, conn: Connection
) -> FileResponse:
    """The alert's JPEG with the box drawn."""
    found = alerts.alert(conn, alert_id)
    if found is None or not grant.opens(f"snapshot:{alert_id}", found.camera_id):
        raise HTTPException(404, "no such alert")
    if found.snapshot_path is None:
        raise HTTPException(404, "no snapshot for this alert")
    path = segment_file(request.app.state.storage_root, found.snapshot_path)
    return FileResponse(path, media_type="image/jpeg")


NO_DETECTOR = "the detector worker is not running: see /api/health (admins) or `ronin up`'s log"


def _job_counts(conn: Connection, store_pending: int) -> JobCounts:
    counts = jobs.primary_status_counts(conn)
    return JobCounts(
        pending=store_pending,
        running=counts.get("running", 0),
        done=counts.get("done", 0),
        failed=counts.get("failed", 0),
        retrying=counts.get("retrying", 0),
    )


@router.get("/ml/status", response_model=MlStatus, **SIGNED_IN)
def ml_status(user: CurrentUser, conn: Connection, store: EventStoreDep) -> MlStatus:
    detector = next((s for s in worker_statuses(store.client) if s.name == "detector"), None)
    detail = detector.detail if detector and detector.alive else {}
    state = detail.get("detection", "down" if detector is None or not detector.alive else "off")
    group = next((g for g in store.groups(Topic.RECORDINGS) if g.name == DETECTION_GROUP), None)
    waiting = (group.lag or 0) if group else 0
    work = jobs.work_done(conn)
    analysed, skipped, inference_s = work.frames_analysed, work.frames_skipped, work.inference_s
    live = LiveStats(store.client).read()
    return MlStatus(
        detection=state,
        hint=None if state == "on" else detail.get("hint") or NO_DETECTOR,
        model_id=detail.get("model_id"),
        layout=detail.get("layout"),
        providers=[p for p in detail.get("providers", "").split(",") if p],
        live=detail.get("live") == "on",
        jobs=_job_counts(conn, waiting),
        running=[j for j in JobBoard(store.client).running() if user.may_see(j.camera_id)],
        frames_analysed=analysed,
        frames_skipped=skipped,
        inference_ms_per_frame=inference_s * 1000 / analysed if analysed else None,
        live_cameras=[
            LiveCamera(camera_id=camera, fps=rate.fps, frames=rate.frames, skipped=rate.skipped)
            for camera, rate in live.items()
            if user.may_see(camera)
        ],
    )
