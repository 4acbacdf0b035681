"""Prometheus metrics as plain data in, metric families out (pure; ``api.metrics`` gathers
the data on each scrape and serves the text).

Per camera (``camera`` = its name, ``camera_id``): recording (1/0), frames per second
of its newest segment, bytes and segments on disk, reconnects; live detection's stills
per second and stills taken/skipped; historical detection's frames and inference time;
every consumer group's lag and pending messages; webhook deliveries and failures; the
MQTT bridge's connection and messages published.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from uuid import UUID

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric


@dataclass(frozen=True, slots=True)
class CameraFigures:
    camera_id: UUID
    name: str
    recording: bool
    fps: float | None = None
    bytes: int = 0
    segments: int = 0
    reconnects: int = 0
    live_fps: float | None = None
    live_frames: int = 0
    live_skipped: int = 0


@dataclass(frozen=True, slots=True)
class GroupFigures:
    topic: str
    group: str
    lag: int | None
    pending: int


@dataclass(frozen=True, slots=True)
class Figures:
    cameras: Sequence[CameraFigures] = ()
    frames_analysed: int = 0
    inference_s: float = 0.0
    groups: Sequence[GroupFigures] = ()
    deliveries: Mapping[tuple[str, bool], int] = field(default_factory=dict)
    """Per (webhook name, delivered): how many."""
    mqtt_connected: bool | None = None
    """None: MQTT is off."""
    mqtt_published: int = 0


def families(figures: Figures) -> list[Metric]:
    return [*_cameras(figures.cameras), *_detection(figures), *_groups(figures.groups),
            *_notifications(figures)]  # fmt: skip


def _cameras(cameras: Iterable[CameraFigures]) -> list[Metric]:
    labels = ["camera", "camera_id"]
    up = GaugeMetricFamily("ronin_camera_recording", "1 while the camera records", labels=labels)
    fps = GaugeMetricFamily(
        "ronin_camera_fps", "frames per second of its newest segment", labels=labels
    )
    size = GaugeMetricFamily("ronin_camera_recorded_bytes", "footage on disk", labels=labels)
    count = GaugeMetricFamily("ronin_camera_segments", "segments on disk", labels=labels)
    again = CounterMetricFamily(
        "ronin_camera_reconnects", "recording runs that ended and were started again", labels=labels
    )
    live = GaugeMetricFamily(
        "ronin_live_detection_fps", "stills taken per second for live detection", labels=labels
    )
    taken = CounterMetricFamily(
        "ronin_live_detection_frames", "stills live detection took", labels=[*labels, "outcome"]
    )
    for c in cameras:
        key = [c.name, str(c.camera_id)]
        up.add_metric(key, 1.0 if c.recording else 0.0)
        size.add_metric(key, c.bytes)
        count.add_metric(key, c.segments)
        again.add_metric(key, c.reconnects)
        if c.fps is not None:
            fps.add_metric(key, c.fps)
        if c.live_fps is not None:
            live.add_metric(key, c.live_fps)
            taken.add_metric([*key, "analysed"], c.live_frames)
            taken.add_metric([*key, "skipped"], c.live_skipped)
    return [up, fps, size, count, again, live, taken]


def _detection(figures: Figures) -> list[Metric]:
    frames = CounterMetricFamily("ronin_detection_frames_analysed", "recorded frames the model saw")
    frames.add_metric([], figures.frames_analysed)
    inference = CounterMetricFamily(
        "ronin_detection_inference_seconds", "time spent in the model on recorded footage"
    )
    inference.add_metric([], figures.inference_s)
    return [frames, inference]


def _groups(groups: Iterable[GroupFigures]) -> list[Metric]:
    lag = GaugeMetricFamily(
        "ronin_queue_lag", "events not yet read by a consumer group", labels=["topic", "group"]
    )
    pending = GaugeMetricFamily(
        "ronin_queue_pending", "events read, not yet acknowledged", labels=["topic", "group"]
    )
    for g in groups:
        if g.lag is not None:
            lag.add_metric([g.topic, g.group], g.lag)
        pending.add_metric([g.topic, g.group], g.pending)
    return [lag, pending]


def _notifications(figures: Figures) -> list[Metric]:
    sent = CounterMetricFamily(
        "ronin_webhook_deliveries", "webhook deliveries by outcome", labels=["webhook", "outcome"]
    )
    for (webhook, delivered), n in sorted(figures.deliveries.items()):
        sent.add_metric([webhook, "delivered" if delivered else "failed"], n)
    out: list[Metric] = [sent]
    if figures.mqtt_connected is not None:
        up = GaugeMetricFamily("ronin_mqtt_connected", "1 while the MQTT bridge is connected")
        up.add_metric([], 1.0 if figures.mqtt_connected else 0.0)
        published = CounterMetricFamily("ronin_mqtt_published", "MQTT messages published")
        published.add_metric([], figures.mqtt_published)
        out += [up, published]
    return out
