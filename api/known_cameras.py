"""Which cameras exist, as live view needs to know it: read from the cameras read model
and remembered for a moment.

No media token, live socket or HLS file is given for a camera that does not exist (a
feed is a task reading its ring 50 times a second). Live requests come many times a
second, so the ids are read at most every ``fresh_s``; while PostgreSQL is down
(restarting) the last ids read serve, as the user directory does, so live view goes on
through a database restart.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from uuid import UUID

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from projector.readmodels import cameras


class KnownCameras:
    def __init__(
        self, pool: ConnectionPool, fresh_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self._pool, self._fresh_s, self._clock = pool, fresh_s, clock
        self._ids: frozenset[UUID] | None = None
        self._read_at = 0.0
        self._lock = threading.Lock()

    def exists(self, camera_id: UUID) -> bool:
        with self._lock:
            ids, read_at = self._ids, self._read_at
        if ids is not None and self._clock() - read_at < self._fresh_s and camera_id in ids:
            return True  # a camera just removed may play a moment longer; a new one, at once
        try:
            with self._pool.connection(timeout=2) as conn:
                ids = frozenset(c.camera_id for c in cameras.all_cameras(conn))
        except (PoolTimeout, psycopg.OperationalError):
            return ids is None or camera_id in ids  # never read: the token was checked
        with self._lock:
            self._ids, self._read_at = ids, self._clock()
        return camera_id in ids
