"""The newer surfaces against a running API (real PostgreSQL and Redis): what a viewer
reads of cameras and status, accounts that are removed and made again, and the login
limit behind a local proxy."""

from __future__ import annotations

import asyncio
import re
import secrets
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import psycopg
import pytest
from cryptography.fernet import Fernet
from psycopg_pool import ConnectionPool
from pydantic import ValidationError

from api.app import ApiConfig, create_app
from api.auth import Users
from api.client_address import limit_key
from api.event_fanout import EventFanout
from api.exports import ExportJob
from api.known_cameras import KnownCameras
from detector.model_store import KNOWN
from events.archive import EventArchive, EventLog
from events.catalogue import CameraDisconnected, PushSubscribed
from events.store import RedisEventStore
from infra.embedded import EmbeddedMosquitto
from infra.settings import Settings
from ingest.ffmpeg_log import redacted_reason
from projector.postgres import PostgresReadModels
from projector.readmodels import notifications_projection
from projector.runner import ProjectionRunner
from tests.api_server import served
from tests.conftest import Servers
from tests.security_support import World, fold, make_world


@pytest.fixture
def world(servers: Servers, store: RedisEventStore, database_url: str, tmp_path: Path
          ) -> Iterator[World]:  # fmt: skip
    yield from make_world(servers.redis_url, store, database_url, tmp_path)


def test_a_viewer_gets_no_stream_url_and_a_redacted_reason(
    world: World, store: RedisEventStore, database_url: str
) -> None:
    leaky = "Error opening input rtsp://admin:hunter2@10.0.0.5/cgi?password=hunter2"
    store.append(CameraDisconnected(camera_id=world.seen, reason=leaky))
    fold(store, database_url)
    [seen] = world.client.get("/api/cameras", headers=world.viewer()).json()
    assert seen["rtsp_url"] is None and seen["sub_rtsp_url"] is None
    assert seen["has_sub_stream"] is False
    assert "hunter2" not in str(seen) and seen["last_error"]
    listed = world.client.get("/api/cameras", headers=world.admin()).json()
    admin = {c["camera_id"]: c for c in listed}
    assert admin[str(world.seen)]["rtsp_url"].startswith("rtsp://")
    assert admin[str(world.seen)]["last_error"] == leaky


def test_fixed_reasons_reach_viewers_as_they_are() -> None:
    for plain in ("401 Unauthorized: wrong user name or password", "ffmpeg exited with code 1",
                  "ffmpeg was killed (signal 9)", None):  # fmt: skip
        assert redacted_reason(plain) == plain
    assert "secret" not in (redacted_reason("cannot open rtsp://u:secret@h/") or "")


def test_a_viewer_reads_storage_but_no_components_on_status(world: World) -> None:
    seen = world.client.get("/api/status", headers=world.viewer()).json()
    assert seen["components"] == [] and seen["consumer_groups"] == []
    assert [c["camera_id"] for c in seen["cameras"]] == [str(world.seen)]
    admin = world.client.get("/api/status", headers=world.admin()).json()
    assert {c["name"] for c in admin["components"]} >= {"redis", "postgres"}


def test_the_broker_password_is_never_on_a_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ps` shows every process's arguments to every local user: the embedded broker's
    password goes to mosquitto_passwd through a 0600 file, hashed in place."""
    seen: list[list[str]] = []
    real_run = subprocess.run

    def spy(argv: list[str], *args: Any, **kwargs: Any) -> Any:
        seen.append([str(a) for a in argv])
        return real_run(argv, *args, **kwargs)

    monkeypatch.setattr("infra.embedded.subprocess.run", spy)
    broker = EmbeddedMosquitto(tmp_path)
    spec = broker.prepare()
    password = (tmp_path / "mqtt.password").read_text().strip()
    assert seen and not any(password in arg for argv in seen for arg in argv)
    assert not any(password in arg for arg in spec.argv)
    users = tmp_path / "mosquitto" / "passwords"
    assert stat.S_IMODE(users.stat().st_mode) == 0o600
    line = users.read_text().strip()
    assert line.startswith("ronin:$") and password not in line  # hashed


def test_production_refuses_a_weak_signing_secret(tmp_path: Path) -> None:
    strong = secrets.token_urlsafe(48)
    base = {"ronin_env": "production", "encryption_key": Fernet.generate_key().decode(),
            "ronin_data_dir": tmp_path}  # fmt: skip
    for weak in ("x", "correct horse battery staple", "a" * 64, "abcabcabc" * 8):
        with pytest.raises(ValidationError, match="openssl rand"):
            Settings(jwt_secret_key=weak, **base)  # type: ignore[arg-type]
    assert Settings(jwt_secret_key=strong, **base).jwt_secret_value() == strong  # type: ignore[arg-type]
    assert Settings(jwt_secret_key="x", ronin_data_dir=tmp_path)  # development: any


def test_the_image_checks_the_models_pinned_sha256() -> None:
    dockerfile = (Path(__file__).parents[1] / "infra" / "docker" / "ronin.Dockerfile").read_text()
    pinned = re.search(r"ARG MODEL_SHA256=([0-9a-f]{64})", dockerfile)
    assert pinned and pinned.group(1) == KNOWN["yolox-nano"].sha256
    assert "sha256sum -c" in dockerfile


def test_guesses_through_a_local_proxy_share_the_user_names_budget(
    servers: Servers, database_url: str, tmp_path: Path
) -> None:
    """A reverse proxy, ssh tunnel or socat on the same machine: every guess arrives from
    127.0.0.1 with a new X-Forwarded-For. uvicorn no longer believes it, and however
    many addresses an attacker has, unknown clients share one slowing budget per user
    name, while the owner's browser (its device cookie) signs in on the first try."""
    with psycopg.connect(database_url) as conn:
        Users(conn).add("owner", "owner password 1", role="admin")
    config = ApiConfig(servers.redis_url, database_url, tmp_path / "none.duckdb", [],
                       jwt_secret=secrets.token_urlsafe(40),
                       storage_root=tmp_path / "s")  # fmt: skip
    with served(create_app(config)) as base, httpx.Client(base_url=base) as owner:
        assert owner.post("/api/auth/login", json=OWNER).status_code == 200
        assert owner.cookies.get("ronin_device")  # HttpOnly, for /api/auth
        answers = []
        for i in range(20):
            forged = {"X-Forwarded-For": f"203.0.113.{i}"}
            guess = {**OWNER, "password": f"guess {i}"}
            answers.append(
                httpx.post(f"{base}/api/auth/login", headers=forged, json=guess).status_code
            )
        assert answers.count(401) <= 6 and answers[-1] == 429, answers
        for i in range(20):  # each IPv6 address of a /64 is the same client
            assert limit_key(f"2001:db8:1:2::{i:x}") == "2001:db8:1:2::/64"
        assert owner.post("/api/auth/login", json=OWNER).status_code == 200  # first try


OWNER = {"username": "owner", "password": "owner password 1"}


def test_a_new_account_of_a_removed_name_inherits_nothing(
    world: World, store: RedisEventStore, database_url: str, tmp_path: Path
) -> None:
    """bob is removed and a new bob made: the old bob's tokens, push subscriptions and
    exports are not the new bob's."""
    admin = world.admin()
    bob_password = {"username": "bob", "password": "bob password 1"}
    made = world.client.post("/api/users", headers=admin,
                             json={**bob_password, "role": "viewer", "cameras": None})  # fmt: skip
    assert made.status_code == 201, made.text
    old = world.login("bob", "bob password 1")
    old_user = world.client.app.state.users.get("bob")
    export = ExportJob(export_id=uuid4(), camera_id=world.seen, owner="bob",
                       owner_id=old_user.user_id, state="done", progress=1.0)  # fmt: skip
    store.client.set(f"ronin:export:{export.export_id}", export.model_dump_json())
    orphan = ExportJob(export_id=uuid4(), camera_id=world.seen, owner="bob", state="done",
                       progress=1.0)  # made before accounts had ids  # fmt: skip
    store.client.set(f"ronin:export:{orphan.export_id}", orphan.model_dump_json())
    store.append(
        PushSubscribed(
            subscription_id=uuid4(),
            username="bob",
            endpoint="https://push.example/y",
            p256dh="k",
            auth="a",
        )
    )
    fold_notifications(store, database_url)
    assert world.client.delete("/api/users/bob", headers=admin).status_code == 204
    again = world.client.post("/api/users", headers=admin, json={**bob_password, "role": "viewer"})
    assert again.status_code == 201
    assert world.client.get("/api/auth/me", headers=old).status_code == 401  # old token
    new = world.login("bob", "bob password 1")
    assert world.client.get("/api/auth/me", headers=new).status_code == 200
    for job in (export, orphan):
        assert store.client.get(f"ronin:export:{job.export_id}") is None  # deleted with him
    fold_notifications(store, database_url)
    assert world.client.get("/api/push/subscriptions", headers=new).json() == []


def fold_notifications(store: RedisEventStore, database_url: str) -> None:
    with psycopg.connect(database_url) as conn, psycopg.connect(database_url) as archive:
        ProjectionRunner(notifications_projection(), store, EventLog(store, EventArchive(archive)),
                         PostgresReadModels(conn), "t").step()  # fmt: skip


def test_an_event_stream_ends_within_seconds_of_a_change_of_access(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("api.live_events.RECHECK_S", 0.3)
    viewer, admin = world.viewer(), world.admin()
    ended = threading.Event()

    def follow() -> None:
        with world.client.stream("GET", "/api/events/stream", headers=viewer) as answer:
            for _ in answer.iter_text():
                pass
        ended.set()

    threading.Thread(target=follow, daemon=True).start()
    time.sleep(1.0)
    assert not ended.is_set()  # a quiet stream stays open
    changed = world.client.put("/api/users/viewer/access", headers=admin,
                               json={"role": "viewer", "cameras": []})  # fmt: skip
    assert changed.status_code == 200
    assert ended.wait(5), "the stream went on after the viewer's access changed"


def test_a_malformed_host_is_a_clear_422_everywhere(world: World) -> None:
    """``[`` opens an IPv6 host that urllib refuses: found by the fuzzer as a 500."""
    admin = world.admin()
    asked = [
        world.client.post("/api/webhooks", headers=admin, json={"name": "x", "url": "http://[/"}),
        world.client.post("/api/cameras/test", headers=admin, json={"rtsp_url": "rtsp://[/x"}),
        world.client.post("/api/push/subscriptions", headers=admin,
                          json={"endpoint": "https://[/x", "keys": {"p256dh": "a", "auth": "b"}}),
    ]  # fmt: skip
    assert [a.status_code for a in asked] == [422, 422, 422], [a.text for a in asked]


def test_live_view_knows_its_cameras_through_a_database_restart(
    world: World, database_url: str
) -> None:
    pool = ConnectionPool(database_url, open=True)
    known = KnownCameras(pool, fresh_s=0)
    assert known.exists(world.seen) and not known.exists(uuid4())
    pool.close()  # PostgreSQL gone: the ids last read serve
    assert known.exists(world.seen) and not known.exists(uuid4())


def test_event_streams_opened_together_share_one_reader(servers: Servers) -> None:
    async def open_many() -> int:
        fanout = EventFanout(servers.redis_url)
        real, made = asyncio.create_task, []

        def counted(coro: Any) -> Any:
            made.append(coro)
            return real(coro)

        try:
            asyncio.create_task = counted  # type: ignore[assignment]
            await asyncio.gather(*(fanout.start() for _ in range(10)))
        finally:
            asyncio.create_task = real
            await fanout.close()
        return len(made)

    assert asyncio.run(open_many()) == 1
