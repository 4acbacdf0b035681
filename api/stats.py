"""Statistics from the DuckDB analytics snapshot (read-only): the stats pages' charts.

- ``GET /api/stats/detections?days=&camera_id=&model_id=``: detections per hour and class.
- ``GET /api/stats/storage?days=``: bytes recorded per day and camera.
- ``GET /api/stats/tracks?days=&camera_id=&label=&zone=&min_duration_s=``: tracked objects
  per day and class, and how long they stayed ("people who stayed over 30 s in the
  driveway, last week").
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar
from uuid import UUID

import duckdb
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from api.deps import SIGNED_IN, Connection, CurrentUser, ensure_visible
from api.inputs import CONTROL_FREE
from events.errors import StoreUnavailable
from projector.analytics import open_snapshot
from projector.readmodels import detections, jobs, segments, tracks

router = APIRouter(prefix="/api/stats", tags=["stats"])
log = logging.getLogger(__name__)


class HourlyDetections(BaseModel):
    hour: datetime
    label: str
    count: int


class DailyTracks(BaseModel):
    day: datetime
    label: str
    tracks: int
    total_s: float
    longest_s: float


class DailyStorage(BaseModel):
    day: datetime
    camera_id: UUID
    bytes: int
    segments: int


T = TypeVar("T")


def _from_snapshot(
    request: Request, query: Callable[[duckdb.DuckDBPyConnection], list[T]]
) -> list[T]:
    try:
        with open_snapshot(request.app.state.config.analytics_snapshot) as con:
            return query(con)
    except (StoreUnavailable, duckdb.CatalogException) as e:
        # no snapshot published yet (or no table in it): nothing to chart yet; /api/health
        # says whether the analytics are healthy
        log.info("stats: analytics not available: %s", e)
        return []


@router.get("/detections", response_model=list[HourlyDetections], **SIGNED_IN)
def detections_per_hour(
    request: Request,
    user: CurrentUser,
    days: int = Query(7, ge=1, le=366),
    camera_id: UUID | None = None,
    model_id: str | None = Query(None, max_length=200, pattern=CONTROL_FREE),
) -> list[HourlyDetections]:
    ensure_visible(user, camera_id)
    since = datetime.now(UTC) - timedelta(days=days)
    visible = user.camera_filter()
    rows = _from_snapshot(
        request, lambda con: detections.per_hour(con, since, camera_id, model_id, visible)
    )
    return [HourlyDetections(hour=r.hour, label=r.label, count=r.count) for r in rows]


@router.get("/storage", response_model=list[DailyStorage], **SIGNED_IN)
def storage_per_day(
    request: Request, user: CurrentUser, days: int = Query(30, ge=1, le=3660)
) -> list[DailyStorage]:
    since = datetime.now(UTC) - timedelta(days=days)
    rows = _from_snapshot(request, lambda con: segments.footage_per_day(con, since))
    return [
        DailyStorage(day=r.day, camera_id=r.camera_id, bytes=r.bytes, segments=r.segments)
        for r in rows
        if user.may_see(r.camera_id)
    ]


@router.get("/tracks", response_model=list[DailyTracks], **SIGNED_IN)
def tracks_per_day(
    request: Request,
    user: CurrentUser,
    conn: Connection,
    days: int = Query(7, ge=1, le=366),
    camera_id: UUID | None = None,
    label: str | None = Query(None, max_length=64, pattern=CONTROL_FREE),
    zone: str | None = Query(
        None, max_length=64, pattern=CONTROL_FREE, description="entered this zone"
    ),
    min_duration_s: float | None = Query(None, ge=0, description="stayed at least this long"),
    model_id: str | None = Query(
        None, description="default: the primary model", max_length=200, pattern=CONTROL_FREE
    ),
) -> list[DailyTracks]:
    ensure_visible(user, camera_id)
    model_id = model_id or jobs.primary_model(conn)
    since = datetime.now(UTC) - timedelta(days=days)
    where = tracks.TrackFilter(
        model_id=model_id, camera_id=camera_id, visible=user.camera_filter(), label=label,
        min_duration_s=min_duration_s, zone=zone,
    )  # fmt: skip
    rows = _from_snapshot(request, lambda con: tracks.per_day(con, since, where))
    return [
        DailyTracks(day=r.day, label=r.label, tracks=r.tracks, total_s=r.total_s,
                    longest_s=r.longest_s)
        for r in rows
    ]  # fmt: skip
