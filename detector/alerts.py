"""The alerts worker: live ObjectDetected -> debounce -> snapshot -> AlertRaised.

A consumer group on the detections topic. Only live detections (no segment) can alert;
the debounce state (last alert per camera and class) is kept in Redis so a restart does
not alert again for the same person. Alert ids derive from the detection id, so a
redelivered detection yields the same alert (the projection keeps one row) and, once the
snapshot exists, the same file. The snapshot is the still with the box and label drawn,
saved under ``{storage}/.snapshots/{camera}/{YYYY-MM-DD}/{alert}.jpg``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from uuid import UUID, uuid5

import redis

from detector.debounce import DebouncePolicy, Key, Sighting, debounce
from events.catalogue import AlertRaised, ObjectDetected, Topic
from events.codec import decode
from events.errors import CodecError
from events.store import ZERO, Message, RedisEventStore

log = logging.getLogger(__name__)

ALERTS_GROUP = "alerts"
SNAPSHOTS_DIR = ".snapshots"
ALERTS_NAMESPACE = UUID("0b7f1f6e-2d5c-4f4e-8f52-3c1b7a0e9d21")


def alert_id_for(detection_id: UUID) -> UUID:
    return uuid5(ALERTS_NAMESPACE, str(detection_id))


def snapshot_relative_path(detection: ObjectDetected, alert_id: UUID) -> str:
    day = detection.detected_at.astimezone().strftime("%Y-%m-%d")
    return f"{SNAPSHOTS_DIR}/{detection.camera_id}/{day}/{alert_id}.jpg"


def draw_snapshot(source: Path, target: Path, detection: ObjectDetected) -> bool:
    """Copy the still with the detection's box and label drawn; False if the still is gone."""
    import cv2

    image = cv2.imread(str(source), cv2.IMREAD_COLOR)
    if image is None:
        return False
    h, w = image.shape[:2]
    b = detection.box
    p1 = (round(b.x1 * w), round(b.y1 * h))
    p2 = (round(b.x2 * w), round(b.y2 * h))
    thickness = max(2, w // 400)
    cv2.rectangle(image, p1, p2, (0, 200, 255), thickness)
    text = f"{detection.label} {detection.confidence:.0%}"
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
        live = self._live_detections(messages)
        if live:
            outcome = debounce(
                self._state.load(),
                [Sighting(d.camera_id, d.label, d.detected_at) for d in live],
                self.config.policy,
            )
            alerts = [self._alert(live[i]) for i in outcome.raised]
            if alerts:
                self._store.append_many(alerts)
                self.raised += len(alerts)
            self._state.save(outcome.last_alerts)
        self._store.ack(Topic.DETECTIONS, ALERTS_GROUP, [m.stream_id for m in messages])

    def _live_detections(self, messages: Sequence[Message]) -> list[ObjectDetected]:
        live = []
        for message in messages:
            try:
                event = decode(message.fields)
            except CodecError as e:
                self._store.dead_letter(Topic.DETECTIONS, ALERTS_GROUP, message, str(e))
                continue
            wanted = not self.config.classes or (
                isinstance(event, ObjectDetected) and event.label in self.config.classes
            )
            if isinstance(event, ObjectDetected) and event.segment_id is None and wanted:
                live.append(event)
        # the best of each frame's objects first, so the alert shows the clearest one
        return sorted(live, key=lambda d: (d.detected_at, -d.confidence))

    def _alert(self, detection: ObjectDetected) -> AlertRaised:
        alert_id = alert_id_for(detection.detection_id)
        snapshot: str | None = snapshot_relative_path(detection, alert_id)
        target = self._root / str(snapshot)
        if not target.exists():
            source = self._root / detection.frame_path if detection.frame_path else None
            if source is None or not draw_snapshot(source, target, detection):
                log.warning("alert %s: the still is gone; alerting without a snapshot", alert_id)
                snapshot = None
        return AlertRaised(
            event_id=alert_id,
            alert_id=alert_id,
            camera_id=detection.camera_id,
            detection_id=detection.detection_id,
            label=detection.label,
            confidence=detection.confidence,
            detected_at=detection.detected_at,
            snapshot_path=snapshot,
        )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
