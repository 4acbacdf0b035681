"""Sending one web push: the subscription, the settings, and the request (encrypted and
signed by pywebpush). The notifier's push channel (``push_sender``) and the API's test
push both use it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from uuid import UUID

from py_vapid import Vapid01
from pywebpush import WebPushException, webpush

from api.auth import User
from events.catalogue import PushRule
from projector.notify import outbound
from projector.notify.outbound import Answer, DeadHosts, OutboundPolicy
from projector.notify.push import endpoint_refusal
from projector.readmodels import push


@dataclass(frozen=True, slots=True)
class Subscription:
    subscription_id: UUID
    username: str
    endpoint: str
    p256dh: str
    auth: str
    rule: PushRule

    def info(self) -> dict[str, object]:
        """What pywebpush takes: where, and the browser's keys."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


def subscription_of(row: push.SubscriptionRow) -> Subscription:
    return Subscription(row.subscription_id, row.username, row.endpoint, row.p256dh, row.auth,
                        row.push_rule())  # fmt: skip


PUBLIC_ONLY = OutboundPolicy(public_only=True)


@dataclass(frozen=True, slots=True)
class PushConfig:
    contact: str = "mailto:ronin@localhost"
    """Who the push service may write to about these pushes (the VAPID ``sub`` claim)."""
    alert_labels: frozenset[str] = frozenset()
    allow_http: bool = False
    """Push endpoints over plain HTTP (tests' local push service only)."""
    media_tokens: Callable[[User, str], str] | None = None
    """Makes a media token of the user for one resource (``snapshot:<alert>``): the
    notification's picture. None: notifications without one."""
    read_every_s: float = 2.0
    timeout_s: float = 5.0
    ttl_s: int = 600
    policy: OutboundPolicy = PUBLIC_ONLY
    """Push services are public: no private, loopback or link-local address, nor the
    deny list, unless the allow list (``PUSH_ALLOW_NETWORKS``) names it."""


class _PinnedSession:
    """What pywebpush posts with (it encrypts and signs; this sends): the request goes
    to the endpoint's checked address (``outbound.post``), and the answer is kept."""

    def __init__(self, policy: OutboundPolicy, dead: DeadHosts | None) -> None:
        self._policy, self._dead = policy, dead
        self.answer, self.posted = Answer(None, "not sent"), False

    def post(self, endpoint: str, timeout: float, data: bytes | None,
             headers: Mapping[str, str]) -> SimpleNamespace:  # fmt: skip
        self.posted = True
        self.answer = outbound.post(endpoint, data or b"", dict(headers), timeout, self._policy,
                                    self._dead)  # fmt: skip
        return SimpleNamespace(status_code=self.answer.status_code or 0,
                               reason=self.answer.reason, text="", headers={})  # fmt: skip


def send_push(
    sub: Subscription, payload: bytes, vapid: Vapid01, config: PushConfig,
    dead: DeadHosts | None = None,
) -> Answer:  # fmt: skip
    """Encrypt, sign and send one push: the push service's answer, or why there is none.
    Never raises: whatever one browser's subscription does (a malformed key, a service
    that refuses, resets or hangs) is that subscription's answer only."""
    refused = endpoint_refusal(sub.endpoint, config.allow_http)
    if refused is not None:
        return Answer(None, refused)
    session = _PinnedSession(config.policy, dead)
    try:
        webpush(sub.info(), data=payload, vapid_private_key=vapid,
                vapid_claims={"sub": config.contact}, ttl=config.ttl_s,
                timeout=config.timeout_s, requests_session=session)  # fmt: skip
    except WebPushException as e:
        if session.posted:  # the push service answered over 202: its answer is kept
            return session.answer
        return Answer(None, f"cannot encrypt or sign for this browser: {e.message}")
    except Exception as e:  # pywebpush and cryptography raise many kinds
        return Answer(None, f"cannot encrypt or sign for this browser: {type(e).__name__}")
    return session.answer
