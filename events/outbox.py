"""Events kept in order in memory while the event store is unreachable.

A worker that must go on while Redis is down (ingest keeps recording) emits through an
outbox: each event is appended at once when Redis answers, and otherwise waits, in
order, until it does. Only events whose loss costs nothing recorded go this way
(connection and recording status); a closed segment has its intent on disk instead
(``ingest.segment_store``).
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable

from events.catalogue import Event
from events.errors import StoreUnavailable

log = logging.getLogger(__name__)


class Outbox:
    def __init__(
        self,
        append: Callable[[Event], object],
        retry_s: float = 1.0,
        limit: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._append, self._retry_s, self._clock = append, retry_s, clock
        self._queue: collections.deque[Event] = collections.deque(maxlen=limit)
        self._retry_at = 0.0

    def __len__(self) -> int:
        return len(self._queue)

    def emit(self, event: Event) -> None:
        if len(self._queue) == self._queue.maxlen:
            log.warning("outbox full: dropping the oldest, %s", type(self._queue[0]).__name__)
        self._queue.append(event)
        self.flush()

    def flush(self) -> bool:
        """Append what waits, oldest first; False while the store is unreachable (it
        is tried again at most every ``retry_s``)."""
        if not self._queue:
            return True
        if self._clock() < self._retry_at:
            return False
        while self._queue:
            try:
                self._append(self._queue[0])
            except StoreUnavailable:
                self._retry_at = self._clock() + self._retry_s
                return False
            self._queue.popleft()
        return True
