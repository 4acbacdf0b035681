"""The event store over Redis Streams: append, consumer groups, ack, reclaim, dead letters.

One stream per :class:`~events.catalogue.Topic`, keyed ``{prefix}:{topic}``; a message
that keeps failing moves to ``{prefix}:{topic}:dead`` with the reason. Streams are
trimmed only by the archiver (``events.archive``), never on append.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol, TypeVar
from uuid import UUID

import redis
from redis import exceptions as redis_errors

from events.catalogue import Event, Topic
from events.codec import encode
from events.errors import RoninError, StoreUnavailable

T = TypeVar("T")


@dataclass(frozen=True, order=True, slots=True)
class StreamId:
    """A Redis stream entry id ``ms-seq``; ordered like Redis orders them."""

    ms: int
    seq: int

    @classmethod
    def parse(cls, text: str | bytes) -> StreamId:
        raw = text.decode() if isinstance(text, bytes) else text
        ms, _, seq = raw.partition("-")
        return cls(int(ms), int(seq or 0))

    def next(self) -> StreamId:
        """The smallest id greater than this one."""
        return StreamId(self.ms, self.seq + 1)

    def __str__(self) -> str:
        return f"{self.ms}-{self.seq}"


ZERO = StreamId(0, 0)


@dataclass(frozen=True, slots=True)
class Message:
    """One stream entry, undecoded (so a malformed one can still be dead-lettered)."""

    topic: Topic
    stream_id: StreamId
    fields: Mapping[bytes, bytes]


@dataclass(frozen=True, slots=True)
class GroupState:
    """What Redis knows about one consumer group on a stream."""

    name: str
    consumers: int
    pending: int
    last_delivered: StreamId
    lag: int | None
    oldest_pending: StreamId | None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message moved aside because it kept failing."""

    stream_id: StreamId
    original_id: StreamId
    group: str
    reason: str
    fields: Mapping[bytes, bytes]


class EventStore(Protocol):
    """What workers need from the event store (contract-tested in tests/test_event_store)."""

    def append(self, event: Event) -> StreamId: ...
    def append_many(self, events: Sequence[Event]) -> list[StreamId]: ...
    def ensure_group(self, topic: Topic, group: str, start: StreamId = ZERO) -> None: ...
    def read_group(
        self, topic: Topic, group: str, consumer: str, count: int, block_ms: int | None
    ) -> list[Message]: ...
    def read_own_pending(
        self, topic: Topic, group: str, consumer: str, count: int
    ) -> list[Message]: ...
    def claim_stale(
        self, topic: Topic, group: str, consumer: str, min_idle_ms: int, count: int
    ) -> list[Message]: ...
    def delivery_counts(
        self, topic: Topic, group: str, ids: Sequence[StreamId]
    ) -> dict[StreamId, int]: ...
    def ack(self, topic: Topic, group: str, ids: Sequence[StreamId]) -> None: ...
    def dead_letter(self, topic: Topic, group: str, message: Message, reason: str) -> None: ...
    def dead_letters(self, topic: Topic, count: int = 100) -> list[DeadLetter]: ...
    def read_range(self, topic: Topic, after: StreamId, count: int) -> list[Message]: ...
    def first_id(self, topic: Topic) -> StreamId | None: ...
    def last_id(self, topic: Topic) -> StreamId | None: ...
    def last_ids(self, topics: Iterable[Topic]) -> dict[Topic, StreamId | None]: ...
    def wait_for_appends(self, after: Mapping[Topic, StreamId | None], timeout_ms: int) -> bool: ...
    def length(self, topic: Topic) -> int: ...
    def groups(self, topic: Topic) -> list[GroupState]: ...
    def trim_below(self, topic: Topic, floor: StreamId) -> int: ...


class RedisEventStore:
    """:class:`EventStore` on Redis Streams (Redis ≥ 6.2 for XAUTOCLAIM)."""

    def __init__(self, client: redis.Redis, prefix: str = "ronin") -> None:
        self._client = client
        self._redis: Any = client  # redis-py's reply types are too loose to check
        self._prefix = prefix

    @classmethod
    def from_url(cls, url: str, prefix: str = "ronin") -> RedisEventStore:
        return cls(redis.Redis.from_url(url), prefix)

    @property
    def client(self) -> redis.Redis:
        return self._client

    def key(self, topic: Topic) -> str:
        return f"{self._prefix}:{topic.value}"

    def dead_key(self, topic: Topic) -> str:
        return f"{self._prefix}:{topic.value}:dead"

    # --- writing -------------------------------------------------------------------

    def append(self, event: Event) -> StreamId:
        return self.append_many([event])[0]

    def append_many(self, events: Sequence[Event]) -> list[StreamId]:
        if not events:
            return []

        def run() -> list[StreamId]:
            pipe = self._redis.pipeline(transaction=False)
            for event in events:
                pipe.xadd(self.key(event.topic), encode(event))
            return [StreamId.parse(i) for i in pipe.execute()]

        return self._call(run)

    def append_once(self, event: Event, remember_ms: int = 7 * 86_400_000) -> StreamId | None:
        """Append unless an event with this ``event_id`` was appended in the last
        ``remember_ms`` (None then): a writer that retries after a lost reply, or after a
        restart, appends once. The marker and the entry are written by one script, so
        Redis keeps both or, losing its last writes, neither (see :meth:`was_appended`)."""
        fields = [part for pair in encode(event).items() for part in pair]
        marker = f"{self._prefix}:appended:{event.event_id}"

        def run() -> StreamId | None:
            sid = self._redis.eval(
                _APPEND_ONCE, 2, self.key(event.topic), marker, remember_ms, *fields
            )
            return StreamId.parse(sid) if sid else None

        return self._call(run)

    def was_appended(self, event_id: UUID) -> bool:
        """Whether :meth:`append_once` appended this event and Redis still knows it."""
        marker = f"{self._prefix}:appended:{event_id}"
        return bool(self._call(lambda: self._redis.exists(marker)))

    # --- consumer groups -----------------------------------------------------------

    def ensure_group(self, topic: Topic, group: str, start: StreamId = ZERO) -> None:
        def run() -> None:
            try:
                self._redis.xgroup_create(self.key(topic), group, id=str(start), mkstream=True)
            except redis_errors.ResponseError as e:
                if "BUSYGROUP" not in str(e):
                    raise

        self._call(run)

    def restore(
        self,
        topic: Topic,
        tail: Sequence[Message],
        groups: Sequence[tuple[str, StreamId]],
        last: StreamId,
    ) -> None:
        """Onto an empty stream (a restore): ``tail`` under its original ids, each group
        at its position, and the stream's last id at ``last``, so that new entries sort
        after every restored one whatever this machine's clock says."""
        key = self.key(topic)

        def run() -> None:
            if self._redis.xlen(key):
                raise RoninError(
                    f"the stream {topic.value} is not empty: restore needs a new install"
                )
            pipe = self._redis.pipeline(transaction=True)
            for m in tail:
                pipe.xadd(key, dict(m.fields), id=str(m.stream_id))
            for name, position in groups:
                pipe.xgroup_create(key, name, id=str(position), mkstream=True)
            pipe.execute()
            if tail or groups:
                self._redis.execute_command("XSETID", key, str(last))

        self._call(run)

    def set_group_position(self, topic: Topic, group: str, position: StreamId) -> None:
        self._call(lambda: self._redis.xgroup_setid(self.key(topic), group, id=str(position)))

    def read_group(
        self, topic: Topic, group: str, consumer: str, count: int, block_ms: int | None
    ) -> list[Message]:
        return self._xreadgroup(topic, group, consumer, ">", count, block_ms)

    def read_own_pending(
        self, topic: Topic, group: str, consumer: str, count: int
    ) -> list[Message]:
        return self._xreadgroup(topic, group, consumer, "0", count, None)

    def _xreadgroup(
        self, topic: Topic, group: str, consumer: str, start: str, count: int, block: int | None
    ) -> list[Message]:
        key = self.key(topic)
        reply = self._call(
            lambda: self._redis.xreadgroup(group, consumer, {key: start}, count=count, block=block)
        )
        messages: list[Message] = []
        for _stream, entries in reply or []:
            messages.extend(self._messages(topic, entries))
        return messages

    def claim_stale(
        self, topic: Topic, group: str, consumer: str, min_idle_ms: int, count: int
    ) -> list[Message]:
        """XAUTOCLAIM messages idle longer than ``min_idle_ms`` (left by a dead consumer)."""
        key = self.key(topic)
        claimed: list[Message] = []
        cursor = "0-0"
        while len(claimed) < count:
            reply = self._call(
                partial(
                    self._redis.xautoclaim,
                    key,
                    group,
                    consumer,
                    min_idle_ms,
                    start_id=cursor,
                    count=count - len(claimed),
                )
            )
            cursor, entries = reply[0], reply[1]
            claimed.extend(self._messages(topic, entries))
            deleted = reply[2] if len(reply) > 2 else []
            if deleted:  # entries trimmed away while pending: nothing left to deliver
                self.ack(topic, group, [StreamId.parse(i) for i in deleted])
            if cursor in (b"0-0", "0-0"):
                break
        return claimed

    def touch(self, topic: Topic, group: str, consumer: str, ids: Sequence[StreamId]) -> None:
        """Reset the idle time of messages this consumer is still working on (XCLAIM JUSTID),
        so a long job is not claimed by another consumer while its worker is alive."""
        if ids:
            key = self.key(topic)
            self._call(
                lambda: self._redis.xclaim(
                    key, group, consumer, 0, [str(i) for i in ids], justid=True
                )
            )

    def delivery_counts(
        self, topic: Topic, group: str, ids: Sequence[StreamId]
    ) -> dict[StreamId, int]:
        if not ids:
            return {}
        low, high = min(ids), max(ids)
        rows = self._call(
            lambda: self._redis.xpending_range(
                self.key(topic), group, min=str(low), max=str(high), count=len(ids) * 4 + 10
            )
        )
        wanted = set(ids)
        counts = {}
        for row in rows:
            sid = StreamId.parse(row["message_id"])
            if sid in wanted:
                counts[sid] = int(row["times_delivered"])
        return counts

    def ack(self, topic: Topic, group: str, ids: Sequence[StreamId]) -> None:
        if ids:
            self._call(lambda: self._redis.xack(self.key(topic), group, *[str(i) for i in ids]))

    def dead_letter(self, topic: Topic, group: str, message: Message, reason: str) -> None:
        """Move a message to the topic's dead-letter stream with the reason, then ack it."""
        fields: dict[bytes, bytes] = {
            b"original_id": str(message.stream_id).encode(),
            b"group": group.encode(),
            b"reason": reason.encode(errors="replace")[:4000],
        }
        for name, value in message.fields.items():
            fields[b"original." + name] = value

        def run() -> None:
            pipe = self._redis.pipeline(transaction=True)
            pipe.xadd(self.dead_key(topic), fields)
            pipe.xack(self.key(topic), group, str(message.stream_id))
            pipe.execute()

        self._call(run)

    def dead_letter_count(self, topic: Topic) -> int:
        return int(self._call(lambda: self._redis.xlen(self.dead_key(topic))))

    def newest_dead_letter(self, topic: Topic) -> DeadLetter | None:
        entries = self._call(lambda: self._redis.xrevrange(self.dead_key(topic), count=1))
        return self._letters(entries)[0] if entries else None

    def dead_letters(self, topic: Topic, count: int = 100) -> list[DeadLetter]:
        entries = self._call(lambda: self._redis.xrange(self.dead_key(topic), count=count))
        return self._letters(entries)

    @staticmethod
    def _letters(entries: Any) -> list[DeadLetter]:
        letters = []
        for sid, fields in entries:
            original = {
                k[len(b"original.") :]: v for k, v in fields.items() if k.startswith(b"original.")
            }
            letters.append(
                DeadLetter(
                    stream_id=StreamId.parse(sid),
                    original_id=StreamId.parse(fields[b"original_id"]),
                    group=fields[b"group"].decode(),
                    reason=fields[b"reason"].decode(errors="replace"),
                    fields=original,
                )
            )
        return letters

    # --- reading and trimming ------------------------------------------------------

    def read_range(self, topic: Topic, after: StreamId, count: int) -> list[Message]:
        entries = self._call(
            lambda: self._redis.xrange(self.key(topic), min=f"({after}", count=count)
        )
        return self._messages(topic, entries)

    def first_id(self, topic: Topic) -> StreamId | None:
        entries = self._call(lambda: self._redis.xrange(self.key(topic), count=1))
        return StreamId.parse(entries[0][0]) if entries else None

    def last_id(self, topic: Topic) -> StreamId | None:
        entries = self._call(lambda: self._redis.xrevrange(self.key(topic), count=1))
        return StreamId.parse(entries[0][0]) if entries else None

    def last_ids(self, topics: Iterable[Topic]) -> dict[Topic, StreamId | None]:
        """:meth:`last_id` of several topics in one round trip."""
        topics = list(topics)

        def run() -> list[Any]:
            pipe = self._redis.pipeline(transaction=False)
            for topic in topics:
                pipe.xrevrange(self.key(topic), count=1)
            return list(pipe.execute())

        replies = self._call(run)
        return {
            t: StreamId.parse(entries[0][0]) if entries else None
            for t, entries in zip(topics, replies, strict=True)
        }

    def wait_for_appends(self, after: Mapping[Topic, StreamId | None], timeout_ms: int) -> bool:
        """Wait at most ``timeout_ms`` for an event after ``after`` (a topic's last id
        when it was read, see :meth:`last_ids`) in any of its topics; True if one came.
        A blocked XREAD costs Redis nothing while nothing happens, where polling every
        consumer group each few milliseconds kept two workers and Redis busy."""
        if not after:
            return False
        streams = {self.key(t): str(sid or ZERO) for t, sid in after.items()}
        reply = self._call(lambda: self._redis.xread(streams, count=1, block=max(1, timeout_ms)))
        return bool(reply)

    def length(self, topic: Topic) -> int:
        return int(self._call(lambda: self._redis.xlen(self.key(topic))))

    def groups(self, topic: Topic) -> list[GroupState]:
        key = self.key(topic)

        def run() -> list[GroupState]:
            try:
                infos = self._redis.xinfo_groups(key)
            except redis_errors.ResponseError:
                return []  # no such stream yet
            states = []
            for info in infos:
                name = _text(info["name"])
                pending, oldest = int(info["pending"]), None
                if pending:
                    # XINFO and XPENDING are two calls: what was pending may have been
                    # acknowledged between them (the summary then has no "min").
                    summary = self._redis.xpending(key, name)
                    pending = int(summary.get("pending") or 0)
                    first = summary.get("min")
                    oldest = None if not pending or first is None else StreamId.parse(first)
                lag = info.get("lag")
                states.append(
                    GroupState(
                        name=name,
                        consumers=int(info["consumers"]),
                        pending=pending,
                        last_delivered=StreamId.parse(info["last-delivered-id"]),
                        lag=None if lag is None else int(lag),
                        oldest_pending=oldest,
                    )
                )
            return states

        return self._call(run)

    def trim_below(self, topic: Topic, floor: StreamId) -> int:
        """Remove entries with ids below ``floor`` (XTRIM MINID, exact)."""
        return int(
            self._call(
                lambda: self._redis.xtrim(self.key(topic), minid=str(floor), approximate=False)
            )
        )

    # --- plumbing ------------------------------------------------------------------

    @staticmethod
    def _messages(
        topic: Topic, entries: Sequence[tuple[bytes, dict[bytes, bytes]]]
    ) -> list[Message]:
        return [
            Message(topic, StreamId.parse(sid), fields)
            for sid, fields in entries
            if fields is not None
        ]

    @staticmethod
    def _call(fn: Callable[[], T]) -> T:
        try:
            return fn()
        except (redis_errors.ConnectionError, redis_errors.TimeoutError) as e:
            raise StoreUnavailable(f"Redis is unreachable: {e}") from e


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@contextmanager
def lease(client: redis.Redis, key: str, owner: str, ttl_ms: int) -> Iterator[Lease]:
    """Hold a Redis lease for the duration of a ``with`` block (released on exit)."""
    held = Lease(client, key, owner, ttl_ms)
    try:
        yield held
    finally:
        held.release()


_APPEND_ONCE = """
if redis.call('set', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then
  return redis.call('xadd', KEYS[1], '*', unpack(ARGV, 2))
end
return false
"""
_TAKE_OR_RENEW = """
local holder = redis.call('get', KEYS[1])
if holder == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
if holder then
  return 0
end
redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class Lease:
    """A single-holder lease in Redis (``SET NX PX``), renewed by its holder.

    A projection is consumed by one lease holder at a time, so events are applied in
    stream order; a holder that dies loses the lease after ``ttl_ms``.
    """

    def __init__(self, client: redis.Redis, key: str, owner: str, ttl_ms: int) -> None:
        self._redis: Any = client
        self.key, self.owner, self.ttl_ms = key, owner, ttl_ms

    def try_acquire(self) -> bool:
        """Take the lease if free, or renew it if already ours (one round trip)."""
        return hold_leases(self._redis, [self])[0]

    def release(self) -> None:
        with contextlib.suppress(redis_errors.RedisError):  # else it expires by itself
            self._redis.eval(_RELEASE, 1, self.key, self.owner)


def hold_leases(client: redis.Redis, leases: Sequence[Lease]) -> list[bool]:
    """Take or renew each lease (False: another holder has it), all in one round trip.
    A lease of ours that Redis lost (it restarted without it) is taken again."""
    if not leases:
        return []
    try:
        pipe: Any = client.pipeline(transaction=False)
        for held in leases:
            pipe.eval(_TAKE_OR_RENEW, 1, held.key, held.owner, held.ttl_ms)
        return [bool(answer) for answer in pipe.execute()]
    except (redis_errors.ConnectionError, redis_errors.TimeoutError) as e:
        raise StoreUnavailable(f"Redis is unreachable: {e}") from e
