"""How soon people are told: a live track's first event to an MQTT message, a webhook
request and a web push, beside the bare transport, in one run.

    .venv/bin/python bench/notify_bench.py [--samples 30]

Starts its own Redis, PostgreSQL and mosquitto, a local webhook receiver and a local
push service (which decrypts each push), and runs the real MQTT bridge, webhook sender
and push sender in threads, as the ``mqtt`` and ``notifier`` workers do. Each sample
appends a ``TrackStarted`` (a person, on a camera of its own so that it opens a review
item) and waits for the three to arrive; the time is from the append to the arrival.
The limit beside each is the bare transport on the same machine: a paho publish to a
subscriber, an HTTP POST to the receiver, a pywebpush send to the push service.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sized
from datetime import UTC, datetime
from pathlib import Path
from statistics import median, quantiles
from uuid import uuid4

import httpx
import paho.mqtt.client as mqtt
import psycopg
import redis
from paho.mqtt.enums import CallbackAPIVersion
from py_vapid import Vapid
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.auth import Users
from events.archive import EventArchive, EventLog
from events.catalogue import (
    NotificationRule,
    PushRule,
    PushSubscribed,
    TrackStarted,
    WebhookConfigured,
)
from events.store import RedisEventStore
from infra.embedded import (
    EmbeddedMosquitto,
    EmbeddedPostgres,
    EmbeddedRedis,
    start_service,
    stop_process,
    wait_until,
)
from ingest.camera_config.credentials import CredentialCipher, SecretCipher
from projector.migrations import migrate
from projector.mqtt.bridge import BridgeConfig, MqttBridge, PostgresCameraRows, broker_address
from projector.mqtt.discovery import Discovery
from projector.mqtt.topics import Topics
from projector.notify.push_delivery import PushConfig, Subscription, send_push
from projector.notify.push_sender import PostgresPushBook, PushSender
from projector.notify.sender import PendingDeliveries, PostgresWebhooks, SenderConfig, WebhookSender
from projector.postgres import PostgresReadModels
from projector.readmodels import notifications_projection
from projector.runner import ProjectionRunner
from tests.ingest_support import free_port
from tests.test_mqtt_pure import track
from tests.test_push import Browser, PushService
from tests.test_webhooks import Receiver

SECRET = "bench-secret-" + "x" * 20


def arrivals(sinks: dict[str, Sized], timeout_s: float = 10.0) -> dict[str, float]:
    """Watch every sink at once until each has grown: when each did (monotonic)."""
    before = {name: len(sink) for name, sink in sinks.items()}
    out: dict[str, float] = {}
    deadline = time.monotonic() + timeout_s
    while len(out) < len(sinks) and time.monotonic() < deadline:
        now = time.monotonic()
        for name, sink in sinks.items():
            if name not in out and len(sink) > before[name]:
                out[name] = now
        time.sleep(0.001)
    return out


def bare(send: Callable[[], object], seen: Sized, samples: int) -> list[float]:
    """The transport alone: send, then wait for ``seen`` to grow (it may already have)."""
    out = []
    for _ in range(samples):
        before, started = len(seen), time.monotonic()
        send()
        deadline = started + 10
        while len(seen) <= before and time.monotonic() < deadline:
            time.sleep(0.001)
        if len(seen) > before:
            out.append(time.monotonic() - started)
    return out


class Stack:
    """Redis, PostgreSQL and mosquitto under a temporary directory."""

    def __init__(self) -> None:
        self.data = Path(tempfile.mkdtemp(prefix="ronin-bench-", dir="/tmp"))
        self.data.chmod(0o755)
        self.redis, self.pg = EmbeddedRedis(self.data), EmbeddedPostgres(self.data)
        self.broker = EmbeddedMosquitto(self.data, free_port())
        self.procs = [(start_service(self.redis.prepare(), self.data / "logs"), signal.SIGTERM)]
        wait_until(self.redis.ready, 30, "redis")
        self.procs.append((start_service(self.pg.prepare(), self.data / "logs"), signal.SIGINT))
        wait_until(self.pg.ready, 60, "postgres")
        self.pg.create_database()
        self.procs.append(
            (start_service(self.broker.prepare(), self.data / "logs"), signal.SIGTERM)
        )
        wait_until(self.broker.ready, 30, "mosquitto")
        with psycopg.connect(self.pg.url) as conn:
            migrate(conn)
            Users(conn).add("alice", "correct horse battery", role="admin")
        self.store = RedisEventStore(redis.Redis.from_url(self.redis.url))

    def project(self) -> None:
        with psycopg.connect(self.pg.url) as conn, psycopg.connect(self.pg.url) as archive:
            ProjectionRunner(notifications_projection(), self.store,
                             EventLog(self.store, EventArchive(archive)),
                             PostgresReadModels(conn), "bench").step()  # fmt: skip

    def stop(self) -> None:
        for proc, sig in reversed(self.procs):
            stop_process(proc, sig)


def listener(url: str, messages: list[bytes]) -> mqtt.Client:
    address = broker_address(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-{uuid4()}")
    client.username_pw_set(address.username, address.password)
    client.on_connect = lambda c, *_: c.subscribe([("ronin/events", 1), ("bench/echo", 1)])
    client.on_message = lambda _c, _d, m: messages.append(bytes(m.payload))
    client.connect(address.host, address.port)
    client.loop_start()
    return client


def workers(stack: Stack, key: str, vapid: Vapid, stop: threading.Event) -> list[threading.Thread]:
    """The MQTT bridge and the notifier's two channels, as their workers run them."""
    url = stack.pg.url
    bridge = MqttBridge(
        broker_address(stack.broker.url), stack.store,
        PostgresCameraRows(psycopg.connect(url, autocommit=True)), stack.data, "bench",
        BridgeConfig(Discovery(Topics("ronin"), ("person",)), client_id="ronin-bench"),
    )  # fmt: skip
    hooks = WebhookSender(
        stack.store, PostgresWebhooks(psycopg.connect(url, autocommit=True), SecretCipher(key)),
        PendingDeliveries(stack.store.client), "bench", SenderConfig(),
    )  # fmt: skip
    pushes = PushSender(stack.store, PostgresPushBook(psycopg.connect(url, autocommit=True)),
                        vapid, "bench", PushConfig(allow_http=True))  # fmt: skip

    def notifier() -> None:
        while not stop.is_set():
            hooks.step(block_ms=100)
            pushes.step(block_ms=100)

    threads = [threading.Thread(target=bridge.run, args=(stop,), daemon=True),
               threading.Thread(target=notifier, daemon=True)]  # fmt: skip
    for thread in threads:
        thread.start()
    return threads


def stats(values: list[float]) -> tuple[str, str]:
    if not values:
        return "—", "—"
    p95 = quantiles(values, n=20)[-1] if len(values) >= 2 else values[0]
    return f"{median(values) * 1000:.0f} ms", f"{p95 * 1000:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=30)
    args = parser.parse_args()
    console, stack = Console(), Stack()
    key, vapid, stop = CredentialCipher.new_key(), Vapid(), threading.Event()
    vapid.generate_keys()
    receiver, service, messages = Receiver(secret=SECRET), PushService(), list[bytes]()
    try:
        with receiver.serving() as hook_url, service.serving() as push_base:
            service.browsers["/bench"] = browser = Browser()
            stack.store.append(WebhookConfigured(
                webhook_id=uuid4(), name="bench", url=hook_url,
                secret_ciphertext=SecretCipher(key).encrypt(SECRET),
                rule=NotificationRule(severity=None)))  # fmt: skip
            stack.store.append(PushSubscribed(
                subscription_id=uuid4(), username="alice", endpoint=push_base + "/bench",
                rule=PushRule(severity=None, cooldown_s=0), **browser.keys()))  # fmt: skip
            stack.project()
            client = listener(stack.broker.url, messages)
            threads = workers(stack, key, vapid, stop)
            time.sleep(3)  # connected, groups made
            ours: dict[str, list[float]] = {"MQTT": [], "webhook": [], "web push": []}
            sinks: dict[str, Sized] = {"MQTT": messages, "webhook": receiver.got,
                                       "web push": service.got}  # fmt: skip
            for _ in range(args.samples):
                started = time.monotonic()
                stack.store.append(track(TrackStarted, uuid4(), 0, camera=uuid4(),
                                         t0=datetime.now(UTC)))  # fmt: skip
                for name, at in arrivals(sinks).items():
                    ours[name].append(at - started)
                time.sleep(0.2)
            sub = Subscription(uuid4(), "alice", push_base + "/bench", browser.keys()["p256dh"],
                               browser.keys()["auth"], PushRule())  # fmt: skip
            n, insecure = args.samples, PushConfig(allow_http=True)
            limits = {
                "MQTT": bare(lambda: client.publish("bench/echo", b"x", qos=1), messages, n),
                "webhook": bare(lambda: httpx.post(hook_url, content=b"{}"), receiver.got, n),
                "web push": bare(lambda: send_push(sub, b"{}", vapid, insecure), service.got, n),
            }
            stop.set()
            for thread in threads:
                thread.join(5)
            client.loop_stop()
    finally:
        stop.set()
        stack.stop()
    table = Table(
        title=f"a live track's first event to the person's device, {args.samples} samples"
    )
    for column in ("channel", "ours median", "ours p95", "bare median", "bare p95", "ours/bare"):
        table.add_column(column, justify="right")
    for name in ours:
        o, b = ours[name], limits[name]
        ratio = f"{median(o) / median(b):.1f}x" if o and b else "—"
        table.add_row(name, *stats(o), *stats(b), ratio)
    console.print(table)
    console.print(
        "ours: TrackStarted appended → message received (MQTT subscriber, webhook "
        "receiver, push service after decrypting); bare: the transport alone."
    )


if __name__ == "__main__":
    main()
