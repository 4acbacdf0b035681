"""The projection runner: consumer group → decode → pure handlers → one transaction → XACK.

At least once, applied exactly once: the projection's position (last stream id applied)
is written in the same transaction as its rows; an event at or below the position is a
duplicate and only acknowledged. One lease holder per projection consumes at a time, so
events are applied in stream order. A message that cannot be decoded is dead-lettered
at once; one whose handler keeps failing is dead-lettered after ``max_deliveries``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from events.archive import EventLog
from events.catalogue import Event
from events.codec import decode
from events.errors import CodecError, ProjectionError
from events.store import ZERO, Lease, Message, RedisEventStore, StreamId
from projector.projection import Projection, ReadModelSink
from projector.replay import Replayer
from projector.rows import RowOp, fold

log = logging.getLogger(__name__)


@dataclass(slots=True)
class RunnerStats:
    applied: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    failures: dict[StreamId, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RunnerConfig:
    batch: int = 1000
    lease_ttl_ms: int = 10_000
    max_deliveries: int = 5


class ProjectionRunner:
    """Keeps one projection up to date from its topic's consumer group."""

    def __init__(
        self,
        projection: Projection,
        store: RedisEventStore,
        log_reader: EventLog,
        sink: ReadModelSink,
        consumer: str,
        config: RunnerConfig | None = None,
    ) -> None:
        self.projection = projection
        self._store, self._log, self._sink = store, log_reader, sink
        self._consumer = consumer
        self._config = config or RunnerConfig()
        self._lease = Lease(
            store.client, f"ronin:lease:{projection.name}", consumer, self._config.lease_ttl_ms
        )
        self.stats = RunnerStats()
        self._started = False

    @property
    def group(self) -> str:
        return self.projection.name

    def step(self, block_ms: int | None = None) -> int:
        """Handle one batch; returns how many messages it handled (0: nothing to do)."""
        if not self._lease.try_acquire():
            return 0
        if not self._started:
            self._start()
        messages = self._next_messages(block_ms)
        if messages:
            self._handle(messages)
        return len(messages)

    def release(self) -> None:
        self._lease.release()

    # --- steps ---------------------------------------------------------------------

    def _start(self) -> None:
        """Create the schema (or rebuild it by replay when it was built from other table
        definitions) and the group, apply whatever the group cannot deliver (trimmed into
        the archive, or before the group existed), then point the group there."""
        self._sink.ensure(self.projection)
        if not self._sink.is_current(self.projection):
            log.warning("%s: its tables changed; rebuilding it from the event log", self.group)
            result = Replayer(self._log, self._sink).replay(self.projection)
            log.warning("%s: rebuilt from %d events", self.group, result.events)
        position = self._sink.position(self.projection)
        self._store.ensure_group(self.projection.topic, self.group, position or ZERO)
        for messages in self._log.read_after(self.projection.topic, position or ZERO):
            if not self._handle(messages, acknowledge=False):
                break  # the group redelivers from the failed event on, in order
        position = self._sink.position(self.projection)
        if position is not None:
            self._store.set_group_position(self.projection.topic, self.group, position)
        self._started = True

    def _next_messages(self, block_ms: int | None) -> list[Message]:
        topic, cfg = self.projection.topic, self._config
        own = self._store.read_own_pending(topic, self.group, self._consumer, cfg.batch)
        if own:
            return own
        stale = self._store.claim_stale(topic, self.group, self._consumer, 0, cfg.batch)
        if stale:  # we hold the lease, so any other consumer's pending is abandoned
            return stale
        return self._store.read_group(topic, self.group, self._consumer, cfg.batch, block_ms)

    def _handle(self, messages: Sequence[Message], acknowledge: bool = True) -> bool:
        """Apply a batch; False when it stopped at an event to retry later."""
        decoded = self._decode(messages)
        try:
            self._apply(decoded)
        except ProjectionError as e:
            log.warning("%s: batch failed (%s); applying one by one", self.group, e)
            return self._apply_one_by_one(decoded, acknowledge)
        if acknowledge:
            self._store.ack(self.projection.topic, self.group, [m.stream_id for m in messages])
        return True

    def _decode(self, messages: Sequence[Message]) -> list[tuple[Message, Event]]:
        decoded = []
        for message in messages:
            try:
                decoded.append((message, decode(message.fields)))
            except CodecError as e:
                self.stats.dead_lettered += 1
                log.error("%s: dead-lettering %s: %s", self.group, message.stream_id, e)
                self._store.dead_letter(message.topic, self.group, message, str(e))
        return decoded

    def _apply(self, decoded: Sequence[tuple[Message, Event]]) -> None:
        if not decoded:
            return
        with self._sink.batch(self.projection) as batch:
            position = batch.position
            ops: list[RowOp] = []
            fresh = 0
            for message, event in decoded:
                if position is not None and message.stream_id <= position:
                    continue
                fresh += 1
                try:
                    ops.extend(self.projection.project(event))
                except Exception as e:  # a handler bug must not stop the projection
                    raise ProjectionError(f"{type(event).__name__}: {e!r}") from e
            if fresh:
                batch.write(fold(ops))
                batch.set_position(decoded[-1][0].stream_id)
        self.stats.applied += fresh
        self.stats.duplicates += len(decoded) - fresh

    def _apply_one_by_one(
        self, decoded: Sequence[tuple[Message, Event]], acknowledge: bool
    ) -> bool:
        topic = self.projection.topic
        for message, event in decoded:
            try:
                self._apply([(message, event)])
            except ProjectionError as e:
                if not self._give_up(message, str(e), acknowledge):
                    return False  # retried on the next step, from our own pending entries
                continue
            if acknowledge:
                self._store.ack(topic, self.group, [message.stream_id])
        return True

    def _give_up(self, message: Message, reason: str, acknowledge: bool) -> bool:
        failures = self.stats.failures.get(message.stream_id, 0) + 1
        self.stats.failures[message.stream_id] = failures
        delivered = 0
        if acknowledge:
            counts = self._store.delivery_counts(message.topic, self.group, [message.stream_id])
            delivered = counts.get(message.stream_id, 0)
        if max(failures, delivered) < self._config.max_deliveries:
            return False
        log.error(
            "%s: dead-lettering %s after %d tries: %s",
            self.group,
            message.stream_id,
            failures,
            reason,
        )
        self.stats.dead_lettered += 1
        self.stats.failures.pop(message.stream_id, None)
        self._store.dead_letter(message.topic, self.group, message, reason)
        return True
