"""The projection workers: ``projector`` (PostgreSQL read models), ``analytics`` (DuckDB
analytics tables, publishing a snapshot for the API) and ``archiver`` (copies stream
entries into the PostgreSQL archive, then trims streams)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from events.archive import Archiver, EventArchive, EventLog
from events.catalogue import Topic
from events.errors import RoninError, StoreUnavailable
from events.heartbeat import WorkerHeartbeat
from events.store import RedisEventStore
from infra.settings import Settings
from infra.workers.running import consumer_name, stop_on_signals
from projector.analytics import DuckDBReadModels
from projector.postgres import PostgresReadModels, reconnecting_connection
from projector.projection import Projection, ReadModelSink
from projector.readmodels import analytics_projections, postgres_projections
from projector.replay import Replayer, ReplayRequests, ReplayStatus
from projector.runner import ProjectionRunner, RunnerConfig

log = logging.getLogger(__name__)


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
    heartbeat = WorkerHeartbeat(store.client, "projector", beat_file=settings.heartbeat_file)
    run_projection_loop(runners, store, heartbeat, stop_on_signals())


def run_analytics(settings: Settings) -> None:
    redis_url, database_url = settings.require_urls()
    store = RedisEventStore.from_url(redis_url)
    sink = DuckDBReadModels(settings.analytics_path)
    projections = analytics_projections()
    runners = build_runners(settings, store, projections, sink, "analytics")
    heartbeat = WorkerHeartbeat(store.client, "analytics", beat_file=settings.heartbeat_file)
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
    heartbeat = WorkerHeartbeat(store.client, "archiver", beat_file=settings.heartbeat_file)
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
