"""Attacks on a running API (real PostgreSQL and Redis), each answered securely: roles
and camera access on every operation (generated from the OpenAPI document), passwords
sent only where they were saved for, login limits that never lock the owner out,
connection tests that cannot scan the neighbourhood, bounded exports, headers."""

from __future__ import annotations

import base64
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import HTTPException
from fastapi.testclient import TestClient

from api.auth import LoginLimiter
from api.client_address import forwarded_client, parse_networks
from api.exports import Running
from api.http_headers import CONTENT_SECURITY_POLICY
from events.store import RedisEventStore
from ingest.camera_config.connection_test import test_connection
from ingest.camera_config.credentials import same_endpoint
from tests.conftest import Servers
from tests.security_support import (
    ADMIN_PASSWORD,
    VIEWER_PASSWORD,
    AuthorizationRecorder,
    World,
    fold,
    make_world,
)

ACCESS = {"public", "signed-in", "admin", "media"}
# followed until the client stops, and the end of the session: checked on their own
OWN_TESTS = {"/api/events/stream", "/api/auth/logout"}


@pytest.fixture
def world(servers: Servers, store: RedisEventStore, database_url: str, tmp_path: Path
          ) -> Iterator[World]:  # fmt: skip
    yield from make_world(servers.redis_url, store, database_url, tmp_path)


def operations(client: TestClient) -> list[tuple[str, str, dict[str, Any]]]:
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    return [(method.upper(), path, op) for path, ops in paths.items() for method, op in ops.items()]


def fill(path: str, world: World) -> str:
    """The path with every parameter naming something of the hidden camera's."""
    values = {"camera_id": world.hidden, "segment_id": world.hidden_segment,
              "alert_id": world.hidden_alert, "export_id": world.hidden_export,
              "track_id": world.hidden_track, "webhook_id": world.hidden,
              "subscription_id": world.hidden,
              "username": "admin", "name": "stream.m3u8"}  # fmt: skip
    for name, value in values.items():
        path = path.replace("{" + name + "}", str(value))
    assert "{" not in path, f"fill() does not know the parameter in {path}"
    return path


def call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> Any:
    body = {} if method in ("POST", "PUT", "PATCH") else None
    return client.request(method, path, headers=headers, json=body)


def test_every_operation_says_who_may_call_it(world: World) -> None:
    undeclared = [
        (m, p) for m, p, op in operations(world.client) if op.get("x-access") not in ACCESS
    ]
    assert not undeclared, (
        f"declare access (api.deps PUBLIC/SIGNED_IN/ADMIN_ONLY/MEDIA): {undeclared}"
    )


def test_a_stranger_gets_401_from_every_operation_but_login_and_health(world: World) -> None:
    for method, path, op in operations(world.client):
        if op["x-access"] == "public":
            continue
        answer = call(world.client, method, fill(path, world), {})
        assert answer.status_code == 401, (method, path, answer.status_code, answer.text)


def test_a_viewer_is_refused_configuration_and_sees_only_their_cameras(world: World) -> None:
    viewer = world.viewer()
    checked = 0
    for method, path, op in operations(world.client):
        if op["x-access"] == "public" or path in OWN_TESTS:
            continue
        answer = call(world.client, method, fill(path, world), viewer)
        where = (method, path, answer.status_code, answer.text[:200])
        if op["x-access"] == "admin":
            assert answer.status_code == 403, where
        elif "{" in path and "{username}" not in path:  # names the hidden camera's things
            assert answer.status_code == 404, where
        else:  # lists: nothing of the hidden camera
            assert answer.status_code < 500, where
        assert str(world.hidden) not in answer.text, where
        checked += 1
    assert checked >= 25
    listed = world.client.get("/api/cameras", headers=viewer).json()
    assert [c["camera_id"] for c in listed] == [str(world.seen)]
    alerts = world.client.get("/api/alerts", headers=viewer).json()
    assert [a["camera_id"] for a in alerts] == [str(world.seen)]
    detections = world.client.get("/api/detections", headers=viewer).json()
    assert {d["camera_id"] for d in detections} == {str(world.seen)}


def test_an_admin_sees_every_camera(world: World) -> None:
    listed = world.client.get("/api/cameras", headers=world.admin()).json()
    assert {c["camera_id"] for c in listed} == {str(world.seen), str(world.hidden)}


def test_the_event_stream_carries_only_the_viewers_cameras(world: World) -> None:
    headers = {**world.viewer(), "Last-Event-ID": "0-0_0-0"}
    with world.client.stream("GET", "/api/events/stream", headers=headers,
                             params={"limit": 2}) as answer:  # fmt: skip
        text = "".join(answer.iter_text())
    assert text.count("event: ") == 2 and "AlertRaised" in text and "CameraAdded" in text
    assert str(world.seen) in text and str(world.hidden) not in text


def test_a_live_media_token_opens_that_camera_only(world: World) -> None:
    admin = world.admin()
    started = world.client.post(f"/api/cameras/{world.seen}/stream/start", headers=admin)
    token = started.json()["playlist_url"].split("token=")[1]
    own = world.client.get(f"/api/cameras/{world.seen}/live/stream.m3u8?token={token}")
    assert own.status_code == 404 and own.json()["detail"] == "the live stream is not running"
    other = world.client.get(f"/api/cameras/{world.hidden}/live/stream.m3u8?token={token}")
    assert other.status_code == 404 and other.json()["detail"] == "no such camera"
    segment = world.client.get(f"/api/segments/{world.hidden_segment}/video?token={token}")
    assert segment.status_code == 404


def test_changing_a_role_or_password_or_logging_out_ends_sessions_at_once(world: World) -> None:
    admin, viewer = world.admin(), world.viewer()
    promoted = world.client.put("/api/users/viewer/access", headers=admin,
                                json={"role": "admin", "cameras": None})  # fmt: skip
    assert promoted.status_code == 200 and promoted.json()["role"] == "admin"
    assert world.client.get("/api/cameras", headers=viewer).status_code == 401
    again = world.viewer()
    assert world.client.get("/api/users", headers=again).status_code == 200
    world.client.put("/api/users/viewer/password", headers=admin, json={"password": "new pw 123"})
    assert world.client.get("/api/cameras", headers=again).status_code == 401
    fresh = world.login("viewer", "new pw 123")
    assert world.client.post("/api/auth/logout", headers=fresh).status_code == 204
    assert world.client.get("/api/cameras", headers=fresh).status_code == 401


def test_users_are_managed_by_admins_and_the_last_admin_stays(world: World) -> None:
    admin = world.admin()
    added = world.client.post("/api/users", headers=admin, json={
        "username": "guest", "password": "guest pw 1", "cameras": [str(world.seen)]})  # fmt: skip
    assert added.status_code == 201 and added.json()["role"] == "viewer"
    twice = world.client.post("/api/users", headers=admin,
                              json={"username": "guest", "password": "guest pw 1"})  # fmt: skip
    assert twice.status_code == 409
    assert world.client.delete("/api/users/admin", headers=admin).status_code == 403
    demoted = world.client.put("/api/users/admin/access", headers=admin, json={"role": "viewer"})
    assert demoted.status_code == 403 and "last admin" in demoted.json()["detail"]
    assert world.client.delete("/api/users/guest", headers=admin).status_code == 204
    assert world.client.delete("/api/users/guest", headers=admin).status_code == 404
    own = world.client.post("/api/auth/password", headers=world.viewer(), json={
        "current_password": VIEWER_PASSWORD, "new_password": "my own pw 1"})  # fmt: skip
    assert own.status_code == 200
    mine = {"Authorization": f"Bearer {own.json()['access_token']}"}
    assert world.client.get("/api/auth/me", headers=mine).json()["role"] == "viewer"


def test_a_stored_password_goes_only_where_it_was_saved_for(world: World) -> None:
    admin = world.admin()
    with AuthorizationRecorder() as camera, AuthorizationRecorder() as attacker:
        added = world.client.post("/api/cameras", headers=admin, json={
            "name": "Porch", "rtsp_url": camera.url, "username": "cam", "password": "cam-pw-1",
            "skip_test": True})  # fmt: skip
        assert added.status_code == 202
        fold(world.client.app.state.store, world.client.app.state.config.database_url)
        camera_id = added.json()["camera_id"]
        body = {"name": "Porch", "username": "cam", "rtsp_url": attacker.url}
        moved = world.client.put(f"/api/cameras/{camera_id}", headers=admin, json=body)
        assert moved.status_code == 422 and "password again" in moved.json()["detail"]
        assert attacker.connections == 0 and attacker.headers == []
        same = world.client.put(f"/api/cameras/{camera_id}", headers=admin,
                                json={**body, "rtsp_url": camera.url + "2"})  # fmt: skip
        assert same.status_code == 422  # the fake camera never lets anyone in...
        basic = base64.b64encode(b"cam:cam-pw-1").decode()
        assert f"Basic {basic}" in camera.headers  # ...but got the password it was saved for


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("rtsp://cam.lan/a", "rtsp://cam.lan:554/b", True),
        ("rtsp://Cam.Lan/a", "rtsp://cam.lan/a?x=1", True),
        ("rtsp://cam.lan/a", "rtsp://cam.lan:8554/a", False),
        ("rtsp://cam.lan/a", "rtsps://cam.lan/a", False),
        ("rtsp://cam.lan/a", "rtsp://evil.example/a", False),
        ("rtsp://10.0.0.5/a", "rtsp://10.0.0.5@evil.example/a", False),
    ],
)
def test_same_endpoint(a: str, b: str, same: bool) -> None:
    assert same_endpoint(a, b) is same


def test_connection_tests_refuse_link_local_and_metadata_and_run_one_at_a_time(
    world: World,
) -> None:
    admin = world.admin()
    for url in (
        "rtsp://169.254.169.254/latest",
        "rtsp://[fe80::1]/x",
        "rtsp://[::ffff:169.254.1.1]/x",
    ):
        answer = world.client.post("/api/cameras/test", headers=admin, json={"rtsp_url": url})
        assert answer.status_code == 422 and "refused" in answer.json()["detail"], answer.text
    world.client.app.state.connection_tests.add("admin")  # one of this admin's is running
    busy = world.client.post("/api/cameras/test", headers=admin,
                             json={"rtsp_url": "rtsp://127.0.0.1:1/x"})  # fmt: skip
    assert busy.status_code == 429


def test_a_deny_list_keeps_cameras_out_of_a_network(
    servers: Servers, store: RedisEventStore, database_url: str, tmp_path: Path
) -> None:
    deny = tuple(parse_networks("127.0.0.0/8"))
    for world in make_world(servers.redis_url, store, database_url, tmp_path,
                            camera_deny_networks=deny):  # fmt: skip
        answer = world.client.post("/api/cameras/test", headers=world.admin(),
                                   json={"rtsp_url": "rtsp://127.0.0.1:9/x"})  # fmt: skip
        assert answer.status_code == 422 and "127.0.0.0/8" in answer.json()["detail"]


def test_a_silent_camera_is_a_timeout_not_invalid_data() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:
        held: list[socket.socket] = []
        threading.Thread(target=lambda: held.append(silent.accept()[0]), daemon=True).start()
        answer = test_connection(f"rtsp://127.0.0.1:{silent.getsockname()[1]}/x", timeout_s=2)
    assert answer.reason == "timeout: the camera accepted the connection but sent nothing in 2 s"


def test_the_owner_logs_in_while_a_stranger_guesses(world: World) -> None:
    attacker = {"X-Forwarded-For": "203.0.113.9"}  # ignored: the test client is no proxy
    for _ in range(8):
        world.client.post("/api/auth/login", headers=attacker,
                          json={"username": "admin", "password": "guess"})  # fmt: skip
    slowed = world.client.post("/api/auth/login", json={"username": "admin", "password": "guess"})
    assert slowed.status_code == 429 and int(slowed.headers["Retry-After"]) >= 1
    limiter: LoginLimiter = world.client.app.state.limiter
    assert limiter.begin("198.51.100.7", "admin") is None  # the owner's address: not slowed
    limiter.end("198.51.100.7", "admin", "ok")


def test_login_limits_count_parallel_guesses(store: RedisEventStore) -> None:
    limiter = LoginLimiter(store.client, free_per_client=3)
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda _: limiter.begin("192.0.2.1", "admin"), range(16)))
    assert answers.count(None) == 3  # the rest wait, though none has failed yet
    for _ in range(3):
        limiter.end("192.0.2.1", "admin", "failed")
    wait = limiter.begin("192.0.2.1", "admin")
    assert wait is not None and wait >= 1
    assert limiter.begin("192.0.2.2", "admin") is None  # another client is not blocked


def test_unknown_clients_share_one_budget_per_user_known_devices_their_own(
    store: RedisEventStore,
) -> None:
    limiter = LoginLimiter(store.client, free_per_client=100, free_per_user=2)
    for client in ("192.0.2.10", "192.0.2.11"):  # a botnet, one guess each
        assert limiter.begin(client, "admin") is None
        limiter.end(client, "admin", "failed")
    assert limiter.begin("192.0.2.99", "admin") is not None  # any unknown client waits now
    assert limiter.begin("192.0.2.99", "viewer") is None  # another user's budget is whole
    limiter.end("192.0.2.99", "viewer", "ok")
    assert limiter.begin("192.0.2.99", "admin", device="owners-laptop") is None  # the owner
    limiter.end("192.0.2.99", "admin", "ok", device="owners-laptop")


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("172.30.80.10", "203.0.113.9", "203.0.113.9"),  # from the trusted proxy
        ("172.30.80.10", "1.2.3.4, 203.0.113.9", "203.0.113.9"),  # a forged hop is ignored
        ("198.51.100.1", "203.0.113.9", "198.51.100.1"),  # from anyone else: ignored
        ("172.30.80.10", None, "172.30.80.10"),
    ],
)
def test_forwarded_for_counts_only_from_trusted_proxies(
    peer: str, forwarded: str | None, client: str
) -> None:
    assert forwarded_client(peer, forwarded, parse_networks("172.30.80.0/24")) == client


def test_exports_are_bounded(world: World) -> None:
    admin = world.admin()
    start = datetime(1970, 1, 1, tzinfo=UTC)
    span = {"start": start.isoformat(), "end": (start + timedelta(days=47000)).isoformat()}
    long = world.client.post(f"/api/cameras/{world.seen}/exports", headers=admin, json=span)
    assert long.status_code == 422 and "at most 24 hours" in long.json()["detail"]


def test_security_headers_and_health_for_strangers(world: World) -> None:
    answer = world.client.get("/api/health")
    assert answer.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY.split("; ")[1]  # scripts
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert answer.json()["components"] == [] and answer.json()["consumer_groups"] == []
    full = world.client.get("/api/health", headers=world.admin()).json()
    assert {c["name"] for c in full["components"]} >= {"redis", "postgres"}
    assert ADMIN_PASSWORD not in answer.text


def test_a_media_token_is_for_a_media_url_only(world: World) -> None:
    admin = world.admin()
    wrong = world.client.post("/api/auth/media-token", headers=admin, json={"path": "/api/users"})
    assert wrong.status_code == 422
    path = f"/api/segments/{world.hidden_segment}/video"
    token = world.client.post("/api/auth/media-token", headers=world.viewer(), json={"path": path})
    assert token.status_code == 200  # issued, but it opens nothing the viewer may not see:
    opened = world.client.get(path, params={"token": token.json()["access_token"]})
    assert opened.status_code == 404


def test_exports_run_two_per_user_and_four_at_once() -> None:
    running = Running()
    for owner in ("alice", "alice", "bob", "bob"):
        running.claim(owner)
    with pytest.raises(HTTPException) as busy:
        running.claim("carol")  # four run already
    assert busy.value.status_code == 429
    running.release("bob")
    with pytest.raises(HTTPException) as own:
        running.claim("alice")  # two of hers run already
    assert own.value.status_code == 429 and "2 exports running" in own.value.detail
    running.claim("carol")
