"""The alerts worker: a live tracked object -> (cooldown) -> snapshot -> AlertRaised.

A consumer group on the detections topic. An alert is raised when a live tracked object
of an alert class meets the alert conditions: at its start (``TrackStarted`` without a
segment) or, when the camera requires zones, once it has entered one of them (the track
event says ``in_required_zone``). One per tracked object (the tracks alerted are kept in
Redis), so a car parked for an hour alerts once, and a person who leaves and comes back
alerts again. The
per-class cooldown stays as a knob on top (a second track of the same class within it
does not alert); its state (last alert per camera and class) is kept in Redis so a
restart does not alert again. Alert ids derive from the track id, so a redelivered start
yields the same alert (the projection keeps one row) and, once the snapshot exists, the
same file. The snapshot is the still with the box and label drawn, saved under
``{storage}/.snapshots/{camera}/{YYYY-MM-DD}/{alert}.jpg``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

import redis

from detector.debounce import DebouncePolicy, Key, Sighting, debounce
from events.catalogue import AlertRaised, BoundingBox, Topic, TrackEvent, TrackStarted, TrackUpdated
from events.codec import decode
from events.errors import CodecError
from events.store import ZERO, Message, RedisEventStore

log = logging.getLogger(__name__)

ALERTS_GROUP = "alerts"
SNAPSHOTS_DIR = ".snapshots"
ALERTS_NAMESPACE = UUID("0b7f1f6e-2d5c-4f4e-8f52-3c1b7a0e9d21")


def alert_id_for(track_id: UUID) -> UUID:
    return uuid5(ALERTS_NAMESPACE, str(track_id))


def snapshot_relative_path(camera_id: UUID, at: datetime, alert_id: UUID) -> str:
    day = at.astimezone().strftime("%Y-%m-%d")
    return f"{SNAPSHOTS_DIR}/{camera_id}/{day}/{alert_id}.jpg"


def draw_snapshot(
    source: Path, target: Path, box: BoundingBox, label: str, confidence: float
) -> bool:
    """Copy the still with the box and label drawn; False if the still is gone."""
    import cv2

    image = cv2.imread(str(source), cv2.IMREAD_COLOR)
    if image is None:
        return False
    h, w = image.shape[:2]
    b = box
    p1 = (round(b.x1 * w), round(b.y1 * h))
    p2 = (round(b.x2 * w), round(b.y2 * h))
    thickness = max(2, w // 400)
    cv2.rectangle(image, p1, p2, (0, 200, 255), thickness)
    text = f"{label} {confidence:.0%}"
    scale = max(0.5, w / 1600)
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    y = max(th + 6, p1[1])
    cv2.rectangle(image, (p1[0], y - th - 6), (p1[0] + tw + 6, y), (0, 200, 255), -1)
    cv2.putText(
        image, text, (p1[0] + 3, y - 4), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        return False
    partial.write_bytes(encoded.tobytes())
    partial.replace(target)
    return True


class AlertedTracks:
    """The tracks that raised an alert (or were held back by the cooldown), a day long."""

    KEY = "ronin:alerts:tracks"
    KEEP_S = 86_400

    def __init__(self, client: redis.Redis) -> None:
        self._redis: Any = client

    def among(self, track_ids: Iterable[UUID]) -> set[UUID]:
        ids = list(track_ids)
        if not ids:
            return set()
        scores = self._redis.zmscore(self.KEY, [str(t) for t in ids])
        return {t for t, score in zip(ids, scores, strict=True) if score is not None}

    def add(self, track_ids: Iterable[UUID]) -> None:
        now = time.time()
        members = {str(t): now for t in track_ids}
        if members:
            pipe = self._redis.pipeline()
            pipe.zadd(self.KEY, members)
            pipe.zremrangebyscore(self.KEY, "-inf", now - self.KEEP_S)
            pipe.execute()


class DebounceState:
    """Last alert per (camera, class), in a Redis hash."""

    KEY = "ronin:alerts:last"

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def load(self) -> dict[Key, datetime]:
        state = {}
        for name, value in self._redis.hgetall(self.KEY).items():
            camera, _, label = _text(name).partition("/")
            state[(UUID(camera), label)] = datetime.fromisoformat(_text(value))
        return state

    def save(self, state: dict[Key, datetime]) -> None:
        if state:
            self._redis.hset(
                self.KEY, mapping={f"{c}/{label}": t.isoformat() for (c, label), t in state.items()}
            )


DEFAULT_ALERT_CLASSES = frozenset(
    {"person", "car", "truck", "bus", "motorcycle", "bicycle", "dog", "cat", "bird", "horse"}
)
"""What is worth a notification by default (ALERT_CLASSES); detections keep every class."""


@dataclass(frozen=True, slots=True)
class AlertsConfig:
    policy: DebouncePolicy = field(default_factory=DebouncePolicy)
    classes: frozenset[str] = DEFAULT_ALERT_CLASSES
    """Only these classes alert (empty: all)."""
    batch: int = 100


class AlertWorker:
    def __init__(
        self,
        store: RedisEventStore,
        storage_root: Path,
        consumer: str,
        config: AlertsConfig | None = None,
    ) -> None:
        self._store, self._root, self._consumer = store, storage_root, consumer
        self.config = config or AlertsConfig()
        self._state = DebounceState(store.client)
        self._alerted = AlertedTracks(store.client)
        self._started = False
        self.raised = 0

    def step(self, block_ms: int | None = None) -> int:
        if not self._started:
            latest = self._store.last_id(Topic.DETECTIONS) or ZERO
            self._store.ensure_group(Topic.DETECTIONS, ALERTS_GROUP, latest)
            self._started = True
        messages = self._store.read_own_pending(
            Topic.DETECTIONS, ALERTS_GROUP, self._consumer, self.config.batch
        ) or self._store.read_group(
            Topic.DETECTIONS, ALERTS_GROUP, self._consumer, self.config.batch, block_ms
        )
        if messages:
            self._handle(messages)
        return len(messages)

    def _handle(self, messages: Sequence[Message]) -> None:
        started = self._alertable_tracks(messages)
        if started:
            outcome = debounce(
                self._state.load(),
                [Sighting(t.camera_id, t.label, t.start) for t in started],
                self.config.policy,
            )
            alerts = [self._alert(started[i]) for i in outcome.raised]
            if alerts:
                self._store.append_many(alerts)
                self.raised += len(alerts)
            self._state.save(outcome.last_alerts)
            self._alerted.add(t.track_id for t in started)
        self._store.ack(Topic.DETECTIONS, ALERTS_GROUP, [m.stream_id for m in messages])

    def _alertable_tracks(self, messages: Sequence[Message]) -> list[TrackEvent]:
        """Live tracks of alert classes that meet the conditions now and have not alerted
        yet (the first report of each)."""
        found: dict[UUID, TrackEvent] = {}
        for message in messages:
            try:
                event = decode(message.fields)
            except CodecError as e:
                self._store.dead_letter(Topic.DETECTIONS, ALERTS_GROUP, message, str(e))
                continue
            if (
                isinstance(event, TrackStarted | TrackUpdated)
                and event.segment_id is None
                and event.in_required_zone
                and (not self.config.classes or event.label in self.config.classes)
                and event.track_id not in found
            ):
                found[event.track_id] = event
        fresh = [t for t in found.values() if t.track_id not in self._alerted.among(found)]
        # the clearest of a moment's objects first, so a cooldown keeps the best one
        return sorted(fresh, key=lambda t: (t.last_seen, -t.best_confidence))

    def _alert(self, track: TrackEvent) -> AlertRaised:
        alert_id = alert_id_for(track.track_id)
        snapshot: str | None = snapshot_relative_path(track.camera_id, track.best_at, alert_id)
        target = self._root / str(snapshot)
        if not target.exists():
            source = self._root / track.best_frame_path if track.best_frame_path else None
            drawn = source is not None and draw_snapshot(
                source, target, track.best_box, track.label, track.best_confidence
            )
            if not drawn:
                log.warning("alert %s: the still is gone; alerting without a snapshot", alert_id)
                snapshot = None
        return AlertRaised(
            event_id=alert_id,
            alert_id=alert_id,
            camera_id=track.camera_id,
            detection_id=track.best_detection_id,
            label=track.label,
            confidence=track.best_confidence,
            detected_at=track.best_at,
            snapshot_path=snapshot,
            track_id=track.track_id,
        )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
