"""The storage workers: ``retention`` (applies the retention policy and reconciles disk
and read models) and ``transcoder`` (re-encodes old segments to H.265 when
TRANSCODE_ENABLED)."""

from __future__ import annotations

import logging
from datetime import timedelta

from events.catalogue import RetentionTiers
from events.errors import StoreUnavailable
from events.heartbeat import WorkerHeartbeat
from events.store import RedisEventStore
from infra.settings import Settings
from infra.workers.running import stop_on_signals
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
from projector.postgres import reconnecting_connection

log = logging.getLogger(__name__)


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
    heartbeat = WorkerHeartbeat(store.client, "retention", beat_file=settings.heartbeat_file)
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
    heartbeat = WorkerHeartbeat(store.client, "transcoder", beat_file=settings.heartbeat_file)
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
