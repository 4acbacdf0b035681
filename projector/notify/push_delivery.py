"""Sending one web push: the subscription, the settings, and the request (encrypted and
signed by pywebpush). The notifier's push channel (``push_sender``) and the API's test
push both use it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from py_vapid import Vapid01
from pywebpush import WebPushException, webpush

from api.auth import User
from events.catalogue import PushRule
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
    timeout_s: float = 10.0
    ttl_s: int = 600


def send_push(sub: Subscription, payload: bytes, vapid: Vapid01, config: PushConfig) -> int | None:
    """Encrypt, sign and send one push: the push service's status code (None: unreachable)."""
    refused = endpoint_refusal(sub.endpoint, config.allow_http)
    if refused is not None:
        raise ValueError(refused)
    try:
        response = webpush(sub.info(), data=payload, vapid_private_key=vapid,
                           vapid_claims={"sub": config.contact}, ttl=config.ttl_s,
                           timeout=config.timeout_s)  # fmt: skip
    except WebPushException as e:
        return e.response.status_code if e.response is not None else None
    return int(getattr(response, "status_code", 201))
