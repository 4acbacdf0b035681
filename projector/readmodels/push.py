"""The ``push`` read model: each browser's web push subscription, its user and its rule.

Written from the notifications topic (the API's subscribe commands; the notifier when a
push service says a subscription is gone); read by the API (a user's own
subscriptions) and the notifier (where to push what).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import psycopg

from events.catalogue import Event, PushRule, PushSubscribed, PushUnsubscribed
from projector.postgres import fetch
from projector.rows import Delete, RowOp, Upsert, table_of


@dataclass(frozen=True, slots=True)
class SubscriptionRow:
    subscription_id: UUID
    username: str
    endpoint: str
    p256dh: str
    auth: str
    rule: str
    """``PushRule`` as JSON."""
    updated_at: datetime

    def push_rule(self) -> PushRule:
        return PushRule.model_validate_json(self.rule)


SUBSCRIPTIONS = table_of(SubscriptionRow, "push_subscriptions", key=("subscription_id",))
TABLES = (SUBSCRIPTIONS,)


def _subscribed(event: Event) -> Sequence[RowOp]:
    assert isinstance(event, PushSubscribed)
    row = {
        "subscription_id": event.subscription_id, "username": event.username,
        "endpoint": event.endpoint, "p256dh": event.p256dh, "auth": event.auth,
        "rule": event.rule.model_dump_json(), "updated_at": event.occurred_at,
    }  # fmt: skip
    return [Upsert(SUBSCRIPTIONS, row)]


def _unsubscribed(event: Event) -> Sequence[RowOp]:
    assert isinstance(event, PushUnsubscribed)
    return [Delete(SUBSCRIPTIONS, (event.subscription_id,))]


HANDLERS: dict[type[Event], Callable[[Event], Sequence[RowOp]]] = {
    PushSubscribed: _subscribed,
    PushUnsubscribed: _unsubscribed,
}

# --- queries -------------------------------------------------------------------------

_SELECT = "SELECT * FROM notifications.push_subscriptions"


def all_subscriptions(conn: psycopg.Connection) -> list[SubscriptionRow]:
    return fetch(conn, SubscriptionRow, _SELECT + " ORDER BY updated_at")


def of_user(conn: psycopg.Connection, username: str) -> list[SubscriptionRow]:
    return fetch(conn, SubscriptionRow, _SELECT + " WHERE username = %s ORDER BY updated_at",
                 (username,))  # fmt: skip


def subscription(conn: psycopg.Connection, subscription_id: UUID) -> SubscriptionRow | None:
    rows = fetch(conn, SubscriptionRow, _SELECT + " WHERE subscription_id = %s", (subscription_id,))
    return rows[0] if rows else None
