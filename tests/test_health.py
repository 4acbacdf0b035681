"""/api/health: 200 when every component is up, 503 naming the one that is down."""

from __future__ import annotations

import contextlib
from pathlib import Path

import psycopg
from fastapi.testclient import TestClient

from api.app import ApiConfig, create_app
from api.auth import Tokens, User, Users
from events.catalogue import Topic
from events.heartbeat import WorkerHeartbeat
from events.store import ZERO, RedisEventStore
from projector.analytics import DuckDBReadModels
from projector.readmodels import analytics_projections
from tests.conftest import Servers
from tests.factories import segment_closed


def snapshot(tmp_path: Path) -> Path:
    sink = DuckDBReadModels(tmp_path / "live.duckdb")
    sink.ensure(analytics_projections()[0])
    sink.publish_snapshot(tmp_path / "snapshot.duckdb")
    sink.close()
    return tmp_path / "snapshot.duckdb"


def get_health(config: ApiConfig):
    """As an admin sees it (details); strangers get only the status."""
    admin = User("admin", "admin")  # with PostgreSQL down, the token's own role answers
    with contextlib.suppress(psycopg.OperationalError), psycopg.connect(config.database_url) as c:
        admin = Users(c).add("admin", "admin password", role="admin") or admin
    token = Tokens(config.jwt_secret, 60).issue(admin)
    with TestClient(create_app(config)) as client:
        stranger = client.get("/api/health")
        answer = client.get("/api/health", headers={"Authorization": f"Bearer {token}"})
    assert stranger.status_code == answer.status_code
    hidden = {"components": [], "consumer_groups": [], "given_up": []}
    assert stranger.json() == {**answer.json(), **hidden}
    return answer


def test_all_up_is_200(
    servers: Servers, store: RedisEventStore, database_url: str, tmp_path: Path
) -> None:
    WorkerHeartbeat(store.client, "projector").beat(applied=3)
    response = get_health(
        ApiConfig(servers.redis_url, database_url, snapshot(tmp_path), ["projector"])
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok"
    assert {c["name"] for c in body["components"]} == {
        "redis",
        "postgres",
        "duckdb",
        "worker:projector",
    }


def test_down_components_make_it_503(
    servers: Servers, store: RedisEventStore, tmp_path: Path
) -> None:
    WorkerHeartbeat(store.client, "archiver").beat()
    WorkerHeartbeat(store.client, "archiver").stop()
    bad_db = f"postgresql://ronin@/no_such_db?host={servers.socket_dir}"
    response = get_health(
        ApiConfig(servers.redis_url, bad_db, tmp_path / "none.duckdb", ["projector", "archiver"])
    )
    assert response.status_code == 503
    state = {c["name"]: c for c in response.json()["components"]}
    assert state["redis"]["ok"] is True
    assert state["postgres"]["ok"] is False and "no_such_db" in state["postgres"]["detail"]
    assert state["duckdb"]["ok"] is False and "no analytics snapshot" in state["duckdb"]["detail"]
    assert state["worker:projector"]["ok"] is False
    assert state["worker:archiver"]["detail"] == "no heartbeat"


def test_redis_down_is_503(servers: Servers, database_url: str, tmp_path: Path) -> None:
    response = get_health(
        ApiConfig("unix:///nonexistent/redis.sock", database_url, snapshot(tmp_path), ["projector"])
    )
    assert response.status_code == 503
    state = {c["name"]: c for c in response.json()["components"]}
    assert state["redis"]["ok"] is False and state["postgres"]["ok"] is True


def test_a_store_that_is_down_fails_only_what_needs_it_with_503(
    servers: Servers, database_url: str, tmp_path: Path
) -> None:
    gone_redis = f"unix://{tmp_path}/no-redis.sock"
    config = ApiConfig(gone_redis, database_url, snapshot(tmp_path), [], jwt_secret="s" * 40)
    with TestClient(create_app(config)) as client:
        login = client.post("/api/auth/login", json={"username": "a", "password": "b" * 8})
        assert login.status_code == 503 and login.headers["retry-after"] == "2"
        assert "Redis" in login.json()["detail"] and "sock" not in login.json()["detail"]
        with psycopg.connect(database_url) as conn:
            alice = Users(conn).add("alice", "alice password", role="admin")
        assert alice is not None
        token = Tokens("s" * 40, 60).issue(alice)
        health = client.get("/api/health", headers={"Authorization": f"Bearer {token}"})
        down = {c["name"] for c in health.json()["components"] if not c["ok"]}
        assert health.status_code == 503 and "redis" in down and "postgres" not in down
    gone_pg = f"postgresql://ronin@/nothing?host={tmp_path}"
    config = ApiConfig(servers.redis_url, gone_pg, snapshot(tmp_path), [], jwt_secret="s" * 40)
    with TestClient(create_app(config)) as client:
        token = Tokens("s" * 40, 60).issue(alice)
        cameras = client.get("/api/cameras", headers={"Authorization": f"Bearer {token}"})
        assert cameras.status_code == 503 and "PostgreSQL" in cameras.json()["detail"]


def test_items_a_worker_gave_up_on_are_counted_with_the_newest_reason(
    servers: Servers, store: RedisEventStore, database_url: str, tmp_path: Path
) -> None:
    store.append_many([segment_closed(index=i) for i in range(3)])
    store.ensure_group(Topic.RECORDINGS, "detector", start=ZERO)
    first, second, _ = store.read_group(Topic.RECORDINGS, "detector", "c", 3, None)
    store.dead_letter(Topic.RECORDINGS, "detector", first, "the file is gone")
    store.dead_letter(Topic.RECORDINGS, "detector", second, "not an MP4: moov atom not found")
    config = ApiConfig(servers.redis_url, database_url, snapshot(tmp_path), [])
    given_up = get_health(config).json()["given_up"]
    assert given_up == [{"topic": "recordings", "count": 2, "group": "detector",
                         "reason": "not an MP4: moov atom not found"}]  # fmt: skip
