"""Worker processes (``ronin worker NAME``): each wires its parts, then loops over named steps.

- ``projector``: PostgreSQL read models (cameras, recordings).
- ``analytics``: DuckDB analytics tables, publishing a snapshot for the API.
- ``archiver``: copies stream entries into the PostgreSQL archive, then trims streams.
- ``ingest``: records every camera (one ffmpeg each), see ``ingest.worker``.
- ``detector``: historical jobs on SegmentClosed and live detection, see ``detector.worker``.
- ``alerts``: debounces live detections into AlertRaised with a snapshot.
- ``retention``: applies the retention policy and reconciles disk and read models.
- ``transcoder``: re-encodes old segments to H.265 when TRANSCODE_ENABLED (off by default).

A worker stops cleanly on SIGTERM/SIGINT; if Redis or PostgreSQL is briefly
unreachable it waits and retries instead of exiting.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Sequence
from datetime import timedelta

import redis
from py_vapid import Vapid

from api.auth import Tokens, User
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
from events.archive import Archiver, EventArchive, EventLog
from events.catalogue import RetentionTiers, Topic
from events.errors import ConfigurationError, RoninError, StoreUnavailable
from events.heartbeat import WorkerHeartbeat
from events.progress import LiveStats
from events.store import RedisEventStore
from infra.settings import Settings
from ingest.camera_config.credentials import CredentialCipher, SecretCipher
from ingest.lifecycle.retention import (
    PostgresStorageCatalog,
    RetentionConfig,
    RetentionWorker,
    gigabytes,
    tier_limits,
)
from ingest.lifecycle.retention_policy import Limits, RetentionPolicy
from ingest.lifecycle.transcode import (
    PostgresTranscodeQueue,
    Transcoder,
    TranscodeSettings,
    choose_encoder,
    usable_encoders,
)
from ingest.recorder import RecorderSettings
from ingest.segment_store import SegmentStore
from ingest.worker import IngestWorker, PostgresCameraCatalog
from projector.analytics import DuckDBReadModels
from projector.mqtt.bridge import BridgeConfig, MqttBridge, PostgresCameraRows, broker_address
from projector.mqtt.discovery import Discovery, labels_of
from projector.mqtt.topics import Topics
from projector.notify.push_delivery import PushConfig
from projector.notify.push_sender import PostgresPushBook, PushSender
from projector.notify.sender import PendingDeliveries, PostgresWebhooks, SenderConfig, WebhookSender
from projector.postgres import PostgresReadModels, reconnecting_connection
from projector.projection import Projection, ReadModelSink
from projector.readmodels import analytics_projections, postgres_projections
from projector.replay import Replayer, ReplayRequests, ReplayStatus
from projector.runner import ProjectionRunner, RunnerConfig

log = logging.getLogger(__name__)


def stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def consumer_name(worker: str) -> str:
    return f"{worker}@{socket.gethostname()}:{os.getpid()}"


def build_runners(
    settings: Settings,
    store: RedisEventStore,
    projections: Sequence[Projection],
    sink: ReadModelSink,
    worker: str,
) -> list[ProjectionRunner]:
    _, database_url = settings.require_urls()
    reader = EventLog(store, EventArchive(reconnecting_connection(database_url)))
    config = RunnerConfig(lease_ttl_ms=settings.lease_ttl_ms)
    return [
        ProjectionRunner(p, store, reader, sink, consumer_name(worker), config) for p in projections
    ]


def run_projection_loop(
    runners: Sequence[ProjectionRunner],
    store: RedisEventStore,
    heartbeat: WorkerHeartbeat,
    stop: threading.Event,
    after_step: Callable[[int], None] = lambda handled: None,
    idle_wait_ms: int = 1000,
) -> None:
    """Step every runner until stopped; back off while a store is unreachable. With
    nothing to do, wait in Redis for the next event on any of the runners' topics (the
    last ids are read before the step, so an event appended during it ends the wait at
    once), up to ``idle_wait_ms`` (leases are renewed and replays looked for each time)."""
    topics = {runner.projection.topic for runner in runners}
    try:
        while not stop.is_set():
            try:
                seen = store.last_ids(topics)
                handled = sum(runner.step(block_ms=None) for runner in runners)
                after_step(handled)
                heartbeat.beat(applied=sum(r.stats.applied for r in runners))
                if handled == 0:
                    store.wait_for_appends(seen, idle_wait_ms)
            except StoreUnavailable as e:
                log.warning("store unavailable, retrying: %s", e)
                stop.wait(1.0)
    finally:
        for runner in runners:
            runner.release()
        heartbeat.stop()


def run_projector(settings: Settings) -> None:
    redis_url, database_url = settings.require_urls()
    store = RedisEventStore.from_url(redis_url)
    sink = PostgresReadModels(reconnecting_connection(database_url))
    runners = build_runners(settings, store, postgres_projections(), sink, "projector")
    heartbeat = WorkerHeartbeat(store.client, "projector")
    run_projection_loop(runners, store, heartbeat, stop_on_signals())


def run_analytics(settings: Settings) -> None:
    redis_url, database_url = settings.require_urls()
    store = RedisEventStore.from_url(redis_url)
    sink = DuckDBReadModels(settings.analytics_path)
    projections = analytics_projections()
    runners = build_runners(settings, store, projections, sink, "analytics")
    heartbeat = WorkerHeartbeat(store.client, "analytics")
    for runner in runners:
        sink.ensure(runner.projection)
    replays = ReplayRequests(store.client)
    replayer = Replayer(EventLog(store, EventArchive(reconnecting_connection(database_url))), sink)
    snapshot = settings.analytics_snapshot_path
    sink.publish_snapshot(snapshot)
    state = {"dirty": False, "published": time.monotonic(), "checked": 0.0}

    def between_batches(handled: int) -> None:
        now = time.monotonic()
        if now - state["checked"] >= 1.0:
            state["checked"] = now
            for name in replays.requested(p.name for p in projections):
                run_requested_replay(
                    replays, replayer, next(p for p in projections if p.name == name)
                )
                state["dirty"] = True
        state["dirty"] = bool(state["dirty"] or handled)
        if state["dirty"] and now - state["published"] >= settings.snapshot_interval_s:
            sink.publish_snapshot(snapshot)
            state.update(dirty=False, published=time.monotonic())

    try:
        run_projection_loop(runners, store, heartbeat, stop_on_signals(), between_batches)
    finally:
        sink.close()


def run_requested_replay(
    replays: ReplayRequests, replayer: Replayer, projection: Projection
) -> None:
    """Rebuild ``projection`` here (its store's only writer), reporting progress."""
    status = replays.status(projection.name)
    total, done = (status.total if status else 0), 0

    def progress(n: int) -> None:
        nonlocal done
        done += n
        replays.report(projection.name, ReplayStatus("running", done, total, ""))

    try:
        result = replayer.replay(projection, progress)
    except RoninError as e:
        replays.report(projection.name, ReplayStatus("failed", done, total, str(e)))
        return
    detail = (
        f"{result.events} events replayed, {result.skipped} skipped, position {result.position}"
    )
    replays.report(projection.name, ReplayStatus("done", done, total, detail))


def run_archiver(settings: Settings) -> None:
    redis_url, database_url = settings.require_urls()
    store = RedisEventStore.from_url(redis_url)
    archiver = Archiver(store, EventArchive(reconnecting_connection(database_url)))
    heartbeat = WorkerHeartbeat(store.client, "archiver")
    stop = stop_on_signals()
    try:
        while not stop.is_set():
            try:
                archived = sum(archiver.run_once(topic).archived for topic in Topic)
                heartbeat.beat(archived=archived)
            except StoreUnavailable as e:
                log.warning("store unavailable, retrying: %s", e)
            stop.wait(settings.archive_interval_s)
    finally:
        heartbeat.stop()


def run_ingest(settings: Settings, name: str = "ingest") -> None:
    redis_url, database_url = settings.require_urls()
    # short timeouts: a hung Redis must not hold up closing segments for long
    client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
    store = RedisEventStore(client)
    cipher = CredentialCipher(settings.encryption_key_value())
    worker = IngestWorker(
        name=name,
        catalog=PostgresCameraCatalog(reconnecting_connection(database_url), cipher),
        store=SegmentStore(settings.recordings_root, store.append_once, store.was_appended),
        settings=RecorderSettings(
            log_dir=settings.log_dir / "cameras",
            segment_seconds=settings.segment_seconds,
            stall_s=settings.ingest_stall_s,
            streams_root=settings.streams_root,
        ),
        client=store.client,
        emit=store.append,
    )
    worker.run(stop_on_signals())


def load_detector(settings: Settings) -> OnnxDetector | None:
    """The configured model, or None (with the reason logged) when detection is off."""
    path = settings.model_path()
    if not settings.ml_enabled or path is None:
        log.warning("detection is off: %s", DETECTION_OFF_HINT)
        return None
    return OnnxDetector(
        path,
        DetectorConfig(
            confidence_threshold=settings.ml_confidence_threshold,
            class_filter=settings.class_filter,
            max_batch=settings.ml_batch,
        ),
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
    heartbeat = WorkerHeartbeat(store.client, "detector")
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
    heartbeat = WorkerHeartbeat(store.client, "alerts")
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


def retention_policy(settings: Settings) -> RetentionPolicy:
    s = settings
    tiers = RetentionTiers(
        alert_days=s.retention_alert_days, alert_max_gb=s.retention_alert_max_gb,
        detection_days=s.retention_detection_days,
        detection_max_gb=s.retention_detection_max_gb,
        continuous_max_gb=s.retention_continuous_max_gb,
    )  # fmt: skip
    floor = settings.retention_min_free_gb
    return RetentionPolicy(
        limits=Limits(s.retention_days, gigabytes(s.retention_max_gb), tier_limits(tiers)),
        min_free_bytes=None if not floor else int(floor * 1e9),
    )


def run_retention(settings: Settings) -> None:
    redis_url, database_url = settings.require_urls()
    store = RedisEventStore.from_url(redis_url)
    worker = RetentionWorker(
        store.append,
        PostgresStorageCatalog(reconnecting_connection(database_url), settings.alert_labels),
        settings.recordings_root,
        RetentionConfig(
            policy=retention_policy(settings),
            interval_s=settings.retention_interval_s,
            grace_s=settings.retention_grace_s,
            snapshot_days=settings.snapshot_retention_days,
            export_days=settings.export_retention_days,
            export_max_bytes=int(settings.export_max_gb * 1e9),
        ),
    )
    heartbeat = WorkerHeartbeat(store.client, "retention")
    stop = stop_on_signals()
    while not stop.is_set():
        try:
            worker.run(stop, lambda: heartbeat.beat(purged=worker.purged_total))
        except StoreUnavailable as e:
            log.warning("store unavailable, retrying: %s", e)
            stop.wait(1.0)
    heartbeat.stop()


def run_transcoder(settings: Settings) -> None:
    redis_url, database_url = settings.require_urls()
    store = RedisEventStore.from_url(redis_url)
    heartbeat = WorkerHeartbeat(store.client, "transcoder")
    stop = stop_on_signals()
    if not settings.transcode_enabled:
        log.info("transcoding is off (TRANSCODE_ENABLED=false)")
        while not stop.wait(5.0):
            heartbeat.beat(transcoding="off")
        heartbeat.stop()
        return
    encoder = choose_encoder(usable_encoders(), settings.transcode_encoder)
    log.info("transcoding to H.265 with %s", encoder)
    transcoder = Transcoder(
        settings.recordings_root,
        PostgresTranscodeQueue(reconnecting_connection(database_url)),
        store.append,
        TranscodeSettings(
            after=timedelta(hours=settings.transcode_after_hours),
            encoder=encoder,
            crf=settings.transcode_crf,
            preset=settings.transcode_preset,
            threads=settings.transcode_threads,
        ),
    )
    while not stop.is_set():
        try:
            transcoder.run(stop, lambda: heartbeat.beat(encoder=encoder, done=transcoder.done))
        except StoreUnavailable as e:
            log.warning("store unavailable, retrying: %s", e)
            stop.wait(1.0)
    heartbeat.stop()


def run_mqtt(settings: Settings) -> None:
    redis_url, database_url = settings.require_urls()
    if not settings.mqtt_url:
        raise ConfigurationError("MQTT_URL must be set (`ronin up` sets it with MQTT_ENABLED)")
    store = RedisEventStore.from_url(redis_url)
    consumer = consumer_name("mqtt")
    discovery = Discovery(
        Topics(settings.mqtt_topic_prefix), labels_of(settings.mqtt_labels),
        settings.mqtt_discovery_prefix,
    )  # fmt: skip
    bridge = MqttBridge(
        broker_address(settings.mqtt_url),
        store,
        PostgresCameraRows(reconnecting_connection(database_url)),
        settings.recordings_root,
        consumer,
        BridgeConfig(discovery, settings.alert_labels, client_id=f"ronin-{consumer}"),
    )
    heartbeat = WorkerHeartbeat(store.client, "mqtt")
    try:
        bridge.run(stop_on_signals(), lambda: heartbeat.beat(
            broker="connected" if bridge.connected else "unreachable",
            published=bridge.published))  # fmt: skip
    finally:
        heartbeat.stop()


def snapshot_tokens(settings: Settings) -> Callable[[User, str], str]:
    """Media tokens for push notifications' pictures: a day, one snapshot each."""
    tokens = Tokens(settings.jwt_secret_value(), settings.jwt_expiry_minutes * 60)
    return lambda user, resource: tokens.issue(user, "media", 86_400, resource=resource)


def run_notifier(settings: Settings) -> None:
    redis_url, database_url = settings.require_urls()
    store = RedisEventStore.from_url(redis_url)
    book = PostgresWebhooks(
        reconnecting_connection(database_url), SecretCipher(settings.encryption_key_value())
    )
    consumer = consumer_name("notifier")
    hooks = WebhookSender(store, book, PendingDeliveries(store.client), consumer,
                          SenderConfig(alert_labels=settings.alert_labels))  # fmt: skip
    pushes = PushSender(
        store, PostgresPushBook(reconnecting_connection(database_url)),
        Vapid.from_pem(settings.vapid_private_pem().encode()), consumer,
        PushConfig(contact=settings.push_contact, alert_labels=settings.alert_labels,
                   media_tokens=snapshot_tokens(settings)),
    )  # fmt: skip
    heartbeat, stop = WorkerHeartbeat(store.client, "notifier"), stop_on_signals()
    try:
        while not stop.is_set():
            for sender in (hooks, pushes):
                try:
                    sender.step(block_ms=100)
                except StoreUnavailable as e:
                    log.warning("store unavailable, retrying: %s", e)
                    stop.wait(1.0)
            heartbeat.beat(delivered=hooks.delivered, failed=hooks.failed,
                           pushed=pushes.pushed, push_failed=pushes.failed)  # fmt: skip
    finally:
        hooks.close()
        pushes.close()
        heartbeat.stop()


WORKER_ENTRYPOINTS: dict[str, Callable[[Settings], None]] = {
    "notifier": run_notifier,
    "mqtt": run_mqtt,
    "transcoder": run_transcoder,
    "retention": run_retention,
    "ingest": run_ingest,
    "detector": run_detector,
    "alerts": run_alerts,
    "projector": run_projector,
    "analytics": run_analytics,
    "archiver": run_archiver,
}


def run_worker(name: str, settings: Settings) -> None:
    entry = WORKER_ENTRYPOINTS.get(name)
    if entry is None:
        raise ConfigurationError(
            f"unknown worker {name!r}; choose one of {', '.join(WORKER_ENTRYPOINTS)}"
        )
    entry(settings)
