"""The notifier worker: delivers review items to the webhooks that want them.

:meth:`WebhookSender.step` only calls named steps: read the webhooks, take in new live
track events (a consumer group, ``webhooks``, on the detections topic, from the newest
event on), turn them into review items (``reviews.LiveReviews``), claim a delivery for
each webhook that wants a new or grown item, and send what is due.

Once per item and webhook: a delivery is claimed in Redis (``SET NX``, kept a week)
together with its pending record, in one script, so a redelivered event or an item
that grows again claims nothing new. Pending deliveries live in Redis until they are
answered, so a restarted notifier goes on with their retries. A receiver that answers
2xx is done (``WebhookDelivered``); anything else is tried again after 2, 4, 8 ... s,
and given up after ``max_attempts`` (``WebhookFailed``, the reason in words). A crash
between a receiver's answer and its record sends once more, with the same
``X-Ronin-Delivery`` id.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Protocol
from uuid import UUID

import orjson
import psycopg
import redis

from events.catalogue import (
    Event,
    NotificationRule,
    WebhookDelivered,
    WebhookFailed,
)
from events.errors import StoreUnavailable
from events.store import RedisEventStore
from ingest.camera_config.credentials import SecretCipher
from projector.mqtt.retained import camera_topics
from projector.notify import outbound
from projector.notify.feed import ReviewFeed
from projector.notify.outbound import Answer, OutboundPolicy
from projector.notify.reviews import LiveItem
from projector.notify.webhooks import body, delivery_id, retry_delay_s, signed_headers, wants
from projector.readmodels import cameras, webhooks

log = logging.getLogger(__name__)

WEBHOOKS_GROUP = "webhooks"
ANYWHERE_BUT_METADATA = OutboundPolicy()
_CLAIM_S = 7 * 86_400
_CLAIM = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
  return 1
end
return 0
"""


@dataclass(frozen=True, slots=True)
class Webhook:
    webhook_id: UUID
    name: str
    url: str
    secret: str
    rule: NotificationRule
    enabled: bool = True

    def __repr__(self) -> str:
        return f"Webhook({self.name!r}, {self.url!r})"


def webhook_of(row: webhooks.WebhookRow, cipher: SecretCipher) -> Webhook:
    """A read model row, its secret decrypted."""
    return Webhook(row.webhook_id, row.name, row.url, cipher.decrypt(row.secret_ciphertext),
                   row.notification_rule(), row.enabled)  # fmt: skip


class WebhookBook(Protocol):
    def webhooks(self) -> list[Webhook]: ...
    def camera_names(self) -> dict[UUID, str]: ...


class PostgresWebhooks:
    """Webhooks (secrets decrypted) and camera names from the read models."""

    def __init__(self, conn: psycopg.Connection, cipher: SecretCipher) -> None:
        self._conn, self._cipher = conn, cipher

    def webhooks(self) -> list[Webhook]:
        if not webhooks.created(self._conn):
            return []
        return [webhook_of(row, self._cipher) for row in webhooks.all_webhooks(self._conn)]

    def camera_names(self) -> dict[UUID, str]:
        if not cameras.created(self._conn):
            return {}
        return camera_topics(cameras.all_cameras(self._conn))


@dataclass(frozen=True, slots=True)
class Delivery:
    delivery_id: UUID
    webhook_id: UUID
    item_id: UUID | None
    body: bytes
    attempts: int = 0
    due: float = 0.0  # epoch seconds

    def to_json(self) -> bytes:
        return orjson.dumps({
            "delivery_id": str(self.delivery_id), "webhook_id": str(self.webhook_id),
            "item_id": None if self.item_id is None else str(self.item_id),
            "body": self.body.decode(), "attempts": self.attempts, "due": self.due,
        })  # fmt: skip

    @classmethod
    def from_json(cls, data: bytes) -> Delivery:
        d = orjson.loads(data)
        return cls(UUID(d["delivery_id"]), UUID(d["webhook_id"]),
                   None if d["item_id"] is None else UUID(d["item_id"]), d["body"].encode(),
                   int(d["attempts"]), float(d["due"]))  # fmt: skip


class PendingDeliveries:
    """Claimed, unanswered deliveries, in Redis (``ronin:webhooks:pending``)."""

    def __init__(self, client: redis.Redis, prefix: str = "ronin:webhooks") -> None:
        self._redis, self._prefix = client, prefix
        self._claim = client.register_script(_CLAIM)

    @property
    def _pending(self) -> str:
        return f"{self._prefix}:pending"

    def claim(self, delivery: Delivery) -> bool:
        """True the first time a delivery is claimed, ever (a week)."""
        keys = [f"{self._prefix}:claimed:{delivery.delivery_id}", self._pending]
        args: list[str | int | bytes] = [_CLAIM_S, str(delivery.delivery_id), delivery.to_json()]
        return bool(self._guard(lambda: self._claim(keys=keys, args=args)))

    def save(self, delivery: Delivery) -> None:
        self._guard(
            lambda: self._redis.hset(self._pending, str(delivery.delivery_id), delivery.to_json())
        )

    def done(self, delivery: Delivery) -> None:
        self._guard(lambda: self._redis.hdel(self._pending, str(delivery.delivery_id)))

    def all(self) -> list[Delivery]:
        found = self._guard(lambda: self._redis.hgetall(self._pending))
        assert isinstance(found, dict)
        return [Delivery.from_json(v) for v in found.values()]

    @staticmethod
    def _guard(call: Callable[[], object]) -> object:
        try:
            return call()
        except (redis.ConnectionError, redis.TimeoutError) as e:
            raise StoreUnavailable(f"Redis is unreachable: {e}") from e


@dataclass(frozen=True, slots=True)
class SenderConfig:
    max_attempts: int = 5
    alert_labels: frozenset[str] = frozenset()
    webhooks_every_s: float = 2.0
    timeout_s: float = 10.0
    retry_base_s: float = 2.0
    policy: OutboundPolicy = ANYWHERE_BUT_METADATA
    """Where webhooks may go: never link-local or metadata addresses, nor the deny list."""


def post(webhook: Webhook, delivery: Delivery, config: SenderConfig) -> Answer:
    """One try: sign now, POST to the webhook's checked address, say what happened."""
    headers = signed_headers(webhook.secret, delivery.delivery_id, int(time.time()), delivery.body)
    return outbound.post(webhook.url, delivery.body, headers, config.timeout_s, config.policy)


class WebhookSender:
    def __init__(
        self,
        store: RedisEventStore,
        book: WebhookBook,
        pending: PendingDeliveries,
        consumer: str,
        config: SenderConfig,
    ) -> None:
        self._store, self._book, self._pending = store, book, pending
        self._consumer, self.config = consumer, config
        self._feed = ReviewFeed(store, WEBHOOKS_GROUP, consumer, config.alert_labels)
        self._hooks: dict[UUID, Webhook] = {}
        self._names: dict[UUID, str] = {}
        self._read_at = 0.0
        self._queue: dict[UUID, Delivery] = {}
        self._flying: dict[UUID, Future[Answer]] = {}
        self._pool = ThreadPoolExecutor(4, thread_name_prefix="webhook")
        self.delivered = self.failed = 0

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def step(self, block_ms: int | None = None) -> None:
        self._read_webhooks()
        self._take_events(block_ms)
        self._collect_answers()
        self._send_due()

    # --- steps ---------------------------------------------------------------------

    def _read_webhooks(self) -> None:
        now = time.monotonic()
        if now - self._read_at < self.config.webhooks_every_s:
            return
        self._hooks = {w.webhook_id: w for w in self._book.webhooks()}
        self._names = self._book.camera_names()
        if self._read_at == 0.0:  # a restart: go on with what was pending
            self._queue.update({d.delivery_id: d for d in self._pending.all()})
        self._read_at = now

    def _take_events(self, block_ms: int | None) -> None:
        for change in self._feed.changes(block_ms):
            self._claim(change.after)

    def _claim(self, item: LiveItem) -> None:
        camera = self._names.get(item.camera_id, str(item.camera_id))
        for hook in self._hooks.values():
            if not hook.enabled or not wants(hook.rule, item):
                continue
            delivery_key = delivery_id(hook.webhook_id, item.item_id)
            delivery = Delivery(delivery_key, hook.webhook_id, item.item_id,
                                body(delivery_key, hook.name, item, camera))  # fmt: skip
            if self._pending.claim(delivery):
                self._queue[delivery_key] = delivery

    def _send_due(self) -> None:
        now = time.time()
        for key, delivery in list(self._queue.items()):
            if key in self._flying or delivery.due > now:
                continue
            hook = self._hooks.get(delivery.webhook_id)
            if hook is None:  # removed meanwhile: nobody to tell
                self._pending.done(delivery)
                del self._queue[key]
                continue
            self._flying[key] = self._pool.submit(post, hook, delivery, self.config)

    def _collect_answers(self) -> None:
        for key, future in list(self._flying.items()):
            if not future.done():
                continue
            del self._flying[key]
            try:
                answer = future.result()
            except Exception as e:  # one delivery's failure, never the notifier's exit
                log.exception("webhook delivery %s could not be sent", key)
                answer = Answer(None, f"could not be sent: {type(e).__name__}")
            self._answered(self._queue[key], answer)

    def _answered(self, delivery: Delivery, answer: Answer) -> None:
        tried = replace(delivery, attempts=delivery.attempts + 1)
        outcome: Event | None = None
        if answer.ok:
            assert answer.status_code is not None
            outcome = WebhookDelivered(webhook_id=tried.webhook_id, delivery_id=tried.delivery_id,
                                       item_id=tried.item_id, attempts=tried.attempts,
                                       status_code=answer.status_code)  # fmt: skip
            self.delivered += 1
        elif tried.attempts >= self.config.max_attempts:
            outcome = WebhookFailed(webhook_id=tried.webhook_id, delivery_id=tried.delivery_id,
                                    item_id=tried.item_id, attempts=tried.attempts,
                                    reason=answer.reason)  # fmt: skip
            self.failed += 1
        if outcome is None:
            later = replace(
                tried, due=time.time() + retry_delay_s(tried.attempts, self.config.retry_base_s)
            )
            log.warning("webhook delivery %s: %s; trying again", tried.delivery_id, answer.reason)
            self._queue[tried.delivery_id] = later
            self._pending.save(later)
            return
        self._store.append(outcome)
        self._pending.done(tried)
        del self._queue[tried.delivery_id]
