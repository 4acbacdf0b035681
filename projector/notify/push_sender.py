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
from collections import Counter, defaultdict, deque
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
from projector.notify.outbound import Answer, DeadHosts, service_of
from projector.notify.push import notification, quiet, snapshot_url
from projector.notify.push_delivery import PushConfig, Subscription, send_push, subscription_of
from projector.notify.reviews import LiveItem
from projector.notify.webhooks import wants
from projector.readmodels import cameras, push

log = logging.getLogger(__name__)

PUSH_GROUP = "push"
PER_SERVICE = 2
_FAILURES = "ronin:push:failures"
_WEEK_S = 7 * 86_400


class PushBook(Protocol):
    def subscriptions(self) -> list[tuple[Subscription, User | None]]: ...
    def camera_names(self) -> dict[UUID, str]: ...


class PostgresPushBook:
    """Subscriptions with their users (None: the user is gone), and camera names."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn

    def subscriptions(self) -> list[tuple[Subscription, User | None]]:
        rows = push.all_subscriptions(self._conn)
        users = Users(self._conn).named({row.username for row in rows})  # one query
        return [(subscription_of(row), users.get(row.username)) for row in rows]

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
        self._flying: dict[Future[Answer], Subscription] = {}
        self._waiting: dict[str, deque[tuple[Subscription, bytes]]] = defaultdict(deque)
        self._busy: Counter[str] = Counter()
        self._pool = ThreadPoolExecutor(8, thread_name_prefix="push")
        self._dead = DeadHosts()
        self.pushed = self.failed = 0

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def step(self, block_ms: int | None = None) -> None:
        self._read_subscriptions()
        for change in self._feed.changes(block_ms):
            self._push(change.after, datetime.now(UTC))
        self._collect_answers()
        self._dispatch()

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
            self._waiting[service_of(sub.endpoint)].append((sub, payload))

    def _dispatch(self) -> None:
        """Send what waits, at most ``PER_SERVICE`` at a time to each push service: a
        service that hangs holds two sending threads, never all of them, and pushes to
        every other service go at once."""
        for service, waiting in list(self._waiting.items()):
            while waiting and self._busy[service] < PER_SERVICE:
                sub, payload = waiting.popleft()
                future = self._pool.submit(send_push, sub, payload, self._vapid, self.config,
                                           self._dead)  # fmt: skip
                self._flying[future] = sub
                self._busy[service] += 1
            if not waiting:
                del self._waiting[service]

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
            self._busy[service_of(sub.endpoint)] -= 1
            try:
                answer = future.result()
            except Exception as e:  # send_push answers every failure; this is a last guard
                answer = Answer(None, f"failed: {type(e).__name__}")
            self._answered(sub, answer)

    def _answered(self, sub: Subscription, answer: Answer) -> None:
        """Each subscription's failure is its own: logged and kept under its id
        (``ronin:push:failures``), never a reason to stop pushing to anyone else."""
        if answer.ok:
            self.pushed += 1
            self._keep_failure(sub, None)
        elif answer.status_code in (404, 410):
            gone = f"the push service answered {answer.status_code}: the browser unsubscribed"
            self._store.append(PushUnsubscribed(subscription_id=sub.subscription_id, reason=gone))
        else:
            log.warning("push to %s (%s) failed: %s", sub.username, sub.subscription_id,
                        answer.reason)  # fmt: skip
            self.failed += 1
            self._keep_failure(sub, answer.reason)

    def _keep_failure(self, sub: Subscription, reason: str | None) -> None:
        try:
            if reason is None:
                self._store.client.hdel(_FAILURES, str(sub.subscription_id))
            else:
                self._store.client.hset(_FAILURES, str(sub.subscription_id), reason)
        except redis.RedisError as e:  # a record of a failure is not worth a crash
            log.warning("cannot record the push failure: %s", e)
