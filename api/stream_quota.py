"""Open streams per user in one API process: live WebSockets, event streams and footage
downloads each hold a task, buffers and a socket while open, so one user (or one stolen
token) cannot open hundreds. The limits are above what a person needs (a grid of every
camera, a few tabs, a player's range requests) and far below what would starve
everyone else."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

from events.errors import RoninError

StreamKind = Literal["live", "events", "footage"]
LIMITS: dict[StreamKind, int] = {"live": 64, "events": 8, "footage": 6}


class TooManyStreams(RoninError):
    """The user has as many streams of this kind open as one may (HTTP 429, or the
    WebSocket close code 4429)."""


@dataclass
class StreamQuota:
    limits: dict[StreamKind, int] = field(default_factory=lambda: dict(LIMITS))
    _open: Counter[tuple[StreamKind, str]] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, kind: StreamKind, username: str) -> None:
        with self._lock:
            if self._open[kind, username] >= self.limits[kind]:
                raise TooManyStreams(
                    f"at most {self.limits[kind]} {kind} streams open at once: close some"
                )
            self._open[kind, username] += 1

    def give_back(self, kind: StreamKind, username: str) -> None:
        with self._lock:
            self._open[kind, username] -= 1
            if self._open[kind, username] <= 0:
                del self._open[kind, username]

    @contextmanager
    def held(self, kind: StreamKind, username: str) -> Iterator[None]:
        self.take(kind, username)
        try:
            yield
        finally:
            self.give_back(kind, username)

    def open(self, kind: StreamKind, username: str) -> int:
        with self._lock:
            return self._open[kind, username]
