"""Web push: quiet hours (pure), then the real notifier and API against a local push
service that decrypts every message (RFC 8291, aes128gcm) with the browser's keys and
checks its VAPID signature (RFC 8292) against the key the API hands out."""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import http_ece
import psycopg
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from py_vapid import Vapid

from api.app import ApiConfig, create_app
from api.auth import Tokens, Users
from detector.alerts import alert_id_for
from events.archive import EventArchive, EventLog
from events.catalogue import PushRule, TrackStarted
from events.store import RedisEventStore
from projector.notify.outbound import OutboundPolicy
from projector.notify.push import endpoint_refusal, quiet
from projector.notify.push_delivery import PushConfig
from projector.notify.push_sender import PostgresPushBook, PushSender
from projector.postgres import PostgresReadModels
from projector.readmodels import notifications_projection
from projector.runner import ProjectionRunner
from tests.ingest_support import free_port
from tests.local_http import posts_to
from tests.test_mqtt_pure import DOOR, track


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@given(st.integers(0, 23 * 60 + 59))
def test_quiet_hours_across_midnight(minute: int) -> None:
    now = datetime(2026, 12, 3, tzinfo=UTC) + timedelta(minutes=minute)
    night = PushRule(quiet_from="22:00", quiet_until="07:00")
    assert quiet(night, now) == (minute >= 22 * 60 or minute < 7 * 60)
    lunch = PushRule(quiet_from="12:00", quiet_until="13:00")
    assert quiet(lunch, now) == (12 * 60 <= minute < 13 * 60)
    assert not quiet(PushRule(), now)


def test_quiet_hours_are_the_users_local_time() -> None:
    rule = PushRule(quiet_from="22:00", quiet_until="07:00", timezone="Asia/Tokyo")
    assert quiet(rule, datetime(2026, 12, 3, 14, 0, tzinfo=UTC))  # 23:00 in Tokyo
    assert not quiet(rule, datetime(2026, 12, 3, 3, 0, tzinfo=UTC))  # 12:00 there


def test_push_endpoints_are_https() -> None:
    assert endpoint_refusal("https://fcm.googleapis.com/fcm/send/x") is None
    assert endpoint_refusal("http://127.0.0.1/x") is not None
    assert endpoint_refusal("http://127.0.0.1/x", allow_http=True) is None
    assert endpoint_refusal("file:///etc/passwd", allow_http=True) is not None


@dataclass
class Browser:
    """A browser's push keys (what ``PushManager.subscribe`` makes)."""

    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    def keys(self) -> dict[str, str]:
        point = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {"p256dh": b64(point), "auth": b64(self.auth)}


def vapid_claims(authorization: str) -> tuple[dict[str, object], str]:
    """The VAPID JWT's claims once its ES256 signature checked out against ``k``."""
    parts = dict(p.strip().split("=", 1) for p in authorization.removeprefix("vapid ").split(","))
    header, claims, signature = parts["t"].split(".")
    raw = unb64(signature)
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64(parts["k"]))
    der = encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:]))
    public.verify(der, f"{header}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))  # raises
    return json.loads(unb64(claims)), parts["k"]


@dataclass
class PushService:
    """A local push service: one inbox per path; ``/gone/...`` answers 410."""

    browsers: dict[str, Browser] = field(default_factory=dict)
    got: list[tuple[str, dict[str, object], dict[str, object], str]] = field(default_factory=list)

    @contextlib.contextmanager
    def serving(self) -> Iterator[str]:
        with posts_to(self._answer) as base:
            yield base

    def _answer(self, path: str, headers: dict[str, str], body: bytes) -> int:
        browser = self.browsers[path]
        plain = http_ece.decrypt(body, private_key=browser.key, auth_secret=browser.auth,
                                 version=headers["content-encoding"])  # fmt: skip
        claims, key = vapid_claims(headers["authorization"])
        self.got.append((path, json.loads(plain), claims, key))
        return 410 if path.startswith("/gone") else 201

    def subscribe(self, client: TestClient, headers: dict[str, str], base: str, path: str,
                  rule: dict[str, object] | None = None) -> str:  # fmt: skip
        self.browsers[path] = Browser()
        body = {"endpoint": base + path, "keys": self.browsers[path].keys(), "rule": rule or {}}
        answer = client.post("/api/push/subscriptions", headers=headers, json=body)
        assert answer.status_code == 202, answer.text
        return str(answer.json()["subscription_id"])

    def inbox(self, path: str) -> list[dict[str, object]]:
        return [message for p, message, _, _ in self.got if p == path]


PEM = Vapid()
PEM.generate_keys()
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)
"""The tests' push service is local; a real one is public (nothing to allow)."""
LOCAL_PUSH = OutboundPolicy(public_only=True, allow=LOOPBACK)


@pytest.fixture
def api(servers, database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    with psycopg.connect(database_url) as conn:
        Users(conn).add("alice", "correct horse battery", role="admin")
        Users(conn).add("bob", "correct horse battery", role="viewer", cameras=frozenset())
    config = ApiConfig(servers.redis_url, database_url, tmp_path / "none.duckdb", [],
                       jwt_secret="s" * 40, vapid_private_pem=PEM.private_pem().decode(),
                       push_allow_http=True, push_allow_networks=LOOPBACK)  # fmt: skip
    with TestClient(create_app(config)) as client:
        yield client


def login(client: TestClient, username: str) -> dict[str, str]:
    body = {"username": username, "password": "correct horse battery"}
    token = client.post("/api/auth/login", json=body).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def test_a_push_is_encrypted_signed_and_only_for_those_who_want_it_now(
    api: TestClient, store: RedisEventStore, database_url: str
) -> None:
    alice, bob = login(api, "alice"), login(api, "bob")
    service = PushService()
    with service.serving() as base:
        key = api.get("/api/push/key", headers=bob).json()["public_key"]
        mine = service.subscribe(api, alice, base, "/alice")
        service.subscribe(api, alice, base, "/alice-asleep",
                          {"quiet_from": "00:00", "quiet_until": "23:59"})  # fmt: skip
        service.subscribe(api, alice, base, "/alice-cars", {"labels": ["car"]})
        service.subscribe(api, bob, base, "/bob")  # bob may see no camera
        service.subscribe(api, alice, base, "/gone/alice")
        with psycopg.connect(database_url) as conn, psycopg.connect(database_url) as archive:
            runner = ProjectionRunner(notifications_projection(), store,
                                      EventLog(store, EventArchive(archive)),
                                      PostgresReadModels(conn), "t")  # fmt: skip
            runner.step()
            book = PostgresPushBook(psycopg.connect(database_url, autocommit=True))
            tokens = Tokens("s" * 40, 3600)
            config = PushConfig(
                allow_http=True, alert_labels=frozenset({"person"}), policy=LOCAL_PUSH,
                media_tokens=lambda user, res: tokens.issue(user, "media", 60, res),
            )  # fmt: skip
            sender = PushSender(store, book, PEM, f"n-{uuid4()}", config)
            sender.step(block_ms=50)
            person = uuid4()
            store.append(track(TrackStarted, person, 0, camera=DOOR, t0=datetime.now(UTC)))
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and len(service.got) < 2:
                sender.step(block_ms=50)
            for _ in range(10):  # anything else would come now
                sender.step(block_ms=50)
            tested = api.post(f"/api/push/subscriptions/{mine}/test", headers=alice).json()
            runner.step()
        listed = [s["endpoint"] for s in api.get("/api/push/subscriptions", headers=alice).json()]
    [push, test] = service.inbox("/alice")
    assert push["item_id"] == str(person) and push["title"] == "Person at a camera"
    assert push["url"] == f"/#/review?item={person}"
    snapshot, token = str(push["image"]).split("?token=")  # the alert's picture, its token
    assert snapshot == f"/api/alerts/{alert_id_for(person)}/snapshot"
    assert (
        Tokens("s" * 40, 60).verify(token, "media").resource == f"snapshot:{alert_id_for(person)}"
    )
    assert test["test"] is True and tested == {"ok": True, "reason": "delivered"}
    for path in ("/alice-asleep", "/alice-cars", "/bob"):
        assert service.inbox(path) == [], path
    assert len(service.inbox("/gone/alice")) == 1 and base + "/gone/alice" not in listed
    assert base + "/alice" in listed
    for _, _, claims, vapid_key in service.got:
        assert (
            vapid_key == key
            and str(claims["aud"]) == base
            and str(claims["sub"]).startswith("mailto:")
        )
        assert int(str(claims["exp"])) > time.time()


def test_a_user_cannot_push_to_cameras_they_may_not_see_nor_touch_others_subscriptions(
    api: TestClient,
) -> None:
    alice, bob = login(api, "alice"), login(api, "bob")
    service = PushService()
    with service.serving() as base:
        hidden = {
            "endpoint": base + "/b",
            "keys": Browser().keys(),
            "rule": {"cameras": [str(DOOR)]},
        }
        assert api.post("/api/push/subscriptions", headers=bob, json=hidden).status_code == 404
        theirs = service.subscribe(api, alice, base, "/a")
    assert api.delete(f"/api/push/subscriptions/{theirs}", headers=bob).status_code == 404
    assert api.post(f"/api/push/subscriptions/{UUID(int=1)}/test", headers=bob).status_code == 404


def test_push_endpoints_must_be_public(servers, database_url: str, tmp_path: Path) -> None:
    with psycopg.connect(database_url) as conn:
        Users(conn).add("bob", "correct horse battery", role="viewer")
    config = ApiConfig(servers.redis_url, database_url, tmp_path / "none.duckdb", [],
                       vapid_private_pem=PEM.private_pem().decode())  # fmt: skip
    with TestClient(create_app(config)) as api:
        bob, keys = login(api, "bob"), Browser().keys()
        for endpoint in ("https://127.0.0.1/x", "https://10.0.0.7/x", "https://[::1]/x",
                         "https://169.254.169.254/latest", "https://192.168.1.1:8443/",
                         "https://localhost/x"):  # fmt: skip
            answer = api.post("/api/push/subscriptions", headers=bob,
                              json={"endpoint": endpoint, "keys": keys})  # fmt: skip
            assert answer.status_code == 422, (endpoint, answer.text)


def test_at_most_ten_browsers_and_a_test_says_only_delivered_or_not(
    api: TestClient, store: RedisEventStore, database_url: str
) -> None:
    bob, keys = login(api, "bob"), Browser().keys()
    port = free_port()  # nothing listens: refused
    made = [api.post("/api/push/subscriptions", headers=bob,
                     json={"endpoint": f"http://127.0.0.1:{port}/{i}", "keys": keys})
            for i in range(11)]  # fmt: skip
    assert [m.status_code for m in made] == [202] * 10 + [409]
    assert "at most 10" in made[-1].json()["detail"]
    sid = made[0].json()["subscription_id"]
    with psycopg.connect(database_url) as conn, psycopg.connect(database_url) as archive:
        ProjectionRunner(notifications_projection(), store, EventLog(store, EventArchive(archive)),
                         PostgresReadModels(conn), "t").step()  # fmt: skip
    assert len(api.get("/api/push/subscriptions", headers=bob).json()) == 10
    again = api.post("/api/push/subscriptions", headers=bob,
                     json={"endpoint": f"http://127.0.0.1:{port}/x", "keys": keys})  # fmt: skip
    assert again.status_code == 409  # projected, counted once
    tested = api.post(f"/api/push/subscriptions/{sid}/test", headers=bob).json()
    assert tested == {"ok": False, "reason": "not delivered"}  # not "refused", not "403"
