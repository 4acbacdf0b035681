"""Statistics from the DuckDB analytics snapshot (read-only): the stats pages' charts.

- ``GET /api/stats/detections?days=&camera_id=&model_id=``: detections per hour and class.
- ``GET /api/stats/storage?days=``: bytes recorded per day and camera.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from uuid import UUID

import duckdb
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from api.deps import SIGNED_IN, CurrentUser, ensure_visible
from events.errors import StoreUnavailable
from projector.analytics import open_snapshot

router = APIRouter(prefix="/api/stats", tags=["stats"])
log = logging.getLogger(__name__)


class HourlyDetections(BaseModel):
    hour: datetime
    label: str
    count: int


class DailyStorage(BaseModel):
    day: datetime
    camera_id: UUID
    bytes: int
    segments: int


def _query(request: Request, sql: str, params: list[object]) -> list[tuple[object, ...]]:
    try:
        with open_snapshot(request.app.state.config.analytics_snapshot) as con:
            return con.execute(sql, params).fetchall()
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
    model_id: str | None = None,
) -> list[HourlyDetections]:
    ensure_visible(user, camera_id)
    since = datetime.now(UTC) - timedelta(days=days)
    visible = user.camera_filter()
    rows = _query(
        request,
        "SELECT date_trunc('hour', detected_at) AS hour, label, count(*)"
        " FROM analytics_detections.detections WHERE detected_at >= ?"
        " AND (camera_id = ? OR ? IS NULL) AND (model_id = ? OR ? IS NULL)"
        " AND (?::uuid[] IS NULL OR list_contains(?::uuid[], camera_id))"
        " GROUP BY 1, 2 ORDER BY 1, 2",
        [since, camera_id, camera_id, model_id, model_id, visible, visible],
    )
    return [
        HourlyDetections(hour=h, label=str(label), count=int(n))  # type: ignore[call-overload]
        for h, label, n in rows
    ]


@router.get("/storage", response_model=list[DailyStorage], **SIGNED_IN)
def storage_per_day(
    request: Request, user: CurrentUser, days: int = Query(30, ge=1, le=3660)
) -> list[DailyStorage]:
    since = datetime.now(UTC) - timedelta(days=days)
    rows = _query(
        request,
        "SELECT date_trunc('day', start_at) AS day, camera_id, sum(bytes), count(*)"
        " FROM analytics_recordings.segments WHERE start_at >= ? GROUP BY 1, 2 ORDER BY 1, 2",
        [since],
    )
    return [
        DailyStorage(day=d, camera_id=c, bytes=int(b), segments=int(n))  # type: ignore[call-overload]
        for d, c, b, n in rows
        if user.may_see(c)  # type: ignore[arg-type]
    ]
