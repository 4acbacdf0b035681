"""Web push from the notifier: each new or grown live review item, to every browser
subscription whose rule wants it and whose user may see the camera.

:meth:`PushSender.step` only calls named steps: read the subscriptions, take in the
review item changes (consumer group ``push``), choose who gets a push, send, and act on
the answers. A subscription gets one push per item (claimed in Redis, as webhooks are),
none in its quiet hours, and at most one per ``cooldown_s`` (``SET NX EX``, so the
cooldown holds across restarts). A push service that answers 404 or 410 has dropped the
subscription: it is removed (``PushUnsubscribed``). Other failures are logged and not
retried: a late push about a person at the door helps nobody.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Protocol
from uuid import UUID

import psycopg
import redis
from py_vapid import Vapid01

from api.auth import User, Users
from detector.alerts import alert_id_for
from events.catalogue import PushUnsubscribed
from events.errors import StoreUnavailable
from events.store import RedisEventStore
from projector.mqtt.retained import camera_topics
from projector.notify.feed import ReviewFeed
from projector.notify.push import notification, quiet, snapshot_url
from projector.notify.push_delivery import PushConfig, Subscription, send_push, subscription_of
from projector.notify.reviews import LiveItem
from projector.notify.webhooks import wants
from projector.readmodels import cameras, push

log = logging.getLogger(__name__)

PUSH_GROUP = "push"
_WEEK_S = 7 * 86_400


class PushBook(Protocol):
    def subscriptions(self) -> list[tuple[Subscription, User | None]]: ...
    def camera_names(self) -> dict[UUID, str]: ...


class PostgresPushBook:
    """Subscriptions with their users (None: the user is gone), and camera names."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn

    def subscriptions(self) -> list[tuple[Subscription, User | None]]:
        users = Users(self._conn)
        return [(subscription_of(row), users.get(row.username))
                for row in push.all_subscriptions(self._conn)]  # fmt: skip

    def camera_names(self) -> dict[UUID, str]:
        return camera_topics(cameras.all_cameras(self._conn)) if cameras.created(self._conn) else {}


class PushSender:
    def __init__(
        self, store: RedisEventStore, book: PushBook, vapid: Vapid01, consumer: str,
        config: PushConfig,
    ) -> None:  # fmt: skip
        self._store, self._book, self._vapid, self.config = store, book, vapid, config
        self._feed = ReviewFeed(store, PUSH_GROUP, consumer, config.alert_labels)
        self._subs: list[tuple[Subscription, User | None]] = []
        self._names: dict[UUID, str] = {}
        self._read_at = 0.0
        self._flying: dict[Future[int | None], Subscription] = {}
        self._pool = ThreadPoolExecutor(4, thread_name_prefix="push")
        self.pushed = self.failed = 0

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def step(self, block_ms: int | None = None) -> None:
        self._read_subscriptions()
        for change in self._feed.changes(block_ms):
            self._push(change.after, datetime.now(UTC))
        self._collect_answers()

    # --- steps ---------------------------------------------------------------------

    def _read_subscriptions(self) -> None:
        now = time.monotonic()
        if now - self._read_at >= self.config.read_every_s:
            self._subs, self._names = self._book.subscriptions(), self._book.camera_names()
            self._read_at = now

    def _push(self, item: LiveItem, now: datetime) -> None:
        camera = self._names.get(item.camera_id, "a camera")
        for sub, user in self._subs:
            if user is None or not user.may_see(item.camera_id) or not wants(sub.rule, item):
                continue
            if quiet(sub.rule, now) or not self._claim(sub, item):
                continue
            payload = notification(item, camera, self._snapshot(item, user))
            future = self._pool.submit(send_push, sub, payload, self._vapid, self.config)
            self._flying[future] = sub

    def _snapshot(self, item: LiveItem, user: User) -> str | None:
        if self.config.media_tokens is None or item.alert_track is None:
            return None
        alert_id = alert_id_for(item.alert_track)
        return snapshot_url(alert_id, self.config.media_tokens(user, f"snapshot:{alert_id}"))

    def _claim(self, sub: Subscription, item: LiveItem) -> bool:
        """Once per item, and not within the cooldown of the last push."""
        try:
            once = self._store.client.set(
                f"ronin:push:sent:{sub.subscription_id}:{item.item_id}", 1, nx=True, ex=_WEEK_S
            )
            if not once:
                return False
            if sub.rule.cooldown_s <= 0:
                return True
            return bool(self._store.client.set(f"ronin:push:cooldown:{sub.subscription_id}", 1,
                                               nx=True, ex=sub.rule.cooldown_s))  # fmt: skip
        except (redis.ConnectionError, redis.TimeoutError) as e:
            raise StoreUnavailable(f"Redis is unreachable: {e}") from e

    def _collect_answers(self) -> None:
        for future in [f for f in self._flying if f.done()]:
            sub = self._flying.pop(future)
            try:
                status = future.result()
            except ValueError as e:  # an endpoint refused before sending
                log.warning("push to %s refused: %s", sub.username, e)
                self.failed += 1
                continue
            if status is not None and 200 <= status < 300:
                self.pushed += 1
            elif status in (404, 410):
                gone = f"the push service answered {status}: the browser unsubscribed"
                ended = PushUnsubscribed(subscription_id=sub.subscription_id, reason=gone)
                self._store.append(ended)
            else:
                log.warning("push to %s failed: %s", sub.username, status or "no answer")
                self.failed += 1
