"""Health of every component: Redis, PostgreSQL, the DuckDB snapshot, workers, group lag."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import redis
from pydantic import BaseModel

from events.catalogue import Topic
from events.errors import RoninError
from events.heartbeat import worker_statuses
from events.store import RedisEventStore
from projector.analytics import open_snapshot


class ComponentHealth(BaseModel):
    name: str
    ok: bool
    detail: str


class GroupLag(BaseModel):
    topic: str
    group: str
    lag: int | None
    pending: int


class GivenUp(BaseModel):
    """Items a worker gave up on (dead-lettered) on one topic, and the newest's reason."""

    topic: str
    count: int
    group: str
    reason: str


class HealthReport(BaseModel):
    status: str
    components: list[ComponentHealth]
    consumer_groups: list[GroupLag]
    given_up: list[GivenUp] = []


def _check(name: str, probe: Callable[[], str]) -> ComponentHealth:
    try:
        return ComponentHealth(name=name, ok=True, detail=probe())
    except (RoninError, redis.RedisError, psycopg.Error, OSError) as e:
        return ComponentHealth(name=name, ok=False, detail=str(e).strip() or type(e).__name__)


def check_health(
    store: RedisEventStore, database_url: str, snapshot: Path, expected_workers: list[str]
) -> HealthReport:
    components = [
        _check("redis", lambda: f"ping ok, {store.client.dbsize()} keys"),
        _check("postgres", lambda: _postgres(database_url)),
        _check("duckdb", lambda: _duckdb(snapshot)),
    ]
    groups: list[GroupLag] = []
    given_up: list[GivenUp] = []
    if components[0].ok:
        components.extend(_workers(store, expected_workers))
        for topic in Topic:
            groups.extend(
                GroupLag(topic=topic.value, group=g.name, lag=g.lag, pending=g.pending)
                for g in store.groups(topic)
            )
            given_up.extend(_given_up(store, topic))
    else:
        components.extend(
            ComponentHealth(name=f"worker:{w}", ok=False, detail="unknown: Redis is down")
            for w in expected_workers
        )
    status = "ok" if all(c.ok for c in components) else "unavailable"
    return HealthReport(status=status, components=components, consumer_groups=groups,
                        given_up=given_up)  # fmt: skip


def _given_up(store: RedisEventStore, topic: Topic) -> list[GivenUp]:
    newest = store.newest_dead_letter(topic)
    if newest is None:
        return []
    count = store.dead_letter_count(topic)
    return [GivenUp(topic=topic.value, count=count, group=newest.group, reason=newest.reason)]


def _postgres(database_url: str) -> str:
    with psycopg.connect(database_url, connect_timeout=2) as conn:
        row = conn.execute("SELECT count(*) FROM event_log").fetchone()
    return f"connected, {row[0] if row else 0} archived events"


def _duckdb(snapshot: Path) -> str:
    if not snapshot.exists():
        raise FileNotFoundError(f"no analytics snapshot yet at {snapshot}")
    with open_snapshot(snapshot) as con:
        row = con.execute("SELECT count(*) FROM duckdb_tables()").fetchone()
    return f"snapshot readable, {row[0] if row else 0} tables"


def _workers(store: RedisEventStore, expected: list[str]) -> list[ComponentHealth]:
    seen = {s.name: s for s in worker_statuses(store.client)}
    names = sorted(set(expected) | set(seen))
    out = []
    for name in names:
        status = seen.get(name)
        if status is None or not status.alive:
            out.append(ComponentHealth(name=f"worker:{name}", ok=False, detail="no heartbeat"))
        else:
            detail = ", ".join(f"{k}={v}" for k, v in sorted(status.detail.items())) or "alive"
            out.append(ComponentHealth(name=f"worker:{name}", ok=True, detail=detail))
    return out
