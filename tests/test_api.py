"""The API against real PostgreSQL, Redis, ffprobe and a simulated camera: auth, cameras."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import ApiConfig, create_app
from api.auth import Tokens, User, Users
from events.archive import EventArchive, EventLog
from events.catalogue import CameraAdded, Topic
from events.codec import decode
from events.store import ZERO, RedisEventStore
from projector.postgres import PostgresReadModels
from projector.readmodels import cameras_projection
from projector.runner import ProjectionRunner
from tests.conftest import Servers
from tests.factories import camera_added
from tests.ingest_support import free_port, sim

SECRET = "test-secret-" + "x" * 40


@pytest.fixture
def client(servers: Servers, store: RedisEventStore, database_url: str, tmp_path: Path
           ) -> Iterator[TestClient]:  # fmt: skip
    with psycopg.connect(database_url) as conn:
        Users(conn).add("alice", "correct horse battery", role="admin")
    config = ApiConfig(servers.redis_url, database_url, tmp_path / "none.duckdb", [],
                       jwt_secret=SECRET)  # fmt: skip
    with TestClient(create_app(config)) as test_client:
        yield test_client


def login(client: TestClient, password: str = "correct horse battery") -> dict[str, str]:
    response = client.post("/api/auth/login", json={"username": "alice", "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_login_gives_a_token_that_opens_the_api(client: TestClient) -> None:
    headers = login(client)
    assert client.get("/api/auth/me", headers=headers).json() == {
        "username": "alice",
        "role": "admin",
        "is_admin": True,
    }
    assert client.get("/api/cameras", headers=headers).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-a-token"},
        {
            "Authorization": "Bearer "
            + Tokens(SECRET, 60).issue(User("alice", "admin"), expiry_s=-5)
        },
        {
            "Authorization": "Bearer "
            + Tokens("another-secret" * 4, 60).issue(User("alice", "admin"))
        },
        {
            "Authorization": "Bearer "
            + Tokens(SECRET, 60).issue(User("alice", "admin"))[:-3]
            + "abc"
        },
    ],
    ids=["none", "garbage", "expired", "other-secret", "tampered"],
)
def test_no_valid_token_is_401(client: TestClient, headers: dict[str, str]) -> None:
    for path in ("/api/cameras", "/api/auth/me"):
        response = client.get(path, headers=headers)
        assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"


def test_wrong_password_is_401_and_health_needs_no_token(client: TestClient) -> None:
    bad = client.post("/api/auth/login", json={"username": "alice", "password": "guess"})
    assert bad.status_code == 401 and bad.json()["detail"] == "wrong user name or password"
    assert client.get("/api/health").status_code in (200, 503)


def test_add_camera_tests_the_connection_and_never_returns_credentials(
    client: TestClient, store: RedisEventStore, database_url: str, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    camera, server = sim(user="admin", password="s3cret-pw")
    headers = login(client)
    try:
        wrong = client.post(
            "/api/cameras",
            headers=headers,
            json={"name": "Door", "rtsp_url": camera.url, "username": "admin", "password": "nope"},
        )
        assert wrong.status_code == 422 and "401 Unauthorized" in wrong.json()["detail"]
        added = client.post("/api/cameras", headers=headers, json={
            "name": "Door", "rtsp_url": camera.url, "username": "admin",
            "password": "s3cret-pw"})  # fmt: skip
        assert added.status_code == 202, added.text
        assert added.json()["connection"]["video_codec"] == "h264"
    finally:
        server.terminate()
    [message] = store.read_range(Topic.CAMERAS, ZERO, 10)
    event = decode(message.fields)
    assert isinstance(event, CameraAdded) and event.directory == "Door"
    assert b"s3cret-pw" not in b"".join(message.fields.values())

    with psycopg.connect(database_url) as conn, psycopg.connect(database_url) as archive:
        runner = ProjectionRunner(cameras_projection(), store,
                                  EventLog(store, EventArchive(archive)),
                                  PostgresReadModels(conn), "t")  # fmt: skip
        runner.step()  # the projector folds CameraAdded into the read model
    listed = client.get("/api/cameras", headers=headers)
    assert [c["name"] for c in listed.json()] == ["Door"]
    assert listed.json()[0]["has_credentials"] is True
    assert "s3cret-pw" not in listed.text and "credentials_ciphertext" not in listed.text
    assert not [r for r in caplog.records if "s3cret-pw" in r.getMessage()]


def test_connection_test_explains_failures(client: TestClient) -> None:
    headers = login(client)
    answer = client.post("/api/cameras/test", headers=headers,
                         json={"rtsp_url": f"rtsp://127.0.0.1:{free_port()}/x"})  # fmt: skip
    assert answer.status_code == 200
    assert answer.json()["ok"] is False and "connection refused" in answer.json()["reason"]
    invalid = client.post("/api/cameras/test", headers=headers, json={"rtsp_url": "file:///etc"})
    assert invalid.status_code == 422


def test_a_sub_stream_is_tested_beside_the_main_one_and_saved_with_it(
    client: TestClient, store: RedisEventStore, database_url: str
) -> None:
    main, main_server = sim(user="admin", password="pw-1", width=640, height=360)
    sub, sub_server = sim(user="admin", password="pw-1", width=320, height=180)
    headers = login(client)
    both = {"rtsp_url": main.url, "sub_rtsp_url": sub.url, "username": "admin", "password": "pw-1"}
    try:
        answer = client.post("/api/cameras/test", headers=headers, json=both).json()
        assert answer["ok"] and (answer["width"], answer["sub_stream"]["width"]) == (640, 320)
        dead = {**both, "sub_rtsp_url": f"rtsp://127.0.0.1:{free_port()}/sub"}
        failed = client.post("/api/cameras/test", headers=headers, json=dead).json()
        assert not failed["ok"] and failed["reason"].startswith("the sub-stream: ")
        refused = client.post("/api/cameras", headers=headers, json={"name": "Yard", **dead})
        assert refused.status_code == 422 and "sub-stream" in refused.json()["detail"]
        added = client.post("/api/cameras", headers=headers, json={"name": "Yard", **both})
        assert added.status_code == 202, added.text
    finally:
        main_server.terminate()
        sub_server.terminate()
    [message] = store.read_range(Topic.CAMERAS, ZERO, 10)
    event = decode(message.fields)
    assert isinstance(event, CameraAdded) and event.sub_rtsp_url == sub.url
    assert b"pw-1" not in b"".join(message.fields.values())
    with psycopg.connect(database_url) as conn, psycopg.connect(database_url) as archive:
        ProjectionRunner(cameras_projection(), store, EventLog(store, EventArchive(archive)),
                         PostgresReadModels(conn), "t").step()  # fmt: skip
    [listed] = client.get("/api/cameras", headers=headers).json()
    assert listed["sub_rtsp_url"] == sub.url
    # the stored password goes to the hosts it was saved for, not to a new sub-stream host
    moved = {**both, "sub_rtsp_url": "rtsp://192.0.2.7/sub", "password": None, "skip_test": True}
    changed = client.put(f"/api/cameras/{listed['camera_id']}", headers=headers,
                         json={"name": "Yard", **moved})  # fmt: skip
    assert changed.status_code == 422 and "password again" in changed.json()["detail"]


def read_sse(client: TestClient, headers: dict[str, str], limit: int) -> list[dict[str, str]]:
    events, current = [], {}
    with client.stream("GET", "/api/events/stream", headers=headers,
                       params={"limit": limit}) as response:  # fmt: skip
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if not line:
                if current:
                    events.append(current)
                current = {}
            elif not line.startswith(":"):
                key, _, value = line.partition(": ")
                current[key] = value
    return events


def test_sse_pushes_alerts_and_status_and_resumes_from_last_event_id(
    client: TestClient, store: RedisEventStore
) -> None:
    from uuid import uuid4

    from events.catalogue import AlertRaised, CameraDisconnected

    headers = login(client)
    camera = uuid4()
    store.append(CameraDisconnected(camera_id=camera, reason="401 Unauthorized"))
    store.append(AlertRaised(alert_id=uuid4(), camera_id=camera, detection_id=uuid4(),
                             label="person", confidence=0.9,
                             detected_at=datetime.now(UTC)))  # fmt: skip
    store.append(CameraAdded(camera_id=camera, name="X", directory="X", rtsp_url="rtsp://h/x",
                             credentials_ciphertext="gAAAA-secret"))  # fmt: skip
    first = read_sse(client, {**headers, "Last-Event-ID": "0-0_0-0"}, 3)
    assert sorted(e["event"] for e in first) == [
        "AlertRaised", "CameraAdded", "CameraDisconnected"
    ]  # fmt: skip
    assert all("gAAAA-secret" not in e["data"] for e in first)
    resumed = read_sse(client, {**headers, "Last-Event-ID": first[0]["id"]}, 2)
    assert [e["id"] for e in resumed] == [e["id"] for e in first[1:]]


def test_zones_and_masks_are_set_by_event_and_read_back(
    client: TestClient, store: RedisEventStore, database_url: str
) -> None:
    headers = login(client)
    camera = camera_added("Door")
    store.append(camera)

    def project() -> None:
        with psycopg.connect(database_url) as conn, psycopg.connect(database_url) as archive:
            runner = ProjectionRunner(cameras_projection(), store,
                                      EventLog(store, EventArchive(archive)),
                                      PostgresReadModels(conn), "t")  # fmt: skip
            while runner.step():
                pass

    project()
    url = f"/api/cameras/{camera.camera_id}/zones"
    assert client.get(url, headers=headers).json()["zones"] == []
    square = [[0.2, 0.2], [0.6, 0.2], [0.6, 0.6]]
    config = {"zones": [{"name": "door", "points": square, "labels": ["person"]}],
              "required_zones": ["door"], "object_masks": [square]}  # fmt: skip
    assert client.put(url, headers=headers, json=config).status_code == 202
    project()
    stored = client.get(url, headers=headers).json()
    assert stored["zones"][0]["name"] == "door" and stored["zones"][0]["inertia"] == 3
    assert stored["required_zones"] == ["door"] and len(stored["object_masks"]) == 1
    unknown = client.put(url, headers=headers, json={**config, "required_zones": ["garden"]})
    assert unknown.status_code == 422 and "garden" in unknown.json()["detail"]
    outside = client.put(
        url, headers=headers, json={"zones": [{"name": "x", "points": [[0, 0], [2, 0], [1, 1]]}]}
    )
    assert outside.status_code == 422
    gone = client.put(f"/api/cameras/{uuid4()}/zones", headers=headers, json=config)
    assert gone.status_code == 404
