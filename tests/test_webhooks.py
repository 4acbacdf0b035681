"""Webhooks: the pure parts, then a real notifier against a local receiver that checks
every signature (real Redis, PostgreSQL and HTTP; webhooks added through the API)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid4

import psycopg
import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from api.app import ApiConfig, create_app
from api.auth import Users
from events.archive import EventArchive, EventLog
from events.catalogue import NotificationRule, TrackStarted, TrackUpdated, WebhookConfigured
from events.store import RedisEventStore
from ingest.camera_config.credentials import CredentialCipher, SecretCipher
from projector.notify.reviews import LiveItem
from projector.notify.sender import (
    Delivery,
    PendingDeliveries,
    PostgresWebhooks,
    SenderConfig,
    WebhookSender,
)
from projector.notify.webhooks import delivery_id, retry_delay_s, signed_headers, verify, wants
from projector.postgres import PostgresReadModels
from projector.readmodels import notifications_projection
from projector.runner import ProjectionRunner
from tests.local_http import posts_to
from tests.test_mqtt_pure import track

T0 = datetime(2026, 12, 3, 14, 32, tzinfo=UTC)
DOOR, YARD = uuid4(), uuid4()


def item(severity: str = "alert", labels: tuple[str, ...] = ("person",),
         zones: tuple[str, ...] = (), camera: UUID = DOOR) -> LiveItem:  # fmt: skip
    return LiveItem(item_id=uuid4(), camera_id=camera, start=T0, severity=severity,  # type: ignore[arg-type]
                    labels=labels, zones=zones, tracks=())  # fmt: skip


def test_a_rule_narrows_by_camera_class_zone_and_severity() -> None:
    assert wants(NotificationRule(), item())
    assert not wants(NotificationRule(), item(severity="detection"))
    assert wants(NotificationRule(severity=None), item(severity="detection"))
    assert not wants(NotificationRule(cameras=(YARD,)), item())
    assert wants(NotificationRule(labels=("car", "person")), item())
    assert not wants(NotificationRule(labels=("car",)), item())
    assert not wants(NotificationRule(zones=("porch",)), item())
    assert wants(NotificationRule(zones=("porch",)), item(zones=("porch", "drive")))


@given(st.binary(max_size=200), st.text(min_size=1, max_size=40))
def test_a_signature_verifies_and_any_change_breaks_it(payload: bytes, secret: str) -> None:
    headers = {k.lower(): v for k, v in signed_headers(secret, uuid4(), 1_000, payload).items()}
    assert verify(secret, headers, payload, now=1_100)
    assert not verify(secret, headers, payload + b"x", now=1_100)
    assert not verify(secret + "x", headers, payload, now=1_100)
    assert not verify(secret, headers, payload, now=2_000)  # too old: a replay


def test_one_delivery_id_per_webhook_and_item_and_a_growing_wait() -> None:
    a, b = uuid4(), uuid4()
    assert delivery_id(a, b) == delivery_id(a, b) != delivery_id(b, a)
    assert [retry_delay_s(n) for n in (1, 2, 3)] == [2.0, 4.0, 8.0] and retry_delay_s(30) == 300
    d = Delivery(uuid4(), a, b, b'{"x": 1}', attempts=2, due=5.5)
    assert Delivery.from_json(d.to_json()) == d


@dataclass
class Receiver:
    """A local HTTP receiver: answers 500 to the first ``failures`` requests, then 200;
    keeps what came and whether each signature was right."""

    secret: str = ""
    failures: int = 0
    got: list[tuple[dict[str, str], bytes, bool]] = field(default_factory=list)

    @contextlib.contextmanager
    def serving(self) -> Iterator[str]:
        with posts_to(self._answer) as base:
            yield f"{base}/hook"

    def _answer(self, _path: str, headers: dict[str, str], payload: bytes) -> int:
        signed = verify(self.secret, headers, payload, int(time.time()))
        self.got.append((headers, payload, signed))
        return 500 if len(self.got) <= self.failures else 200


KEY = CredentialCipher.new_key()


@pytest.fixture
def api(servers, database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    with psycopg.connect(database_url) as conn:
        Users(conn).add("alice", "correct horse battery", role="admin")
    config = ApiConfig(servers.redis_url, database_url, tmp_path / "none.duckdb", [],
                       jwt_secret="s" * 40, encryption_key=KEY)  # fmt: skip
    with TestClient(create_app(config)) as client:
        login = {"username": "alice", "password": "correct horse battery"}
        token = client.post("/api/auth/login", json=login).json()["access_token"]
        yield client, {"Authorization": f"Bearer {token}"}


def project(store: RedisEventStore, database_url: str) -> None:
    with psycopg.connect(database_url) as conn, psycopg.connect(database_url) as archive:
        ProjectionRunner(notifications_projection(), store, EventLog(store, EventArchive(archive)),
                         PostgresReadModels(conn), "t").step()  # fmt: skip


def sender(store: RedisEventStore, database_url: str, max_attempts: int = 5) -> WebhookSender:
    book = PostgresWebhooks(psycopg.connect(database_url, autocommit=True), SecretCipher(KEY))
    config = SenderConfig(max_attempts=max_attempts, alert_labels=frozenset({"person"}),
                          webhooks_every_s=0.1, retry_base_s=0.2)  # fmt: skip
    return WebhookSender(store, book, PendingDeliveries(store.client), f"n-{uuid4()}", config)


def steps(worker: WebhookSender, seconds: float, until: object = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not (callable(until) and until()):
        worker.step(block_ms=50)


def test_a_webhook_is_signed_retried_after_two_failures_and_never_sent_twice(
    api, store: RedisEventStore, database_url: str
) -> None:
    client, headers = api
    receiver = Receiver(failures=2)
    with receiver.serving() as url:
        created = client.post("/api/webhooks", headers=headers, json={
            "name": "Porch light", "url": url, "rule": {"labels": ["person"]}})  # fmt: skip
        assert created.status_code == 202, created.text
        receiver.secret, webhook_id = created.json()["secret"], created.json()["webhook_id"]
        project(store, database_url)
        assert "secret" not in client.get("/api/webhooks", headers=headers).text
        worker = sender(store, database_url)
        steps(worker, 0.5)  # the group starts at the newest event
        person, now = uuid4(), datetime.now(UTC)
        started = track(TrackStarted, person, 0, t0=now)
        store.append(started)
        steps(worker, 10, lambda: worker.delivered == 1)
        store.append(started)  # delivered again (at least once): claims nothing
        store.append(track(TrackUpdated, person, 2, zones=("porch",), t0=now))  # the item grew
        steps(worker, 1.5)
        steps(sender(store, database_url), 1.5)  # a restarted notifier sends nothing either
        test = client.post(f"/api/webhooks/{webhook_id}/test", headers=headers).json()
    assert test == {"ok": True, "status_code": 200, "reason": "HTTP 200 OK"}
    *review, sent_test = receiver.got
    assert len(review) == 3 and all(signed for _, _, signed in receiver.got)  # 500, 500, 200
    assert len({h["x-ronin-delivery"] for h, _, _ in review}) == 1  # one delivery, three tries
    assert b'"type":"review"' in review[0][1] and str(person).encode() in review[0][1]
    assert b'"type":"test"' in sent_test[1]
    project(store, database_url)
    log = client.get(f"/api/webhooks/{webhook_id}/deliveries", headers=headers).json()
    by_kind = {entry["item_id"] is None: entry for entry in log}
    assert by_kind[False]["delivered"] and by_kind[False]["attempts"] == 3
    assert by_kind[False]["item_id"] == str(person) and by_kind[True]["status_code"] == 200


def test_a_webhook_that_keeps_failing_is_given_up_with_the_reason(
    api, store: RedisEventStore, database_url: str
) -> None:
    client, headers = api
    receiver = Receiver(failures=100)
    with receiver.serving() as url:
        created = client.post("/api/webhooks", headers=headers, json={"name": "Down", "url": url})
        webhook_id = created.json()["webhook_id"]
        project(store, database_url)
        worker = sender(store, database_url, max_attempts=2)
        steps(worker, 0.5)
        store.append(track(TrackStarted, uuid4(), 0, t0=datetime.now(UTC)))
        steps(worker, 10, lambda: worker.failed == 1)
    project(store, database_url)
    [entry] = client.get(f"/api/webhooks/{webhook_id}/deliveries", headers=headers).json()
    assert not entry["delivered"] and entry["attempts"] == 2
    assert entry["reason"] == "HTTP 500 Internal Server Error"
    metadata = {"name": "Meta", "url": "http://169.254.169.254/latest"}
    refused = client.post("/api/webhooks", headers=headers, json=metadata)
    assert refused.status_code == 422


@pytest.mark.parametrize("bad_url", ["http://🏠.home/hook", "http://xn--/hook", "http://[/"])
def test_a_webhook_no_library_can_call_fells_nothing_and_the_good_one_is_delivered(
    api, store: RedisEventStore, database_url: str, bad_url: str
) -> None:
    """Saved before the API parsed URLs at the door (an event from an older version):
    its deliveries fail with the reason, the worker goes on, the other webhook gets its
    alert. The API refuses the same URL today."""
    client, headers = api
    assert client.post("/api/webhooks", headers=headers,
                       json={"name": "Bad", "url": bad_url}).status_code == 422  # fmt: skip
    secret = SecretCipher(KEY).encrypt("s" * 32)
    bad = WebhookConfigured(webhook_id=uuid4(), name="Bad", url=bad_url,
                            secret_ciphertext=secret)  # fmt: skip
    store.append(bad)
    receiver = Receiver()
    with receiver.serving() as url:
        client.post("/api/webhooks", headers=headers, json={"name": "Good", "url": url})
        project(store, database_url)
        worker = sender(store, database_url, max_attempts=2)
        steps(worker, 0.5)
        store.append(track(TrackStarted, uuid4(), 0, t0=datetime.now(UTC)))
        steps(worker, 10, lambda: worker.failed == 1 and worker.delivered == 1)
    assert (worker.delivered, worker.failed, len(receiver.got)) == (1, 1, 1)
    project(store, database_url)
    [entry] = client.get(f"/api/webhooks/{bad.webhook_id}/deliveries", headers=headers).json()
    assert not entry["delivered"] and entry["reason"]  # why, in words
    test = client.post(f"/api/webhooks/{bad.webhook_id}/test", headers=headers)
    assert test.status_code == 200 and test.json()["ok"] is False
