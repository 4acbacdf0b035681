"""The ``webhooks`` read model: each webhook's configuration and its delivery log.

Written from the notifications topic (configuration from the API's commands, deliveries
from the notifier); read by the API (the Notifications page) and the notifier (where to
send what). The secret stays Fernet ciphertext here; only the notifier decrypts it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import psycopg

from events.catalogue import (
    Event,
    NotificationRule,
    WebhookConfigured,
    WebhookDelivered,
    WebhookFailed,
    WebhookRemoved,
)
from projector.postgres import fetch
from projector.rows import Delete, DeleteWhere, RowOp, Upsert, table_of


@dataclass(frozen=True, slots=True)
class WebhookRow:
    webhook_id: UUID
    name: str
    url: str
    secret_ciphertext: str
    rule: str
    """``NotificationRule`` as JSON."""
    enabled: bool
    updated_at: datetime

    def notification_rule(self) -> NotificationRule:
        return NotificationRule.model_validate_json(self.rule)


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    delivery_id: UUID
    webhook_id: UUID
    item_id: UUID | None
    delivered: bool
    attempts: int
    status_code: int | None
    reason: str | None
    at: datetime


WEBHOOKS = table_of(WebhookRow, "webhooks", key=("webhook_id",))
DELIVERIES = table_of(
    DeliveryRow, "deliveries", key=("delivery_id",),
    indexes=("CREATE INDEX deliveries_by_webhook ON {table} (webhook_id, at)",),
)  # fmt: skip
TABLES = (WEBHOOKS, DELIVERIES)


def _configured(event: Event) -> Sequence[RowOp]:
    assert isinstance(event, WebhookConfigured)
    row = {
        "webhook_id": event.webhook_id, "name": event.name, "url": event.url,
        "secret_ciphertext": event.secret_ciphertext, "rule": event.rule.model_dump_json(),
        "enabled": event.enabled, "updated_at": event.occurred_at,
    }  # fmt: skip
    return [Upsert(WEBHOOKS, row)]


def _removed(event: Event) -> Sequence[RowOp]:
    assert isinstance(event, WebhookRemoved)
    return [
        Delete(WEBHOOKS, (event.webhook_id,)),
        DeleteWhere(DELIVERIES, "webhook_id", event.webhook_id),
    ]


def _outcome(event: Event) -> Sequence[RowOp]:
    assert isinstance(event, WebhookDelivered | WebhookFailed)
    delivered = isinstance(event, WebhookDelivered)
    row = {
        "delivery_id": event.delivery_id, "webhook_id": event.webhook_id,
        "item_id": event.item_id, "delivered": delivered, "attempts": event.attempts,
        "status_code": event.status_code if isinstance(event, WebhookDelivered) else None,
        "reason": event.reason if isinstance(event, WebhookFailed) else None,
        "at": event.occurred_at,
    }  # fmt: skip
    return [Upsert(DELIVERIES, row)]


HANDLERS: dict[type[Event], Callable[[Event], Sequence[RowOp]]] = {
    WebhookConfigured: _configured,
    WebhookRemoved: _removed,
    WebhookDelivered: _outcome,
    WebhookFailed: _outcome,
}

# --- queries -------------------------------------------------------------------------


def all_webhooks(conn: psycopg.Connection) -> list[WebhookRow]:
    return fetch(conn, WebhookRow, "SELECT * FROM notifications.webhooks ORDER BY name")


def webhook(conn: psycopg.Connection, webhook_id: UUID) -> WebhookRow | None:
    rows = fetch(
        conn, WebhookRow, "SELECT * FROM notifications.webhooks WHERE webhook_id = %s",
        (webhook_id,),
    )  # fmt: skip
    return rows[0] if rows else None


def deliveries(conn: psycopg.Connection, webhook_id: UUID, limit: int = 50) -> list[DeliveryRow]:
    """The webhook's latest deliveries, newest first."""
    return fetch(
        conn, DeliveryRow,
        "SELECT * FROM notifications.deliveries WHERE webhook_id = %s ORDER BY at DESC LIMIT %s",
        (webhook_id, limit),
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Count:
    name: str
    delivered: bool
    n: int


def delivery_counts(conn: psycopg.Connection) -> dict[tuple[str, bool], int]:
    """Per (webhook name, delivered): how many deliveries its log holds."""
    rows = fetch(
        conn, _Count,
        "SELECT w.name, d.delivered, count(*)::bigint AS n FROM notifications.deliveries d"
        " JOIN notifications.webhooks w USING (webhook_id) GROUP BY w.name, d.delivered",
    )  # fmt: skip
    return {(r.name, r.delivered): r.n for r in rows}


@dataclass(frozen=True, slots=True)
class _Exists:
    created: bool


def created(conn: psycopg.Connection) -> bool:
    rows = fetch(
        conn, _Exists, "SELECT to_regclass('notifications.webhooks') IS NOT NULL AS created"
    )
    return bool(rows and rows[0].created)
