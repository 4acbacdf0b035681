"""The FastAPI application factory; all clients are made in the lifespan, none at import."""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import psycopg
from fastapi import Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from psycopg_pool import ConnectionPool, PoolTimeout
from starlette.routing import Match, Mount
from starlette.types import Scope

from api.auth import LoginLimiter, Tokens
from api.camera_zones import router as camera_zones_router
from api.cameras import router as cameras_router
from api.client_address import Network
from api.deps import PUBLIC, optional_admin
from api.detections import router as detections_router
from api.event_fanout import EventFanout
from api.exports import router as exports_router
from api.footage import LayoutCache
from api.footage import router as footage_router
from api.health import HealthReport, check_health
from api.http_headers import add_security_headers
from api.known_cameras import KnownCameras
from api.live import router as live_router
from api.live_events import router as events_router
from api.live_feed import LiveFeeds
from api.metrics import router as metrics_router
from api.problems import add_problem_handlers, document
from api.push import router as push_router
from api.recordings import router as recordings_router
from api.review import router as review_router
from api.sessions import router as sessions_router
from api.stats import router as stats_router
from api.status import router as status_router
from api.stream_quota import StreamQuota
from api.tracks import router as tracks_router
from api.user_directory import UserDirectory
from api.users import router as users_router
from api.webhooks import router as webhooks_router
from events.errors import ProjectionError, StoreUnavailable
from events.store import RedisEventStore
from ingest.camera_config.credentials import CredentialCipher
from ingest.live.ring import STREAMS_DIR
from ingest.stills import StillCutter
from projector.postgres import PostgresReadModels
from projector.readmodels import postgres_projections

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ApiConfig:
    """What the API needs from the settings (wired by ``infra``)."""

    redis_url: str
    database_url: str
    analytics_snapshot: Path
    expected_workers: list[str]
    jwt_secret: str = field(default_factory=lambda: secrets.token_hex(32))
    """Signs session tokens; without one (tests, a bare app) a random one of its own."""
    token_expiry_s: int = 12 * 3600
    encryption_key: str = field(default_factory=CredentialCipher.new_key)
    cors_origins: list[str] = field(default_factory=list)
    storage_root: Path = Path("ronin-data/recordings")
    streams_root: Path | None = None
    """Where ingest writes the live rings (None: ``{storage_root}/.streams``)."""
    ui_dist: Path | None = None
    """The built web UI (``ui/dist``), served at ``/`` when present."""
    trusted_proxies: tuple[Network, ...] = ()
    """Peers whose ``X-Forwarded-For`` names the client (compose's nginx)."""
    camera_deny_networks: tuple[Network, ...] = ()
    """Where cameras may not be, besides link-local and cloud-metadata addresses."""
    export_max_hours: float = 24.0
    export_max_bytes: int = 10 * 10**9
    alert_classes: frozenset[str] = frozenset()
    """The classes whose review items are alerts (ALERT_CLASSES; empty: every class)."""
    vapid_private_pem: str | None = None
    """The installation's VAPID key (web push); None: web push is off."""
    push_allow_http: bool = False
    """Accept push endpoints over plain HTTP (tests' local push service)."""
    push_allow_networks: tuple[Network, ...] = ()
    """Push services allowed at addresses that are not public (PUSH_ALLOW_NETWORKS)."""
    metrics_token: str | None = None
    """A bearer token that opens ``/metrics`` (METRICS_TOKEN; admins' tokens do too)."""


def ensure_read_models(pool: ConnectionPool) -> None:
    """Create the (empty) read-model tables if the projector has not yet, so queries answer
    "nothing yet" instead of failing. Same DDL as the projector, idempotent; best effort:
    with PostgreSQL down the API still starts (and its health says so)."""
    for attempt in range(3):
        try:
            with pool.connection(timeout=2) as conn:
                sink = PostgresReadModels(conn)
                for projection in postgres_projections():
                    sink.ensure(projection)
            return
        except ProjectionError:  # the projector created the same schema at this moment
            continue
        except (PoolTimeout, psycopg.Error, StoreUnavailable) as e:
            log.warning("read models not ensured (attempt %d): %s", attempt + 1, e)
            return


class UiFiles(Mount):
    """The built UI at ``/``, for every path the API does not own: an API path asked with
    a method it does not have is the API's 405 (with its ``Allow``), not the UI's."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope.get("path", "").startswith(("/api/", "/metrics")):
            return Match.NONE, {}
        return super().matches(scope)


def create_app(config: ApiConfig) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = RedisEventStore.from_url(config.redis_url)
        pool = ConnectionPool(
            config.database_url,
            min_size=1,
            max_size=8,
            open=True,
            timeout=5,  # with PostgreSQL down a request answers 503 soon, not after 30 s
            check=ConnectionPool.check_connection,  # a restarted server: reconnect, no error
        )
        ensure_read_models(pool)
        app.state.store = store
        app.state.pool = pool
        app.state.tokens = Tokens(config.jwt_secret, config.token_expiry_s)
        app.state.users = UserDirectory(pool)
        app.state.limiter = LoginLimiter(store.client)
        app.state.connection_tests = set()
        app.state.stills = StillCutter()
        app.state.stream_quota = StreamQuota()
        app.state.known_cameras = KnownCameras(pool)
        app.state.footage_layouts = LayoutCache()
        app.state.event_fanout = EventFanout(config.redis_url)
        app.state.cipher = CredentialCipher(config.encryption_key)
        app.state.storage_root = config.storage_root
        app.state.live_feeds = LiveFeeds(config.streams_root or config.storage_root / STREAMS_DIR)
        app.state.redis_url = config.redis_url
        app.state.config = config
        try:
            yield
        finally:
            await app.state.live_feeds.close()
            await app.state.event_fanout.close()
            pool.close()
            store.client.close()

    app = FastAPI(title="Ronin NVR", version="0.1.0", lifespan=lifespan)
    add_security_headers(app)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=config.cors_origins,
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
    )

    add_problem_handlers(app)
    app.openapi = lambda: document(app)  # type: ignore[method-assign]

    @app.get(
        "/api/health",
        response_model=HealthReport,
        responses={503: {"model": HealthReport, "description": "a component is down"}},
        **PUBLIC,
    )
    def health(request: Request, admin: Annotated[bool, Depends(optional_admin)]) -> JSONResponse:
        """Up (200) or down (503); with an admin's token also each component's state (the
        details name servers, paths and errors: not for strangers)."""
        report = check_health(
            request.app.state.store,
            config.database_url,
            config.analytics_snapshot,
            config.expected_workers,
        )
        code = 200 if report.status == "ok" else 503
        if not admin:
            report = HealthReport(status=report.status, components=[], consumer_groups=[])
        return JSONResponse(report.model_dump(), status_code=code)

    app.include_router(sessions_router)
    app.include_router(users_router)
    app.include_router(camera_zones_router)
    app.include_router(cameras_router)
    app.include_router(live_router)
    app.include_router(recordings_router)
    app.include_router(events_router)
    app.include_router(status_router)
    app.include_router(exports_router)
    app.include_router(footage_router)
    app.include_router(detections_router)
    app.include_router(stats_router)
    app.include_router(tracks_router)
    app.include_router(review_router)
    app.include_router(webhooks_router)
    app.include_router(metrics_router)
    app.include_router(push_router)
    if config.ui_dist is not None and (config.ui_dist / "index.html").is_file():
        app.router.routes.append(UiFiles("/", StaticFiles(directory=config.ui_dist, html=True)))
    return app
