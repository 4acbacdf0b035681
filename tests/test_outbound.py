"""Requests to places users name (webhooks, push services): checked addresses, pinned
connections, and receivers that refuse, reset or hang, which cost their own subscription
an answer and nobody else anything."""

from __future__ import annotations

import ipaddress
import time
from uuid import uuid4

import pytest

from api.auth import User
from events.catalogue import PushRule, TrackStarted
from events.store import RedisEventStore
from projector.notify import outbound
from projector.notify.outbound import OutboundPolicy, address_refusal
from projector.notify.push_delivery import PushConfig, Subscription, send_push
from projector.notify.push_sender import PushSender
from tests.ingest_support import free_port
from tests.local_http import misbehaving, posts_to
from tests.test_mqtt_pure import DOOR, track
from tests.test_push import LOCAL_PUSH, PEM, Browser, PushService

PUBLIC = OutboundPolicy(public_only=True)


@pytest.mark.parametrize(
    ("address", "policy", "refused"),
    [
        ("169.254.169.254", OutboundPolicy(), True),  # cloud metadata: always
        ("::ffff:169.254.169.254", OutboundPolicy(), True),  # the same, IPv4-mapped
        ("fe80::1", OutboundPolicy(allow=(ipaddress.ip_network("fe80::/10"),)), True),
        ("192.168.1.10", OutboundPolicy(), False),  # a webhook on the LAN
        ("192.168.1.10", PUBLIC, True),  # a push service is public
        ("127.0.0.1", PUBLIC, True),
        ("10.1.2.3", PUBLIC, True),
        ("127.0.0.1", LOCAL_PUSH, False),  # allowed by name
        ("8.8.4.4", PUBLIC, False),
        ("8.8.4.4", OutboundPolicy(deny=(ipaddress.ip_network("8.8.4.0/24"),)), True),
    ],
)
def test_where_requests_may_go(address: str, policy: OutboundPolicy, refused: bool) -> None:
    assert (address_refusal(address, policy) is not None) == refused


def test_a_name_is_resolved_once_and_that_address_is_connected_to(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DNS rebinding: the name resolves to an allowed address when checked and to the
    metadata address a moment later; the request goes to the address that was checked."""
    answers = iter([["127.0.0.1"], ["169.254.169.254"], ["169.254.169.254"]])
    monkeypatch.setattr(outbound, "resolve", lambda host: next(answers))
    got: list[dict[str, str]] = []

    def receive(path: str, headers: dict[str, str], body: bytes) -> int:
        got.append(headers)
        return 204

    with posts_to(receive) as base:
        port = base.rsplit(":", 1)[1]
        answer = outbound.post(f"http://hooks.test:{port}/x", b"{}", {}, 5, OutboundPolicy())
        assert answer.ok, answer
        assert got[0]["host"] == f"hooks.test:{port}"  # the name, for virtual hosts
        again = outbound.post(f"http://hooks.test:{port}/x", b"{}", {}, 5, OutboundPolicy())
    assert not again.ok and "169.254.169.254" in again.reason and len(got) == 1


def test_the_deny_list_holds_when_sending() -> None:
    with posts_to(lambda *_: 204) as base:
        deny = OutboundPolicy(deny=(ipaddress.ip_network("127.0.0.0/8"),))
        answer = outbound.post(base + "/x", b"{}", {}, 5, deny)
    assert not answer.ok and "refused" in answer.reason


def _sub(endpoint: str, browser: Browser) -> Subscription:
    keys = browser.keys()
    return Subscription(uuid4(), "viewer", endpoint, keys["p256dh"], keys["auth"], PushRule())


def test_every_delivery_failure_is_an_answer_never_an_exception() -> None:
    config = PushConfig(policy=LOCAL_PUSH, timeout_s=1.0)
    with (
        misbehaving("reset") as reset,
        misbehaving("hang") as hang,
        posts_to(lambda *_: 201) as plain,
    ):  # fmt: skip
        for endpoint in (f"https://127.0.0.1:{free_port()}/x",  # refused
                         f"https://127.0.0.1:{reset}/x",  # reset
                         f"https://127.0.0.1:{hang}/x",  # hangs
                         plain.replace("http://", "https://") + "/x",  # TLS fails
                         "https://10.9.8.7/x"):  # fmt: skip
            answer = send_push(_sub(endpoint, Browser()), b"{}", PEM, config)
            assert not answer.ok and answer.reason, endpoint
        broken = Subscription(uuid4(), "viewer", f"https://127.0.0.1:{reset}/x", "not a key",
                              "!", PushRule())  # fmt: skip
        assert "cannot encrypt" in send_push(broken, b"{}", PEM, config).reason


class Book:
    def __init__(self, subs: list[Subscription], user: object) -> None:
        self._subs, self._user = subs, user

    def subscriptions(self) -> list[tuple[Subscription, object]]:
        return [(sub, self._user) for sub in self._subs]

    def camera_names(self) -> dict[object, str]:
        return {DOOR: "Door"}


def test_dead_endpoints_neither_fell_the_notifier_nor_delay_others(
    store: RedisEventStore,
) -> None:
    """A viewer's subscriptions at endpoints that refuse, reset and hang (a hundred of
    them), and one that works: the working one gets its push at once, each failure is
    kept under its own subscription, and the sender never raises."""
    service = PushService()
    with (
        service.serving() as base,
        misbehaving("reset") as reset,
        misbehaving("hang") as hang,
    ):  # fmt: skip
        service.browsers["/ok"] = good_browser = Browser()
        dead = [_sub(f"http://127.0.0.1:{port}/x", Browser())
                for port in (free_port(), reset, *[hang] * 100)]  # fmt: skip
        good = _sub(base + "/ok", good_browser)
        config = PushConfig(allow_http=True, policy=LOCAL_PUSH, timeout_s=3.0)
        sender = PushSender(store, Book([*dead, good], User("viewer")), PEM,  # type: ignore[arg-type]
                            f"n-{uuid4()}", config)  # fmt: skip
        sender.step(block_ms=50)
        started = time.monotonic()
        store.append(track(TrackStarted, uuid4(), 0, camera=DOOR))
        while time.monotonic() - started < 10 and not service.got:
            sender.step(block_ms=50)
        took = time.monotonic() - started
        while time.monotonic() - started < 10 and sender.failed < len(dead):
            sender.step(block_ms=50)
        sender.close()
    assert len(service.got) == 1 and took < 2.5, took  # not behind the hanging ones
    assert sender.failed == len(dead) and sender.pushed == 1
    kept = store.client.hgetall("ronin:push:failures")
    assert len(kept) == len(dead) and str(good.subscription_id).encode() not in kept
