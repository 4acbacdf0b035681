"""The durable event archive in PostgreSQL, and gap-free reading of archive + stream.

Redis streams are trimmed to bound memory; before an entry is trimmed it is copied into
the append-only ``event_log`` table (migration 001). :func:`trim_floor` says how far a
stream may be trimmed: never past what is archived, nor past what any consumer group
has not yet finished. :class:`EventLog` reads a topic from any position: the archive
first, then the live stream, with no gap and no duplicate.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import psycopg

from events.catalogue import Topic
from events.errors import StoreUnavailable
from events.store import ZERO, EventStore, GroupState, Message, StreamId

T = TypeVar("T")


def trim_floor(archived_upto: StreamId | None, groups: Sequence[GroupState]) -> StreamId | None:
    """The lowest id that must stay in the stream; entries below it may be trimmed.

    An entry may go when it is archived and every group has delivered and acknowledged
    it. ``None`` means nothing may be trimmed.
    """
    if archived_upto is None:
        return None
    floor = archived_upto.next()
    for group in groups:
        unfinished = (
            group.oldest_pending
            if group.oldest_pending is not None
            else group.last_delivered.next()
        )
        floor = min(floor, unfinished)
    return floor


class EventArchive:
    """The ``event_log`` table: every stream entry, kept after the stream is trimmed."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn

    def last_id(self, topic: Topic) -> StreamId | None:
        row = self._execute_one(
            "SELECT ms, seq FROM event_log WHERE topic = %s ORDER BY ms DESC, seq DESC LIMIT 1",
            (topic.value,),
        )
        return None if row is None else StreamId(row[0], row[1])

    def append(self, messages: Sequence[Message]) -> None:
        """Copy stream entries into the archive in one transaction (COPY)."""
        if not messages:
            return

        def run() -> None:
            with (
                self._conn.transaction(),
                self._conn.cursor() as cur,
                cur.copy("COPY event_log (topic, ms, seq, type, version, data) FROM STDIN") as copy,
            ):
                for m in messages:
                    copy.write_row(
                        (
                            m.topic.value,
                            m.stream_id.ms,
                            m.stream_id.seq,
                            _field_text(m, b"type"),
                            _field_int(m, b"v"),
                            _json_text(m),
                        )
                    )

        self._call(run)

    def read_after(self, topic: Topic, after: StreamId, count: int) -> list[Message]:
        def run() -> list[Message]:
            with self._conn.cursor() as cur:
                cur.execute(
                    "SELECT ms, seq, type, version, data::text FROM event_log"
                    " WHERE topic = %s AND (ms, seq) > (%s, %s)"
                    " ORDER BY ms, seq LIMIT %s",
                    (topic.value, after.ms, after.seq, count),
                )
                rows = cur.fetchall()
            self._conn.commit()
            return [
                Message(
                    topic,
                    StreamId(ms, seq),
                    {b"type": t.encode(), b"v": str(v).encode(), b"data": d.encode()},
                )
                for ms, seq, t, v, d in rows
            ]

        return self._call(run)

    def has_between(self, topic: Topic, after: StreamId, before: StreamId) -> bool:
        row = self._execute_one(
            "SELECT 1 FROM event_log WHERE topic = %s AND (ms, seq) > (%s, %s)"
            " AND (ms, seq) < (%s, %s) LIMIT 1",
            (topic.value, after.ms, after.seq, before.ms, before.seq),
        )
        return row is not None

    def count(self, topic: Topic) -> int:
        row = self._execute_one("SELECT count(*) FROM event_log WHERE topic = %s", (topic.value,))
        return int(row[0]) if row else 0

    def _execute_one(self, sql: str, params: tuple[object, ...]) -> tuple[int, ...] | None:
        def run() -> tuple[int, ...] | None:
            with self._conn.cursor() as cur:
                cur.execute(sql, params)
                row = cur.fetchone()
            self._conn.commit()
            return row

        return self._call(run)

    def _call(self, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except psycopg.OperationalError as e:
            raise StoreUnavailable(f"PostgreSQL is unreachable: {e}") from e


def _field_text(message: Message, name: bytes) -> str:
    """A field as text PostgreSQL takes (no NUL: a text column refuses it)."""
    return message.fields.get(name, b"").decode(errors="replace").replace("\x00", "\ufffd")


def _json_text(message: Message) -> str:
    """The entry's data as JSON; an entry that is not JSON (written by something else, or
    damaged) is archived as a JSON string of its text, so the archiver never stops on it
    and the log keeps it whole (its readers dead-letter it as they did in the stream)."""
    text = message.fields.get(b"data", b"").decode(errors="replace")
    if not text:
        return "null"
    try:
        json.loads(text)
    except ValueError:
        return json.dumps(text)
    return text


def _field_int(message: Message, name: bytes) -> int:
    try:
        return int(message.fields.get(name, b"0"))
    except ValueError:
        return 0


@dataclass(frozen=True, slots=True)
class ArchivePass:
    """What one archiver pass did on one topic."""

    topic: Topic
    archived: int
    trimmed: int


class Archiver:
    """Copies new stream entries into the archive, then trims what is safe to trim."""

    def __init__(self, store: EventStore, archive: EventArchive, batch: int = 5000) -> None:
        self._store, self._archive, self._batch = store, archive, batch
        self._upto: dict[Topic, StreamId | None] = {}

    def run_once(self, topic: Topic) -> ArchivePass:
        if topic not in self._upto:
            self._upto[topic] = self._archive.last_id(topic)
        archived = 0
        while True:
            messages = self._store.read_range(topic, self._upto[topic] or ZERO, self._batch)
            if not messages:
                break
            self._archive.append(messages)
            self._upto[topic] = messages[-1].stream_id
            archived += len(messages)
        floor = trim_floor(self._upto[topic], self._store.groups(topic))
        trimmed = self._store.trim_below(topic, floor) if floor is not None else 0
        return ArchivePass(topic, archived, trimmed)


class EventLog:
    """Reads a topic from any position: archived entries, then the stream, gap-free."""

    def __init__(self, store: EventStore, archive: EventArchive) -> None:
        self._store, self._archive = store, archive

    def read_after(
        self, topic: Topic, after: StreamId, batch: int = 5000
    ) -> Iterator[list[Message]]:
        """Yield batches in id order until the stream's current end.

        The archiver copies before it trims, so any entry missing from the stream between
        the last one read and the stream's first is in the archive: go back there.
        """
        position = after
        while True:
            archived = self._archive.read_after(topic, position, batch)
            if archived:
                yield archived
                position = archived[-1].stream_id
                continue
            live = self._store.read_range(topic, position, batch)
            if not live:
                return
            if self._archive.has_between(topic, position, live[0].stream_id):
                continue
            yield live
            position = live[-1].stream_id
