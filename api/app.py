"""The FastAPI application factory; all clients are made in the lifespan, none at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api.health import HealthReport, check_health
from events.store import RedisEventStore


@dataclass(frozen=True, slots=True)
class ApiConfig:
    """What the API needs from the settings (wired by ``infra``)."""

    redis_url: str
    database_url: str
    analytics_snapshot: Path
    expected_workers: list[str]


def create_app(config: ApiConfig) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = RedisEventStore.from_url(config.redis_url)
        app.state.store = store
        try:
            yield
        finally:
            store.client.close()

    app = FastAPI(title="Ronin NVR", version="0.1.0", lifespan=lifespan)

    @app.get(
        "/api/health",
        response_model=HealthReport,
        responses={503: {"model": HealthReport, "description": "a component is down"}},
    )
    def health(request: Request) -> JSONResponse:
        """Each component's state; 503 when any is down."""
        report = check_health(
            request.app.state.store,
            config.database_url,
            config.analytics_snapshot,
            config.expected_workers,
        )
        code = 200 if report.status == "ok" else 503
        return JSONResponse(report.model_dump(), status_code=code)

    return app
