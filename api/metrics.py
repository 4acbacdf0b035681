"""``GET /metrics``: Prometheus text, gathered from the read models and Redis on each
scrape (``api.metrics_families`` says what each metric is).

Admins may read it with their access token; a scraper uses ``METRICS_TOKEN`` (a long
secret set in the environment) as its bearer token, which opens this and nothing else.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from uuid import UUID

import psycopg
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.core import Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

from api.deps import BearerToken, Connection, EventStoreDep, admin_user, current_user
from api.metrics_families import CameraFigures, Figures, GroupFigures, families
from events.catalogue import Topic
from events.heartbeat import worker_statuses
from events.progress import LiveRate, LiveStats
from events.store import RedisEventStore
from ingest.worker import RECONNECTS_KEY
from projector.readmodels import cameras, jobs, segments, webhooks

router = APIRouter(tags=["status"])


def metrics_reader(request: Request, credentials: BearerToken) -> None:
    """METRICS_TOKEN, else an admin's access token."""
    expected = request.app.state.config.metrics_token
    if (
        credentials is not None
        and expected
        and hmac.compare_digest(credentials.credentials.encode(), expected.encode())
    ):
        return
    admin_user(current_user(request, credentials))


class _Figures(Collector):
    def __init__(self, figures: Figures) -> None:
        self._figures = figures

    def collect(self) -> Iterable[Metric]:
        return families(self._figures)


def _camera(
    row: cameras.CameraRow, stored: segments.CameraFootage | None, fps: dict[UUID, float],
    reconnects: dict[str, int], live: dict[UUID, LiveRate],
) -> CameraFigures:  # fmt: skip
    rate = live.get(row.camera_id)
    return CameraFigures(
        camera_id=row.camera_id,
        name=row.name,
        recording=row.status == "recording",
        fps=fps.get(row.camera_id),
        bytes=stored.bytes if stored else 0,
        segments=stored.segments if stored else 0,
        reconnects=reconnects.get(str(row.camera_id), 0),
        live_fps=rate.fps if rate else None,
        live_frames=rate.frames if rate else 0,
        live_skipped=rate.skipped if rate else 0,
    )


def gather(conn: psycopg.Connection, store: RedisEventStore) -> Figures:
    footage = {f.camera_id: f for f in segments.footage_by_camera(conn)}
    fps = segments.newest_fps(conn)
    raw: dict[bytes, bytes] = store.client.hgetall(RECONNECTS_KEY)  # type: ignore[assignment]
    reconnects = {k.decode(): int(v) for k, v in raw.items()}
    live = LiveStats(store.client).read()
    rows = cameras.all_cameras(conn)
    figures = [_camera(row, footage.get(row.camera_id), fps, reconnects, live) for row in rows]
    work = jobs.work_done(conn)
    groups = [GroupFigures(str(topic), g.name, g.lag, g.pending)
              for topic in Topic for g in store.groups(topic)]  # fmt: skip
    mqtt = next((s for s in worker_statuses(store.client) if s.name == "mqtt" and s.alive), None)
    return Figures(
        cameras=figures, frames_analysed=work.frames_analysed, inference_s=work.inference_s,
        groups=groups,
        deliveries=webhooks.delivery_counts(conn) if webhooks.created(conn) else {},
        mqtt_connected=None if mqtt is None else mqtt.detail.get("broker") == "connected",
        mqtt_published=int(mqtt.detail.get("published", 0)) if mqtt else 0,
    )  # fmt: skip


@router.get(
    "/metrics",
    response_class=Response,
    openapi_extra={"x-access": "admin"},
    dependencies=[Depends(metrics_reader)],
)
def metrics(conn: Connection, store: EventStoreDep) -> Response:
    """Prometheus text format (version 0.0.4)."""
    figures = gather(conn, store)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Figures(figures))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
