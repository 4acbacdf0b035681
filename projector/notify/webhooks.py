"""Webhooks, the pure part: which review items a webhook wants, the body and its
signature, the delivery id and the retry schedule.

A delivery is a POST of JSON (``{"type": "review", "delivery_id", "webhook", "item"}``,
the item as MQTT's ``reviews`` messages carry it) with three headers:

- ``X-Ronin-Delivery``: the delivery id, the same for every try and for a resend after
  a crash (a receiver that keeps the ids it has seen never acts twice);
- ``X-Ronin-Timestamp``: seconds since the epoch when this try was signed;
- ``X-Ronin-Signature``: ``sha256=`` and the hex HMAC-SHA256, keyed with the webhook's
  secret, of ``{timestamp}.{body}`` (the timestamp inside the signature lets a receiver
  refuse an old request played again).
"""

from __future__ import annotations

import hashlib
import hmac
from uuid import UUID, uuid5

import orjson

from events.catalogue import NotificationRule
from projector.notify.reviews import LiveItem, item_json

DELIVERY_NAMESPACE = UUID("6d1f3c0e-8a7b-4c2d-9e5f-0a1b2c3d4e5f")


def wants(rule: NotificationRule, item: LiveItem) -> bool:
    """Whether the item is one the rule asks for (each narrowing that is set must hold)."""
    return (
        (not rule.cameras or item.camera_id in rule.cameras)
        and (not rule.labels or bool(set(rule.labels) & set(item.labels)))
        and (not rule.zones or bool(set(rule.zones) & set(item.zones)))
        and (rule.severity is None or rule.severity == item.severity)
    )


def delivery_id(webhook_id: UUID, item_id: UUID) -> UUID:
    """One delivery per webhook and item, whatever retries or restarts happen."""
    return uuid5(DELIVERY_NAMESPACE, f"{webhook_id}:{item_id}")


def body(delivery: UUID, webhook_name: str, item: LiveItem, camera: str) -> bytes:
    return orjson.dumps({
        "type": "review", "delivery_id": str(delivery), "webhook": webhook_name,
        "item": item_json(item, camera),
    })  # fmt: skip


def test_body(delivery: UUID, webhook_name: str, now: int) -> bytes:
    """What "send a test" posts."""
    return orjson.dumps(
        {"type": "test", "delivery_id": str(delivery), "webhook": webhook_name, "sent_at": now}
    )


def signature(secret: str, timestamp: int, payload: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def signed_headers(secret: str, delivery: UUID, timestamp: int, payload: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": "Ronin-Webhook/1",
        "X-Ronin-Delivery": str(delivery),
        "X-Ronin-Timestamp": str(timestamp),
        "X-Ronin-Signature": signature(secret, timestamp, payload),
    }


def verify(
    secret: str, headers: dict[str, str], payload: bytes, now: int, max_age_s: int = 300
) -> bool:
    """What a receiver checks (Ronin's own tests do): the signature matches and the
    request was signed within ``max_age_s``."""
    try:
        timestamp = int(headers["x-ronin-timestamp"])
    except (KeyError, ValueError):
        return False
    expected = signature(secret, timestamp, payload)
    given = headers.get("x-ronin-signature", "")
    return abs(now - timestamp) <= max_age_s and hmac.compare_digest(expected, given)


def retry_delay_s(attempts: int, base_s: float = 2.0, cap_s: float = 300.0) -> float:
    """Wait before try number ``attempts + 1``: 2 s, 4 s, 8 s ... up to 5 minutes."""
    return float(min(cap_s, base_s * 2 ** max(0, attempts - 1)))
