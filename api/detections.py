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
from typing import Any
from uuid import UUID

import psycopg
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel

from api.deps import MEDIA, SIGNED_IN, Connection, CurrentUser, EventStoreDep, Media, ensure_visible
from api.recordings import primary_model, segment_file
from events.catalogue import Topic
from events.heartbeat import worker_statuses
from events.progress import DETECTION_GROUP, JobBoard, LiveStats, RunningJob

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


def _rows(conn: psycopg.Connection, sql: str, params: tuple[object, ...]) -> list[tuple[Any, ...]]:
    try:
        return conn.execute(sql, params).fetchall()
    except psycopg.errors.UndefinedTable:  # before the projector's first start
        conn.rollback()
        return []


@router.get("/detections", response_model=list[Detection], **SIGNED_IN)
def list_detections(
    user: CurrentUser,
    conn: Connection,
    camera_id: UUID | None = None,
    label: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    model_id: str | None = Query(None, description="default: the primary model"),
    live: bool | None = None,
    limit: int = Query(200, ge=1, le=5000),
) -> list[Detection]:
    """Newest first; filters combine (and keep to the cameras the user may see)."""
    ensure_visible(user, camera_id)
    model = model_id or primary_model(conn)
    clauses = ["(model_id = %s OR %s::text IS NULL)"]
    params: list[object] = [model, model]
    for column, op, value in (
        ("camera_id", "=", camera_id),
        ("camera_id", "= ANY", user.camera_filter()),
        ("label", "=", label),
        ("detected_at", ">=", start),
        ("detected_at", "<", end),
        ("live", "=", live),
    ):
        if value is not None:
            clauses.append(f"{column} {op}(%s)" if op == "= ANY" else f"{column} {op} %s")
            params.append(value)
    fields = list(Detection.model_fields)
    rows = _rows(
        conn,
        f"SELECT {', '.join(fields)} FROM detections.detections WHERE {' AND '.join(clauses)}"
        " ORDER BY detected_at DESC LIMIT %s",
        (*params, limit),
    )
    return [Detection(**dict(zip(fields, row, strict=True))) for row in rows]


@router.get("/detections/models", response_model=list[ModelResults], **SIGNED_IN)
def detection_models(conn: Connection) -> list[ModelResults]:
    """Models and how much each found (counts over every camera: no camera is named)."""
    primary = primary_model(conn)
    rows = _rows(
        conn,
        "SELECT model_id, (SELECT count(*) FROM detections.detections d"
        " WHERE d.model_id = j.model_id), count(*) FILTER (WHERE status = 'done')"
        " FROM detections.jobs j GROUP BY model_id ORDER BY model_id",
        (),
    )
    return [
        ModelResults(model_id=str(m), detections=int(n), jobs_done=int(j), primary=m == primary)
        for m, n, j in rows
    ]


@router.get("/alerts", response_model=list[Alert], **SIGNED_IN)
def list_alerts(
    user: CurrentUser,
    conn: Connection,
    camera_id: UUID | None = None,
    label: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> list[Alert]:
    """Newest first, of the cameras the user may see."""
    ensure_visible(user, camera_id)
    visible = user.camera_filter()
    rows = _rows(
        conn,
        "SELECT alert_id, camera_id, detection_id, label, confidence, detected_at, snapshot_path"
        " FROM alerts.alerts WHERE (camera_id = %s OR %s::uuid IS NULL)"
        " AND (camera_id = ANY(%s) OR %s::uuid[] IS NULL)"
        " AND (label = %s OR %s::text IS NULL) ORDER BY detected_at DESC LIMIT %s",
        (camera_id, camera_id, visible, visible, label, label, limit),
    )
    return [
        Alert(
            alert_id=a,
            camera_id=c,
            detection_id=d,
            label=lb,
            confidence=conf,
            detected_at=at,
            snapshot_url=f"/api/alerts/{a}/snapshot" if path else None,
        )
        for a, c, d, lb, conf, at, path in rows
    ]


@router.get("/alerts/{alert_id}/snapshot", response_class=FileResponse, **MEDIA)
def alert_snapshot(
    alert_id: UUID, request: Request, grant: Media, conn: Connection
) -> FileResponse:
    """The alert's JPEG with the box drawn."""
    rows = _rows(
        conn, "SELECT snapshot_path, camera_id FROM alerts.alerts WHERE alert_id = %s", (alert_id,)
    )
    if not rows or not grant.opens(f"snapshot:{alert_id}", rows[0][1]):
        raise HTTPException(404, "no such alert")
    if rows[0][0] is None:
        raise HTTPException(404, "no snapshot for this alert")
    path = segment_file(request.app.state.storage_root, str(rows[0][0]))
    return FileResponse(path, media_type="image/jpeg")


NO_DETECTOR = "the detector worker is not running: see /api/health (admins) or `ronin up`'s log"


def _work_done(conn: psycopg.Connection) -> tuple[int, int, float]:
    """Frames analysed, frames the motion gate skipped, inference seconds: every finished
    job's (the ``detections.jobs`` read model)."""
    rows = _rows(
        conn,
        "SELECT coalesce(sum(frames_analysed), 0), coalesce(sum(frames_skipped), 0),"
        " coalesce(sum(inference_s), 0) FROM detections.jobs WHERE status = 'done'",
        (),
    )
    analysed, skipped, inference = rows[0] if rows else (0, 0, 0.0)
    return int(analysed), int(skipped), float(inference)


def _job_counts(conn: psycopg.Connection, store_pending: int) -> JobCounts:
    rows = _rows(
        conn,
        "SELECT status, count(*) FROM detections.jobs WHERE NOT reprocess GROUP BY status",
        (),
    )
    counts = {str(status): int(n) for status, n in rows}
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
    analysed, skipped, inference_s = _work_done(conn)
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
