"""The ``detector`` worker (historical jobs on SegmentClosed and live detection, see
``detector.worker``) and ``alerts`` (debounces live detections into AlertRaised with a
snapshot)."""

from __future__ import annotations

import logging

from detector.alerts import AlertsConfig, AlertWorker
from detector.analysis import AnalysisConfig
from detector.debounce import DebouncePolicy
from detector.historical import HistoricalConfig, HistoricalDetector
from detector.live import LiveDetector
from detector.model import DetectorConfig, OnnxDetector
from detector.motion import MotionConfig
from detector.worker import (
    DETECTION_OFF_HINT,
    DetectionWorker,
    LiveTapConfig,
    LiveTaps,
    PostgresLiveCameras,
)
from events.archive import EventArchive, EventLog
from events.errors import StoreUnavailable
from events.heartbeat import WorkerHeartbeat
from events.progress import LiveStats
from events.store import RedisEventStore
from infra.settings import Settings
from infra.workers.running import consumer_name, stop_on_signals
from projector.postgres import reconnecting_connection

log = logging.getLogger(__name__)


def load_detector(settings: Settings) -> OnnxDetector | None:
    """The configured model, or None (with the reason logged) when detection is off."""
    path = settings.model_path()
    if not settings.ml_enabled or path is None:
        log.warning("detection is off: %s", DETECTION_OFF_HINT)
        return None
    return OnnxDetector(path, detector_config(settings))


def detector_config(settings: Settings) -> DetectorConfig:
    """How any model is run here: confidence, classes and batch from the settings."""
    return DetectorConfig(
        confidence_threshold=settings.ml_confidence_threshold,
        class_filter=settings.class_filter,
        max_batch=settings.ml_batch,
    )


def analysis_config(settings: Settings) -> AnalysisConfig:
    return AnalysisConfig(
        fps=settings.ml_fps,
        batch=settings.ml_batch,
        motion=MotionConfig(min_changed=settings.motion_min_changed),
    )


def run_detector(settings: Settings) -> None:
    redis_url, database_url = settings.require_urls()
    store = RedisEventStore.from_url(redis_url)
    heartbeat = WorkerHeartbeat(store.client, "detector", beat_file=settings.heartbeat_file)
    detector = load_detector(settings)
    if detector is None:
        DetectionWorker(
            heartbeat,
            None,
            None,
            None,
            None,
            store.append_many,
            {"detection": "off", "hint": DETECTION_OFF_HINT},
        ).run(stop_on_signals())
        return
    consumer = consumer_name("detector")
    read_model = PostgresLiveCameras(reconnecting_connection(database_url))
    historical = HistoricalDetector(
        store,
        EventLog(store, EventArchive(reconnecting_connection(database_url))),
        detector,
        settings.recordings_root,
        consumer,
        HistoricalConfig(
            max_attempts=settings.ml_max_attempts,
            claim_idle_ms=int(settings.ml_claim_idle_s * 1000),
            analysis=analysis_config(settings),
        ),
        detection_cameras=read_model.detection_cameras,
        camera_zones=read_model.zones,
    )
    live = taps = live_stats = None
    if settings.live_detection_enabled:
        live_cameras = PostgresLiveCameras(reconnecting_connection(database_url))
        live = LiveDetector(
            store, detector, settings.recordings_root, consumer, zones=live_cameras.zones
        )
        taps = LiveTaps(
            live_cameras,
            LiveTapConfig(
                streams_root=settings.streams_root,
                storage_root=settings.recordings_root,
                fps=settings.live_detection_fps,
                motion=MotionConfig(min_changed=settings.motion_min_changed),
            ),
            watching=live.tracks.watching,  # a tracked camera is re-checked, motion or not
        )
        live_stats = LiveStats(store.client)
    detail: dict[str, object] = {
        "detection": "on",
        "model_id": detector.model_id,
        "model_path": str(detector.path),
        "layout": detector.layout.value,
        "providers": ",".join(detector.providers),
        "live": "on" if live else "off",
        "live_fps": settings.live_detection_fps,
        "ml_fps": settings.ml_fps,
    }
    worker = DetectionWorker(
        heartbeat, historical, live, taps, live_stats, store.append_many, detail
    )
    worker.run(stop_on_signals())


def run_alerts(settings: Settings) -> None:
    redis_url, _ = settings.require_urls()
    store = RedisEventStore.from_url(redis_url)
    policy = DebouncePolicy.parse(settings.alert_cooldown_s, settings.alert_cooldowns)
    classes = settings.alert_labels
    worker = AlertWorker(
        store,
        settings.recordings_root,
        consumer_name("alerts"),
        AlertsConfig(policy=policy, classes=classes),
    )
    heartbeat = WorkerHeartbeat(store.client, "alerts", beat_file=settings.heartbeat_file)
    stop = stop_on_signals()
    try:
        while not stop.is_set():
            try:
                worker.step(block_ms=500)
                heartbeat.beat(raised=worker.raised)
            except StoreUnavailable as e:
                log.warning("store unavailable, retrying: %s", e)
                stop.wait(1.0)
    finally:
        heartbeat.stop()
