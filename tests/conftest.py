"""Shared fixtures: real redis-server and PostgreSQL, started once per test session.

Each test gets an empty Redis database and a fresh PostgreSQL database cloned from a
migrated template, so tests never see each other's events or rows.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import redis

from events.archive import EventArchive, EventLog
from events.store import RedisEventStore
from infra.embedded import EmbeddedPostgres, EmbeddedRedis, start_service, stop_process, wait_until
from projector.migrations import migrate


@dataclass(frozen=True)
class Servers:
    redis_url: str
    admin_url: str
    socket_dir: Path
    data_dir: Path

    def database_url(self, name: str) -> str:
        return f"postgresql://ronin@/{name}?host={self.socket_dir}"


def make_data_dir(prefix: str) -> Path:
    """A temporary directory PostgreSQL (run as `postgres` under root) can enter."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    path.chmod(0o755)
    return path


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    data = make_data_dir("ronin-test-")
    embedded_redis, pg = EmbeddedRedis(data), EmbeddedPostgres(data)
    log_dir = data / "logs"
    procs = []
    try:
        procs.append((start_service(embedded_redis.prepare(), log_dir), signal.SIGTERM))
        wait_until(embedded_redis.ready, 30, "redis")
        procs.append((start_service(pg.prepare(), log_dir), signal.SIGINT))
        wait_until(pg.ready, 60, "postgres")
        with psycopg.connect(pg.admin_url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE ronin_template")
        with psycopg.connect(pg.url.replace("/ronin?", "/ronin_template?")) as conn:
            migrate(conn)
        yield Servers(embedded_redis.url, pg.admin_url, pg.socket_dir, data)
    finally:
        for proc, sig in reversed(procs):
            stop_process(proc, sig)
        if not os.environ.get("RONIN_KEEP_TEST_DATA"):
            shutil.rmtree(data, ignore_errors=True)


@pytest.fixture
def redis_client(servers: Servers) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(servers.redis_url)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def store(redis_client: redis.Redis) -> RedisEventStore:
    return RedisEventStore(redis_client)


@pytest.fixture
def database_url(servers: Servers) -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(servers.admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE ronin_template')
    yield servers.database_url(name)
    with psycopg.connect(servers.admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg(database_url: str) -> Iterator[psycopg.Connection]:
    conn = psycopg.connect(database_url)
    yield conn
    conn.close()


@pytest.fixture
def archive(database_url: str) -> Iterator[EventArchive]:
    conn = psycopg.connect(database_url)
    yield EventArchive(conn)
    conn.close()


@pytest.fixture
def event_log(store: RedisEventStore, archive: EventArchive) -> EventLog:
    return EventLog(store, archive)
