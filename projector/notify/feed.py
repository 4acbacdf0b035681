"""Live review items from the detections topic, for one consumer group (a channel that
tells people: webhooks, web push)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

from events.catalogue import Topic, TrackEvent
from events.codec import decode
from events.errors import CodecError
from events.store import ZERO, RedisEventStore
from projector.notify.reviews import LiveReviews, ReviewChange


class ReviewFeed:
    """A consumer group on the detections topic, from the newest event on (telling people
    is about now); live tracks become review item changes (``reviews.LiveReviews``)."""

    def __init__(
        self, store: RedisEventStore, group: str, consumer: str, alert_labels: Collection[str]
    ) -> None:
        self._store, self._group, self._consumer = store, group, consumer
        self._reviews = LiveReviews(alert_labels)
        self._started = False

    def changes(self, block_ms: int | None) -> list[ReviewChange]:
        """New and grown items since the last call (ended ones are only forgotten)."""
        if not self._started:
            latest = self._store.last_id(Topic.DETECTIONS) or ZERO
            self._store.ensure_group(Topic.DETECTIONS, self._group, latest)
            self._started = True
        messages = self._store.read_own_pending(
            Topic.DETECTIONS, self._group, self._consumer, 100
        ) or self._store.read_group(Topic.DETECTIONS, self._group, self._consumer, 100, block_ms)
        out: list[ReviewChange] = []
        for message in messages:
            try:
                event = decode(message.fields)
            except CodecError as e:
                self._store.dead_letter(Topic.DETECTIONS, self._group, message, str(e))
                continue
            if isinstance(event, TrackEvent) and event.segment_id is None:
                out += self._reviews.apply(event)
        if messages:
            self._store.ack(Topic.DETECTIONS, self._group, [m.stream_id for m in messages])
        self._reviews.expire(datetime.now(UTC))
        return out
