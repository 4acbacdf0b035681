"""Worker liveness in Redis: each worker refreshes a short-lived hash; health reads them.

A worker that stops cleanly unregisters; one that dies simply stops refreshing, and
its hash expires, so health reports it down.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import redis
from redis import exceptions as redis_errors

from events.errors import StoreUnavailable

REGISTRY = "ronin:workers"


@dataclass(frozen=True, slots=True)
class WorkerStatus:
    name: str
    alive: bool
    last_seen: float | None
    detail: dict[str, str]


class WorkerHeartbeat:
    """Refreshes ``ronin:worker:{name}`` every call to :meth:`beat` (throttled), and
    ``beat_file``'s modification time after each beat that reached Redis: a container's
    healthcheck reads the file's age without starting Python or asking Redis."""

    def __init__(
        self, client: redis.Redis, name: str, ttl_s: float = 15.0, beat_file: Path | None = None
    ) -> None:
        self._redis, self.name, self._ttl = client, name, ttl_s
        self._beat_file = beat_file
        self._last = 0.0

    def beat(self, **detail: object) -> None:
        now = time.time()
        if now - self._last < self._ttl / 5:
            return
        key = f"ronin:worker:{self.name}"
        try:
            pipe = self._redis.pipeline(transaction=False)
            pipe.sadd(REGISTRY, self.name)
            pipe.hset(key, mapping={"last_seen": now, **{k: str(v) for k, v in detail.items()}})
            pipe.pexpire(key, int(self._ttl * 1000))
            pipe.execute()
        except (redis_errors.ConnectionError, redis_errors.TimeoutError) as e:
            raise StoreUnavailable(f"Redis is unreachable: {e}") from e
        self._last = now  # a failed beat is tried again at the next call
        if self._beat_file is not None:
            self._beat_file.touch()

    def stop(self) -> None:
        try:
            self._redis.srem(REGISTRY, self.name)
            self._redis.delete(f"ronin:worker:{self.name}")
        except redis_errors.RedisError:
            pass


def worker_statuses(client: redis.Redis, prefix: str = "") -> list[WorkerStatus]:
    """Every registered worker whose name starts with ``prefix``, alive or not (a dead
    one's hash has expired); two round trips whatever the number of workers."""
    try:
        names = sorted(
            name
            for name in (raw.decode() if isinstance(raw, bytes) else str(raw)
                         for raw in client.smembers(REGISTRY))
            if name.startswith(prefix)
        )  # fmt: skip
        pipe = client.pipeline(transaction=False)
        for name in names:
            pipe.hgetall(f"ronin:worker:{name}")
        hashes = pipe.execute() if names else []
    except (redis_errors.ConnectionError, redis_errors.TimeoutError) as e:
        raise StoreUnavailable(f"Redis is unreachable: {e}") from e
    return [_status(name, data) for name, data in zip(names, hashes, strict=True)]


def _status(name: str, data: dict[bytes, bytes]) -> WorkerStatus:
    detail = {k.decode(): v.decode() for k, v in data.items()}
    last_seen = float(detail.pop("last_seen")) if "last_seen" in detail else None
    return WorkerStatus(name, last_seen is not None, last_seen, detail)
