"""Every text and URL the API takes is refused at the door when it is hostile: a
control character, too long, a host no library can call. The answer is a 422 problem
that names the field, never a 500 (PostgreSQL refuses NUL in text; httpx refuses an
invalid IDNA host), and nothing is saved."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.app import ApiConfig, create_app
from api.auth import Users
from api.problems import MEDIA_TYPE
from infra.demo import DEMO_CAMERA_ID
from tests.hostile_input import bad_host_urls, hostile_text

CAMERA = str(DEMO_CAMERA_ID)
RULE = {"labels": ["person"]}
BODIES: list[tuple[str, str, dict[str, Any], list[str]]] = [
    ("POST", "/api/auth/login", {"username": "a", "password": "b"}, ["username", "password"]),
    ("POST", "/api/users", {"username": "bob", "password": "long enough 1"}, ["password"]),
    ("POST", "/api/webhooks", {"name": "n", "url": "http://127.0.0.1:9/h", "rule": RULE},
     ["name", "url"]),
    ("POST", "/api/cameras", {"name": "n", "rtsp_url": "rtsp://127.0.0.1:9/x", "skip_test": True},
     ["name", "rtsp_url", "group", "username", "password"]),
    ("POST", "/api/cameras/test", {"rtsp_url": "rtsp://127.0.0.1:9/x"},
     ["rtsp_url", "username", "password"]),
    ("POST", "/api/push/subscriptions",
     {"endpoint": "https://push.example/x", "keys": {"p256dh": "k", "auth": "a"}}, ["endpoint"]),
    ("POST", "/api/auth/media-token", {"path": f"/api/cameras/{CAMERA}/footage.mp4"}, ["path"]),
    ("POST", "/api/auth/password", {"current_password": "x", "new_password": "long enough 1"},
     ["current_password", "new_password"]),
]  # fmt: skip
QUERIES = [("/api/alerts", "label"), ("/api/tracks", "zone"), ("/api/tracks", "label"),
           ("/api/detections", "label"), ("/api/review", "label"), ("/api/review", "zone"),
           ("/api/review", "model_id"), ("/api/stats/tracks", "label"),
           (f"/api/cameras/{CAMERA}/days", "timezone"),
           (f"/api/cameras/{CAMERA}/timeline?day=2026-12-07", "timezone")]  # fmt: skip
FAST = settings(max_examples=15, deadline=None, derandomize=True,
                suppress_health_check=list(HealthCheck))  # fmt: skip


@pytest.fixture(scope="module")
def admin(servers, tmp_path_factory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    name = f"t_inputs_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(servers.admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE ronin_template')
    database_url = servers.database_url(name)
    with psycopg.connect(database_url) as conn:
        Users(conn).add("alice", "correct horse battery", role="admin")
    tmp: Path = tmp_path_factory.mktemp("inputs")
    config = ApiConfig(servers.redis_url, database_url, tmp / "none.duckdb", [],
                       jwt_secret="s" * 40, storage_root=tmp / "storage")  # fmt: skip
    with TestClient(create_app(config)) as client:
        login = {"username": "alice", "password": "correct horse battery"}
        token = client.post("/api/auth/login", json=login).json()["access_token"]
        yield client, {"Authorization": f"Bearer {token}"}


def _refused(answer: Any, field: str) -> None:
    assert answer.status_code == 422, (field, answer.status_code, answer.text)
    assert answer.headers["content-type"] == MEDIA_TYPE
    problem = answer.json()
    assert problem["status"] == 422 and problem["title"] and problem["detail"]
    assert field in [e["field"] for e in problem["errors"]], (field, problem)


@pytest.mark.parametrize(("method", "path", "body", "fields"), BODIES,
                         ids=[f"{m} {p}" for m, p, _, _ in BODIES])  # fmt: skip
@given(value=hostile_text, which=st.integers(0, 10))
@FAST
def test_hostile_text_in_a_body_is_a_422_naming_the_field(
    admin, method: str, path: str, body: dict[str, Any], fields: list[str], value: str,
    which: int,
) -> None:  # fmt: skip
    client, headers = admin
    field = fields[which % len(fields)]
    answer = client.request(method, path, headers=headers, json={**body, field: value})
    _refused(answer, f"body.{field}")


@pytest.mark.parametrize(("path", "name"), QUERIES, ids=[f"{p} {n}" for p, n in QUERIES])
@given(value=hostile_text)
@FAST
def test_hostile_text_in_a_query_is_a_422_naming_the_parameter(
    admin, path: str, name: str, value: str
) -> None:
    client, headers = admin
    separator = "&" if "?" in path else "?"
    answer = client.get(f"{path}{separator}", headers=headers, params={name: value})
    _refused(answer, f"query.{name}")


@given(url=bad_host_urls)
@FAST
def test_a_url_no_library_can_call_is_refused_where_it_is_given(admin, url: str) -> None:
    client, headers = admin
    hook = client.post("/api/webhooks", headers=headers, json={"name": "n", "url": url})
    _refused(hook, "body.url")
    keys = {"p256dh": "k", "auth": "a"}
    push = client.post("/api/push/subscriptions", headers=headers,
                       json={"endpoint": url, "keys": keys})  # fmt: skip
    _refused(push, "body.endpoint")
    camera = url.replace("http", "rtsp", 1)
    added = client.post("/api/cameras", headers=headers,
                        json={"name": "n", "rtsp_url": camera, "skip_test": True})  # fmt: skip
    _refused(added, "body.rtsp_url")


def test_nothing_hostile_was_saved(admin) -> None:
    client, headers = admin
    assert [u["username"] for u in client.get("/api/users", headers=headers).json()] == ["alice"]


@given(value=hostile_text)
@FAST
def test_hostile_text_in_a_path_or_a_media_token_is_a_422(admin, value: str) -> None:
    client, headers = admin
    name = quote(value.replace("/", ""), safe="")  # a "/" is another path (the router's 404)
    _refused(client.delete(f"/api/users/{name}", headers=headers), "path.username")
    video = client.get(f"/api/cameras/{CAMERA}/footage.mp4", params={"token": value,
                       "start": "2026-12-07T00:00:00Z", "end": "2026-12-07T00:01:00Z"})  # fmt: skip
    _refused(video, "query.token")
