"""Users as each request needs them: read from PostgreSQL and remembered for a moment.

A record is fresh for ``fresh_s`` (so a page of live video, a dozen requests a second,
costs one query), and a change made through this process is seen at once (``forget``).
While PostgreSQL is down (restarting), the last record read serves, so a server restart
does not sign everyone out; changes cannot be made then anyway.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from api.auth import User, Users


class UserDirectory:
    def __init__(
        self,
        pool: ConnectionPool,
        fresh_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pool, self._fresh_s, self._clock = pool, fresh_s, clock
        self._known: dict[str, tuple[float, User | None]] = {}
        self._lock = threading.Lock()

    def get(self, username: str) -> User | None:
        with self._lock:
            seen = self._known.get(username)
        if seen is not None and self._clock() - seen[0] < self._fresh_s:
            return seen[1]
        try:
            with self._pool.connection() as conn:
                user = Users(conn).get(username)
        except (PoolTimeout, psycopg.OperationalError):
            if seen is None:
                raise
            return seen[1]
        with self._lock:
            if len(self._known) > 10_000:  # names from forged tokens cannot grow it forever
                self._known.clear()
            self._known[username] = (self._clock(), user)
        return user

    def forget(self, username: str) -> None:
        with self._lock:
            self._known.pop(username, None)
