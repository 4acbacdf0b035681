"""Projection runners against real Redis and PostgreSQL: exactly-once effects, dead
letters, replay equal to the live model, and the DuckDB sink under the same contract."""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from pathlib import Path

import psycopg
import pytest

from events.archive import Archiver, EventArchive, EventLog
from events.catalogue import CameraAdded, CameraConnected, Event, SegmentClosed, Topic
from events.errors import StoreUnavailable
from events.store import RedisEventStore, StreamId
from projector.analytics import DuckDBReadModels, open_snapshot
from projector.postgres import PostgresReadModels, TableChanges
from projector.projection import Projection, ReadModelSink
from projector.readmodels import cameras_projection, recordings_projection
from projector.readmodels.cameras import CHANGES_CHANNEL
from projector.replay import Replayer
from projector.runner import ProjectionRunner, RunnerConfig
from tests.factories import camera_added, random_history, segment_closed


class Crash(Exception):
    """Stands for the process dying at that point."""


class AckCrashStore(RedisEventStore):
    """Dies once, right after the first commit, before acknowledging."""

    crashed = False

    def ack(self, topic: Topic, group: str, ids: Sequence[StreamId]) -> None:
        if not self.crashed:
            self.crashed = True
            raise Crash
        super().ack(topic, group, ids)


def runner(
    projection: Projection,
    store: RedisEventStore,
    log: EventLog,
    sink: ReadModelSink,
    consumer: str = "c1",
    **config: int,
) -> ProjectionRunner:
    return ProjectionRunner(projection, store, log, sink, consumer, RunnerConfig(**config))


def drain(r: ProjectionRunner) -> None:
    while r.step(block_ms=None):
        pass


def rows(conn: psycopg.Connection, query: str) -> list[tuple]:
    result = conn.execute(query).fetchall()
    conn.commit()
    return result


def test_projects_camera_status_and_segments(
    store: RedisEventStore, event_log: EventLog, pg: psycopg.Connection
) -> None:
    sink = PostgresReadModels(pg)
    added = camera_added("Door")
    store.append_many([added, CameraConnected(camera_id=added.camera_id, worker="w1")])
    store.append_many([segment_closed(added.camera_id, i) for i in range(3)])
    cams, recs = (
        runner(cameras_projection(), store, event_log, sink),
        runner(recordings_projection(), store, event_log, sink),
    )
    drain(cams)
    drain(recs)
    assert rows(pg, "SELECT name, status FROM cameras.cameras") == [("Door", "online")]
    assert rows(pg, "SELECT count(*) FROM recordings.segments") == [(3,)]
    assert sink.position(recordings_projection()) == store.last_id(Topic.RECORDINGS)


def test_the_cameras_table_announces_each_change_to_a_listener(
    store: RedisEventStore, event_log: EventLog, pg: psycopg.Connection, database_url: str
) -> None:
    sink = PostgresReadModels(pg)
    cams = runner(cameras_projection(), store, event_log, sink)
    drain(cams)
    changes = TableChanges(database_url, CHANGES_CHANNEL)
    assert changes.changed()  # the first call: nothing was heard yet
    assert not changes.changed()
    added = camera_added("Door")
    store.append_many([added])
    drain(cams)
    assert changes.changed()
    assert not changes.changed()
    store.append_many([CameraConnected(camera_id=added.camera_id, worker="w1")])
    drain(cams)
    assert changes.changed()

    replayed = Replayer(event_log, PostgresReadModels(psycopg.connect(database_url)), batch=64)
    replayed.replay(cams.projection)  # the rebuilt table announces too
    assert changes.changed()
    assert not changes.changed()
    store.append_many([camera_added("Yard")])
    drain(cams)
    assert changes.changed()

    with psycopg.connect(database_url, autocommit=True) as admin:  # the server drops it
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()"
        )
    with pytest.raises(StoreUnavailable):
        while not changes.changed():
            time.sleep(0.05)  # the connection's loss shows once its socket says so
    assert changes.changed()  # listening again: what was announced meanwhile may be lost
    assert not changes.changed()
    changes.close()


def test_killed_between_commit_and_ack_applies_each_event_once(
    redis_client, archive: EventArchive, pg: psycopg.Connection
) -> None:
    crashing = AckCrashStore(redis_client)
    log = EventLog(crashing, archive)
    sink = PostgresReadModels(pg)
    first = runner(recordings_projection(), crashing, log, sink, "dead", batch=8, lease_ttl_ms=300)
    assert first.step() == 0  # started: schema, group, nothing to catch up
    camera = camera_added()
    crashing.append_many([segment_closed(camera.camera_id, i) for i in range(20)])
    with pytest.raises(Crash):
        first.step()
    assert rows(pg, "SELECT count(*) FROM recordings.segments") == [(8,)]
    assert crashing.groups(Topic.RECORDINGS)[0].pending == 8  # committed, never acked

    second = runner(
        recordings_projection(), crashing, log, sink, "alive", batch=8, lease_ttl_ms=300
    )
    assert second.step() == 0  # the dead one's lease still holds
    time.sleep(0.35)
    drain(second)
    assert rows(pg, "SELECT count(*), count(DISTINCT segment_id) FROM recordings.segments") == [
        (20, 20)
    ]
    assert crashing.groups(Topic.RECORDINGS)[0].pending == 0
    assert second.stats.duplicates == 8


def test_malformed_message_is_dead_lettered_and_projection_continues(
    store: RedisEventStore, event_log: EventLog, pg: psycopg.Connection
) -> None:
    sink = PostgresReadModels(pg)
    r = runner(cameras_projection(), store, event_log, sink)
    r.step()
    store.append(camera_added("A"))
    store.client.xadd(store.key(Topic.CAMERAS), {"type": "CameraAdded", "v": "1", "data": "{"})
    store.client.xadd(store.key(Topic.CAMERAS), {"garbage": "yes"})
    store.append(camera_added("B"))
    drain(r)
    assert rows(pg, "SELECT name FROM cameras.cameras ORDER BY name") == [("A",), ("B",)]
    letters = store.dead_letters(Topic.CAMERAS)
    assert len(letters) == 2
    assert "not valid JSON" in letters[0].reason and "no 'type' field" in letters[1].reason
    assert store.groups(Topic.CAMERAS)[0].pending == 0


def test_event_whose_handler_keeps_failing_is_dead_lettered_after_n_tries(
    store: RedisEventStore, event_log: EventLog, pg: psycopg.Connection
) -> None:
    base = recordings_projection()
    poison = segment_closed(index=1)

    def fragile(event: Event):
        if event == poison:
            raise ValueError("cannot handle this one")
        return base.handlers[SegmentClosed](event)

    projection = Projection(base.name, base.topic, base.tables, {SegmentClosed: fragile})
    r = runner(projection, store, event_log, PostgresReadModels(pg), max_deliveries=3)
    r.step()
    store.append_many([segment_closed(index=0), poison, segment_closed(index=2)])
    for _ in range(10):
        r.step()
    assert rows(pg, "SELECT count(*) FROM recordings.segments") == [(2,)]
    [letter] = store.dead_letters(Topic.RECORDINGS)
    assert "cannot handle this one" in letter.reason
    assert store.groups(Topic.RECORDINGS)[0].pending == 0


def test_replay_equals_the_live_model(
    store: RedisEventStore,
    archive: EventArchive,
    event_log: EventLog,
    pg: psycopg.Connection,
    database_url: str,
) -> None:
    history = random_history(random.Random(7), 400)
    sink = PostgresReadModels(pg)
    live = [
        runner(p, store, event_log, sink) for p in (cameras_projection(), recordings_projection())
    ]
    archiver = Archiver(store, archive, batch=50)
    for chunk_start in range(0, len(history), 100):
        store.append_many(history[chunk_start : chunk_start + 100])
        for r in live:
            drain(r)
        for topic in (Topic.CAMERAS, Topic.RECORDINGS):
            archiver.run_once(topic)  # trims what the live groups have finished
    assert store.length(Topic.RECORDINGS) < 100 < archive.count(Topic.RECORDINGS)

    replayer = Replayer(event_log, PostgresReadModels(psycopg.connect(database_url)), batch=64)
    for r in live:
        before = sink.checksum(r.projection)
        result = replayer.replay(r.projection)
        assert sink.checksum(r.projection) == before
        assert result.position == sink.position(r.projection)

    more = random_history(random.Random(8), 50)  # the live projectors carry on after a swap
    store.append_many(more)
    for r in live:
        drain(r)
        after = sink.checksum(r.projection)
        replayer.replay(r.projection)
        assert sink.checksum(r.projection) == after


def test_duckdb_sink_holds_the_same_rows_as_postgres(
    store: RedisEventStore, event_log: EventLog, pg: psycopg.Connection, tmp_path: Path
) -> None:
    history = [e for e in random_history(random.Random(3), 200) if e.topic is Topic.RECORDINGS]
    store.append_many(history)
    duck = DuckDBReadModels(tmp_path / "a.duckdb")
    pg_sink = PostgresReadModels(pg)
    projection = recordings_projection()
    for sink in (duck, pg_sink):
        drain(runner(projection, store, event_log, sink, f"c-{id(sink)}"))
        store.client.delete("ronin:lease:recordings")
        store.client.xgroup_destroy(store.key(Topic.RECORDINGS), "recordings")
    query = "SELECT segment_id::text, path, bytes, video_codec, epoch(start_at) FROM {} ORDER BY 1"
    duck_rows = duck._con.execute(query.format("recordings.segments")).fetchall()
    pg_rows = rows(
        pg,
        query.replace("epoch(start_at)", "extract(epoch FROM start_at)::double precision").format(
            "recordings.segments"
        ),
    )
    assert duck_rows == pg_rows and len(duck_rows) > 50
    assert duck.position(projection) == pg_sink.position(projection)

    before = duck.checksum(projection)
    Replayer(event_log, duck, batch=64).replay(projection)
    assert duck.checksum(projection) == before

    snapshot = tmp_path / "snapshot.duckdb"
    duck.publish_snapshot(snapshot)
    with open_snapshot(snapshot) as con:
        assert con.execute("SELECT count(*) FROM recordings.segments").fetchone() == (
            len(duck_rows),
        )


def test_camera_added_event_has_credentials_only_as_ciphertext() -> None:
    fields = set(CameraAdded.model_fields)
    assert "password" not in fields and "credentials_ciphertext" in fields


def test_a_read_model_built_from_other_tables_is_rebuilt_by_replay(
    store: RedisEventStore, event_log: EventLog, pg: psycopg.Connection
) -> None:
    """A read model is never altered in place: one whose schema predates its tables (no
    fingerprint, a column missing) is rebuilt from the event log when its runner starts,
    and keeps following the topic from there."""
    added = camera_added("Door")
    store.append(added)
    pg.execute("CREATE SCHEMA cameras")
    pg.execute("CREATE TABLE cameras._position (one boolean PRIMARY KEY, ms bigint, seq bigint)")
    pg.execute("INSERT INTO cameras._position VALUES (true, NULL, NULL)")
    pg.execute("CREATE TABLE cameras.cameras (camera_id uuid PRIMARY KEY, name text)")
    pg.commit()
    sink = PostgresReadModels(pg)
    projection = cameras_projection()
    sink.ensure(projection)  # leaves an existing schema alone
    assert not sink.is_current(projection)
    drain(runner(projection, store, event_log, sink))
    assert sink.is_current(projection)
    assert rows(pg, "SELECT name, enabled, status FROM cameras.cameras") == [
        ("Door", True, "offline")
    ]
    store.append(CameraConnected(camera_id=added.camera_id, worker="w1"))
    drain(runner(projection, store, event_log, sink))
    assert rows(pg, "SELECT status FROM cameras.cameras") == [("online",)]


def test_a_changed_projection_is_rebuilt_in_duckdb_too(
    store: RedisEventStore, event_log: EventLog, tmp_path: Path
) -> None:
    import dataclasses

    store.append_many([segment_closed(camera_added("Door").camera_id, i) for i in range(4)])
    duck = DuckDBReadModels(tmp_path / "a.duckdb")
    old = dataclasses.replace(recordings_projection(), version=0)
    drain(runner(old, store, event_log, duck))
    store.client.delete("ronin:lease:recordings")
    projection = recordings_projection()
    assert duck.is_current(old) and not duck.is_current(projection)
    drain(runner(projection, store, event_log, duck, "c2"))
    assert duck.is_current(projection)
    assert duck._con.execute("SELECT count(*) FROM recordings.segments").fetchone() == (4,)
    assert duck.position(projection) == store.last_id(Topic.RECORDINGS)
