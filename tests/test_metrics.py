"""``/metrics``: Prometheus text from the read models and Redis, for admins and for the
scraper's METRICS_TOKEN only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import psycopg
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from api.app import ApiConfig, create_app
from api.auth import Users
from api.metrics import _Figures
from api.metrics_families import CameraFigures, Figures, GroupFigures
from events.archive import EventArchive, EventLog
from events.store import RedisEventStore
from ingest.worker import RECONNECTS_KEY
from projector.postgres import PostgresReadModels
from projector.readmodels import cameras_projection, recordings_projection
from projector.runner import ProjectionRunner
from tests.factories import camera_added, segment_closed

TOKEN = "scraper-" + "x" * 40


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_figures_become_prometheus_text() -> None:
    from prometheus_client.exposition import generate_latest

    door = uuid4()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Figures(Figures(
        cameras=[CameraFigures(door, "Door", True, fps=15.0, bytes=1000, segments=2,
                               reconnects=3, live_fps=1.0, live_frames=9, live_skipped=4)],
        frames_analysed=120, inference_s=1.5,
        groups=[GroupFigures("detections", "alerts", 5, 1)],
        deliveries={("Porch light", True): 7, ("Porch light", False): 1},
        mqtt_connected=True, mqtt_published=42,
    )))  # fmt: skip
    got = samples(generate_latest(registry).decode())
    camera = (("camera", "Door"), ("camera_id", str(door)))
    assert got[("ronin_camera_recording", camera)] == 1.0
    assert got[("ronin_camera_reconnects_total", camera)] == 3
    assert got[("ronin_live_detection_frames_total", (*camera, ("outcome", "skipped")))] == 4
    assert got[("ronin_detection_inference_seconds_total", ())] == 1.5
    assert got[("ronin_queue_lag", (("group", "alerts"), ("topic", "detections")))] == 5
    failed = (("outcome", "failed"), ("webhook", "Porch light"))
    assert got[("ronin_webhook_deliveries_total", failed)] == 1
    assert got[("ronin_mqtt_connected", ())] == 1 and got[("ronin_mqtt_published_total", ())] == 42


@pytest.fixture
def client(
    servers, store: RedisEventStore, database_url: str, tmp_path: Path
) -> Iterator[TestClient]:
    with psycopg.connect(database_url) as conn:
        Users(conn).add("alice", "correct horse battery", role="admin")
        Users(conn).add("bob", "correct horse battery", role="viewer")
    config = ApiConfig(servers.redis_url, database_url, tmp_path / "none.duckdb", [],
                       jwt_secret="s" * 40, metrics_token=TOKEN)  # fmt: skip
    with TestClient(create_app(config)) as test_client:
        yield test_client


def bearer(client: TestClient, username: str) -> dict[str, str]:
    login = {"username": username, "password": "correct horse battery"}
    token = client.post("/api/auth/login", json=login).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def test_metrics_come_from_the_read_models_and_need_the_token_or_an_admin(
    client: TestClient, store: RedisEventStore, database_url: str
) -> None:
    camera = camera_added("Door")
    store.append(camera)
    store.append_many([segment_closed(camera.camera_id, i) for i in range(3)])
    with psycopg.connect(database_url) as conn, psycopg.connect(database_url) as archive:
        for projection in (cameras_projection(), recordings_projection()):
            ProjectionRunner(projection, store, EventLog(store, EventArchive(archive)),
                             PostgresReadModels(conn), "t").step()  # fmt: skip
    store.client.hincrby(RECONNECTS_KEY, str(camera.camera_id), 2)
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers=bearer(client, "bob")).status_code == 403
    assert client.get("/metrics", headers=bearer(client, "alice")).status_code == 200
    answer = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    got = samples(answer.text)
    door = (("camera", "Door"), ("camera_id", str(camera.camera_id)))
    assert got[("ronin_camera_segments", door)] == 3
    assert got[("ronin_camera_recorded_bytes", door)] > 0
    assert got[("ronin_camera_fps", door)] > 0
    assert got[("ronin_camera_reconnects_total", door)] == 2
