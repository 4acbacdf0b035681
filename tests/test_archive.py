"""Archiving before trimming, and reading archive + stream without gap or duplicate."""

from __future__ import annotations

import psycopg
import pytest

from events.archive import Archiver, EventArchive, EventLog
from events.catalogue import Topic
from events.codec import decode
from events.store import ZERO, RedisEventStore
from tests.factories import segment_closed


def read_all(log: EventLog, after=ZERO, batch: int = 3) -> list:
    return [m for chunk in log.read_after(Topic.RECORDINGS, after, batch) for m in chunk]


def test_archiver_copies_then_trims_everything_consumed(
    store: RedisEventStore, archive: EventArchive
) -> None:
    ids = store.append_many([segment_closed(index=i) for i in range(10)])
    result = Archiver(store, archive, batch=4).run_once(Topic.RECORDINGS)
    assert result.archived == 10 and result.trimmed == 10
    assert archive.count(Topic.RECORDINGS) == 10
    assert archive.last_id(Topic.RECORDINGS) == ids[-1]
    assert store.length(Topic.RECORDINGS) == 0


def test_archiver_keeps_what_a_group_has_not_finished(
    store: RedisEventStore, archive: EventArchive
) -> None:
    ids = store.append_many([segment_closed(index=i) for i in range(6)])
    store.ensure_group(Topic.RECORDINGS, "slow")
    delivered = store.read_group(Topic.RECORDINGS, "slow", "c", 4, None)
    store.ack(Topic.RECORDINGS, "slow", [m.stream_id for m in delivered[:2]])
    Archiver(store, archive).run_once(Topic.RECORDINGS)
    assert store.first_id(Topic.RECORDINGS) == ids[2]  # pending from here on
    assert archive.count(Topic.RECORDINGS) == 6


def test_archive_is_append_only(
    store: RedisEventStore, archive: EventArchive, pg: psycopg.Connection
) -> None:
    store.append(segment_closed())
    Archiver(store, archive).run_once(Topic.RECORDINGS)
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        pg.execute("DELETE FROM event_log")
    pg.rollback()


def test_read_after_spans_archive_and_stream_without_gap_or_duplicate(
    store: RedisEventStore, archive: EventArchive, event_log: EventLog
) -> None:
    events = [segment_closed(index=i) for i in range(7)]
    ids = store.append_many(events[:4])
    Archiver(store, archive).run_once(Topic.RECORDINGS)  # 4 archived and trimmed
    ids += store.append_many(events[4:])
    messages = read_all(event_log)
    assert [m.stream_id for m in messages] == ids
    assert [decode(m.fields) for m in messages] == events
    assert [m.stream_id for m in read_all(event_log, ids[2])] == ids[3:]


def test_read_after_survives_trimming_while_reading(
    store: RedisEventStore, archive: EventArchive, event_log: EventLog
) -> None:
    ids = store.append_many([segment_closed(index=i) for i in range(9)])
    reader = event_log.read_after(Topic.RECORDINGS, ZERO, 3)
    seen = [m.stream_id for m in next(reader)]  # from the stream
    Archiver(store, archive).run_once(Topic.RECORDINGS)  # everything moves to the archive
    seen += [m.stream_id for chunk in reader for m in chunk]
    assert seen == ids


@pytest.mark.parametrize("fields", [
    {b"type": b"SegmentClosed", b"v": b"1", b"data": b"{not json"},
    {b"type": b"Bad\x00Type", b"v": b"x", b"data": b'{"a": "\\u0000"}'},
    {b"type": b"SegmentClosed", b"v": b"1", b"data": b"\x00\xff\xfe raw bytes"},
    {b"junk": b"no type, no data"},
])  # fmt: skip
def test_an_entry_postgresql_would_refuse_is_archived_whole_and_stops_nothing(
    store: RedisEventStore, archive: EventArchive, fields: dict[bytes, bytes]
) -> None:
    """Something else wrote to the stream, or an entry was damaged: the archiver keeps
    it (as text) between the good ones and goes on trimming; readers dead-letter it."""
    before = store.append(segment_closed(index=0))
    store.client.xadd(store.key(Topic.RECORDINGS), fields)  # type: ignore[arg-type]
    last = segment_closed(index=2)
    after = store.append(last)
    result = Archiver(store, archive).run_once(Topic.RECORDINGS)
    assert (result.archived, result.trimmed) == (3, 3)
    archived = read_all(EventLog(store, archive))
    assert [m.stream_id for m in archived][::2] == [before, after]
    assert decode(archived[2].fields) == last
