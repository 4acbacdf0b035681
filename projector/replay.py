"""Rebuild a read model from the first archived event, into a fresh schema, then swap.

The live model keeps serving (and the live projector keeps applying) while the copy is
built; the swap locks the live position row, brings the copy up to the live position,
and renames schemas in one transaction, so readers see either the old or the new model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import redis

from events.archive import EventLog
from events.codec import decode
from events.errors import CodecError
from events.store import ZERO, Message, StreamId
from projector.projection import Projection, ReadModelSink, SinkBatch
from projector.rows import RowOp, fold

Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class ReplayResult:
    projection: str
    events: int
    skipped: int
    position: StreamId | None


class Replayer:
    """Rebuilds projections (PostgreSQL or DuckDB) from the event log."""

    def __init__(self, log_reader: EventLog, sink: ReadModelSink, batch: int = 5000) -> None:
        self._log, self._sink, self._batch = log_reader, sink, batch

    def replay(self, projection: Projection, progress: Progress | None = None) -> ReplayResult:
        shadow = f"{projection.name}__replay"
        self._sink.drop(shadow)
        self._sink.ensure(projection, shadow)
        self._sink.ensure(projection)  # the live schema must exist to be swapped out
        counts = [0, 0]
        for messages in self._log.read_after(projection.topic, ZERO, self._batch):
            with self._sink.batch(projection, shadow) as batch:
                self._apply(projection, batch, messages, counts)
            if progress:
                progress(len(messages))

        def catch_up(batch: SinkBatch, live: StreamId | None) -> None:
            if live is None or (batch.position is not None and batch.position >= live):
                return
            for messages in self._log.read_after(projection.topic, batch.position or ZERO):
                upto = [m for m in messages if m.stream_id <= live]
                self._apply(projection, batch, upto, counts)
                if len(upto) < len(messages):
                    return

        self._sink.swap(projection, shadow, catch_up)
        return ReplayResult(projection.name, counts[0], counts[1], self._sink.position(projection))

    @staticmethod
    def _apply(
        projection: Projection, batch: SinkBatch, messages: list[Message], counts: list[int]
    ) -> None:
        ops: list[RowOp] = []
        for message in messages:
            try:
                ops.extend(projection.project(decode(message.fields)))
                counts[0] += 1
            except CodecError:
                counts[1] += 1
            except Exception:  # the live projector dead-lettered it too
                counts[1] += 1
        if messages:
            batch.write(fold(ops))
            batch.set_position(messages[-1].stream_id)


@dataclass(frozen=True, slots=True)
class ReplayStatus:
    state: str  # requested, running, done, failed
    done: int
    total: int
    detail: str


class ReplayRequests:
    """Replay requests for read models owned by a running worker (DuckDB has one writer).

    The CLI asks (``request``); the owning worker rebuilds between batches and reports
    progress in ``ronin:replay:{projection}``, which the CLI shows as a progress bar.
    """

    def __init__(self, client: redis.Redis) -> None:
        self._redis: Any = client

    @staticmethod
    def _key(name: str) -> str:
        return f"ronin:replay:{name}"

    def request(self, name: str, total: int) -> None:
        self.report(name, ReplayStatus("requested", 0, total, ""))

    def requested(self, names: Iterable[str]) -> list[str]:
        return [n for n in names if self._redis.hget(self._key(n), "state") == b"requested"]

    def report(self, name: str, status: ReplayStatus) -> None:
        self._redis.hset(
            self._key(name),
            mapping={
                "state": status.state,
                "done": status.done,
                "total": status.total,
                "detail": status.detail,
            },
        )

    def status(self, name: str) -> ReplayStatus | None:
        raw = self._redis.hgetall(self._key(name))
        if not raw:
            return None
        values = {k.decode(): v.decode() for k, v in raw.items()}
        return ReplayStatus(
            values.get("state", ""),
            int(values.get("done", 0)),
            int(values.get("total", 0)),
            values.get("detail", ""),
        )
