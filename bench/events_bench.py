"""Event backbone throughput: ours beside the raw limits, measured in the same run.

    .venv/bin/python bench/events_bench.py [--events 100000] [--replay-events 1000000]

Starts its own redis-server and PostgreSQL in a temporary directory, then measures:

- append: ``RedisEventStore.append_many`` (encode + pipelined XADD) vs a pipelined XADD
  loop with redis-py of the same, already encoded, fields;
- project: the ``recordings`` projection runner (XREADGROUP, decode, fold, COPY + upsert,
  position, XACK) vs a COPY of the same rows into a bare table with psycopg;
- replay: rebuilding the ``recordings`` read model from the archive.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from uuid import uuid4

import psycopg
import redis
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from events.archive import Archiver, EventArchive, EventLog
from events.catalogue import SegmentClosed, Topic
from events.codec import encode
from events.store import RedisEventStore
from infra.embedded import (
    EmbeddedPostgres,
    EmbeddedRedis,
    start_service,
    stop_process,
    wait_until,
)
from projector.migrations import migrate
from projector.postgres import PostgresReadModels
from projector.readmodels import recordings_projection
from projector.readmodels.segments import SEGMENTS
from projector.replay import Replayer
from projector.runner import ProjectionRunner, RunnerConfig
from tests.factories import segment_closed

CHUNK = 1000


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def make_events(n: int) -> list[SegmentClosed]:
    camera = uuid4()
    return [segment_closed(camera, i) for i in range(n)]


def raw_xadd(client: redis.Redis, events: list[SegmentClosed]) -> None:
    fields = [encode(e) for e in events]  # encoding is not charged to the raw limit
    key = "bench:raw"

    def run() -> None:
        for i in range(0, len(fields), CHUNK):
            pipe = client.pipeline(transaction=False)
            for f in fields[i : i + CHUNK]:
                pipe.xadd(key, f)  # type: ignore[arg-type]
            pipe.execute()

    raw_xadd.seconds = timed(run)  # type: ignore[attr-defined]
    client.delete(key)


def ours_append(store: RedisEventStore, events: list[SegmentClosed]) -> float:
    def run() -> None:
        for i in range(0, len(events), CHUNK):
            store.append_many(events[i : i + CHUNK])

    return timed(run)


def raw_copy(conn: psycopg.Connection, events: list[SegmentClosed]) -> float:
    conn.execute("CREATE TABLE bench_segments (LIKE recordings.segments INCLUDING ALL)")
    conn.commit()
    handler = recordings_projection().handlers[SegmentClosed]
    rows = [[op.row[c] for c in SEGMENTS.columns] for e in events for op in handler(e)]  # type: ignore[union-attr]

    def run() -> None:
        with conn.cursor() as cur, cur.copy("COPY bench_segments FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        conn.commit()

    return timed(run)


def started_runner(store: RedisEventStore, log: EventLog, database_url: str) -> ProjectionRunner:
    sink = PostgresReadModels(psycopg.connect(database_url))
    runner = ProjectionRunner(
        recordings_projection(), store, log, sink, "bench", RunnerConfig(batch=CHUNK)
    )
    runner.step()  # schema, group; the events come after, through the group
    return runner


def ours_project(runner: ProjectionRunner, n: int) -> float:
    def run() -> None:
        while runner.stats.applied < n:
            runner.step(block_ms=None)

    return timed(run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--replay-events", type=int, default=1_000_000)
    args = parser.parse_args()
    console = Console()

    data = Path(tempfile.mkdtemp(prefix="ronin-bench-", dir="/tmp"))
    data.chmod(0o755)
    embedded_redis, pg = EmbeddedRedis(data), EmbeddedPostgres(data)
    procs = [(start_service(embedded_redis.prepare(), data / "logs"), signal.SIGTERM)]
    try:
        wait_until(embedded_redis.ready, 30, "redis")
        procs.append((start_service(pg.prepare(), data / "logs"), signal.SIGINT))
        wait_until(pg.ready, 60, "postgres")
        pg.create_database()
        conn = psycopg.connect(pg.url)
        migrate(conn)
        client = redis.Redis.from_url(embedded_redis.url)
        store = RedisEventStore(client)
        archive = EventArchive(psycopg.connect(pg.url))
        log = EventLog(store, archive)
        n = args.events

        console.print(f"generating {n:,} events")
        events = make_events(n)
        raw_xadd(client, events)
        raw_append_s = raw_xadd.seconds  # type: ignore[attr-defined]
        runner = started_runner(store, log, pg.url)
        append_s = ours_append(store, events)
        project_s = ours_project(runner, n)
        copy_s = raw_copy(conn, events)

        replay_n = args.replay_events
        console.print(f"appending and archiving {replay_n:,} events for replay")
        extra = replay_n - n
        for i in range(0, extra, 50_000):
            store.append_many(make_events(min(50_000, extra - i)))
            Archiver(store, archive, batch=10_000).run_once(Topic.RECORDINGS)
        Archiver(store, archive, batch=10_000).run_once(Topic.RECORDINGS)
        replayer = Replayer(log, PostgresReadModels(psycopg.connect(pg.url)), batch=10_000)
        replay_s = timed(lambda: replayer.replay(recordings_projection()))

        table = Table(title=f"event backbone, {n:,} SegmentClosed events")
        for column in ("measure", "ours (events/s)", "raw limit (events/s)", "ours/raw", "aim"):
            table.add_column(column, justify="right")
        table.add_row(
            "append",
            f"{n / append_s:,.0f}",
            f"{n / raw_append_s:,.0f} (pipelined XADD)",
            f"{raw_append_s / append_s:.0%}",
            "≥ 50%",
        )
        table.add_row(
            "project into PostgreSQL",
            f"{n / project_s:,.0f}",
            f"{n / copy_s:,.0f} (COPY)",
            f"{copy_s / project_s:.0%}",
            "≥ 30%",
        )
        table.add_row(
            f"replay {replay_n:,} events",
            f"{replay_n / replay_s:,.0f} ({replay_s:.1f} s)",
            "",
            "",
            "< 60 s",
        )
        console.print(table)
    finally:
        for proc, sig in reversed(procs):
            stop_process(proc, sig)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
