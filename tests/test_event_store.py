"""The Redis Streams event store against a real redis-server."""

from __future__ import annotations

import time

import redis
from hypothesis import given
from hypothesis import strategies as st

from events.archive import trim_floor
from events.catalogue import Topic
from events.codec import decode
from events.store import ZERO, GroupState, Lease, RedisEventStore, StreamId, hold_leases
from tests.factories import camera_added, segment_closed


def test_append_and_read_range_in_order(store: RedisEventStore) -> None:
    events = [segment_closed(index=i) for i in range(5)]
    ids = store.append_many(events)
    assert ids == sorted(ids)
    messages = store.read_range(Topic.RECORDINGS, ZERO, 10)
    assert [m.stream_id for m in messages] == ids
    assert [decode(m.fields) for m in messages] == events
    assert store.read_range(Topic.RECORDINGS, ids[2], 10)[0].stream_id == ids[3]


def test_events_go_to_their_topic_stream(store: RedisEventStore) -> None:
    store.append_many([camera_added(), segment_closed()])
    assert store.length(Topic.CAMERAS) == 1
    assert store.length(Topic.RECORDINGS) == 1


def test_waiting_for_appends_returns_at_once_for_news_and_times_out_without(
    store: RedisEventStore,
) -> None:
    topics = [Topic.CAMERAS, Topic.RECORDINGS]
    store.append(camera_added())
    seen = store.last_ids(topics)
    assert seen[Topic.RECORDINGS] is None and seen[Topic.CAMERAS] is not None
    started = time.monotonic()
    assert not store.wait_for_appends(seen, 200)
    assert time.monotonic() - started >= 0.15
    store.append(segment_closed())  # appended after the ids were read: news, no wait
    started = time.monotonic()
    assert store.wait_for_appends(seen, 5000)
    assert time.monotonic() - started < 1
    assert not store.wait_for_appends({}, 5000)


def test_group_delivers_once_and_ack_clears_pending(store: RedisEventStore) -> None:
    store.ensure_group(Topic.RECORDINGS, "g")
    store.ensure_group(Topic.RECORDINGS, "g")  # idempotent
    store.append_many([segment_closed(index=i) for i in range(3)])
    first = store.read_group(Topic.RECORDINGS, "g", "c1", 10, None)
    assert len(first) == 3
    assert store.read_group(Topic.RECORDINGS, "g", "c1", 10, None) == []
    assert len(store.read_own_pending(Topic.RECORDINGS, "g", "c1", 10)) == 3
    store.ack(Topic.RECORDINGS, "g", [m.stream_id for m in first])
    assert store.read_own_pending(Topic.RECORDINGS, "g", "c1", 10) == []
    [state] = store.groups(Topic.RECORDINGS)
    assert state.pending == 0 and state.last_delivered == first[-1].stream_id


class StaleGroupInfo:
    """A Redis client whose XINFO GROUPS answers what it said a moment ago: the state a
    reader sees when an acknowledgement lands between XINFO and XPENDING."""

    def __init__(self, client: redis.Redis, info: object) -> None:
        self._client, self._info = client, info

    def xinfo_groups(self, _key: str) -> object:
        return self._info

    def __getattr__(self, name: str) -> object:
        return getattr(self._client, name)


def test_group_state_survives_pending_acked_between_two_calls(store: RedisEventStore) -> None:
    store.ensure_group(Topic.RECORDINGS, "g")
    store.append_many([segment_closed(index=i) for i in range(2)])
    taken = store.read_group(Topic.RECORDINGS, "g", "c", 10, None)
    before = store.client.xinfo_groups(store.key(Topic.RECORDINGS))
    assert int(before[0]["pending"]) == 2
    store.ack(Topic.RECORDINGS, "g", [m.stream_id for m in taken])
    stale = RedisEventStore(StaleGroupInfo(store.client, before))  # type: ignore[arg-type]
    [state] = stale.groups(Topic.RECORDINGS)  # was: AttributeError from StreamId.parse(None)
    assert state.pending == 0 and state.oldest_pending is None


def test_second_consumer_reclaims_what_a_dead_one_left_pending(store: RedisEventStore) -> None:
    store.ensure_group(Topic.RECORDINGS, "g")
    store.append_many([segment_closed(index=i) for i in range(4)])
    taken = store.read_group(Topic.RECORDINGS, "g", "dead", 10, None)
    time.sleep(0.05)
    assert store.claim_stale(Topic.RECORDINGS, "g", "alive", 10_000, 10) == []  # not idle yet
    reclaimed = store.claim_stale(Topic.RECORDINGS, "g", "alive", 20, 10)
    assert [m.stream_id for m in reclaimed] == [m.stream_id for m in taken]
    counts = store.delivery_counts(Topic.RECORDINGS, "g", [m.stream_id for m in reclaimed])
    assert set(counts.values()) == {2}
    assert store.read_own_pending(Topic.RECORDINGS, "g", "dead", 10) == []


def test_dead_letter_keeps_the_message_and_reason(store: RedisEventStore) -> None:
    store.ensure_group(Topic.CAMERAS, "g")
    store.client.xadd(store.key(Topic.CAMERAS), {"type": "Nonsense", "v": "1", "data": "{}"})
    [message] = store.read_group(Topic.CAMERAS, "g", "c", 10, None)
    store.dead_letter(Topic.CAMERAS, "g", message, "unknown event type 'Nonsense'")
    [letter] = store.dead_letters(Topic.CAMERAS)
    assert letter.original_id == message.stream_id
    assert letter.reason == "unknown event type 'Nonsense'"
    assert letter.fields[b"type"] == b"Nonsense"
    assert store.groups(Topic.CAMERAS)[0].pending == 0


def test_trim_below_removes_only_older_entries(store: RedisEventStore) -> None:
    ids = store.append_many([segment_closed(index=i) for i in range(5)])
    assert store.trim_below(Topic.RECORDINGS, ids[3]) == 3
    assert store.first_id(Topic.RECORDINGS) == ids[3]
    assert store.last_id(Topic.RECORDINGS) == ids[4]


stream_ids = st.builds(StreamId, st.integers(0, 50), st.integers(0, 3))
group_states = st.builds(
    lambda last, pending: GroupState(
        "g",
        1,
        0 if pending is None else 1,
        last,
        None,
        None if pending is None else min(pending, last),
    ),
    stream_ids,
    st.none() | stream_ids,
)


@given(st.none() | stream_ids, st.lists(group_states, max_size=4), st.lists(stream_ids))
def test_trim_floor_never_drops_unarchived_or_unfinished_entries(
    archived: StreamId | None, groups: list[GroupState], entries: list[StreamId]
) -> None:
    floor = trim_floor(archived, groups)
    for entry in entries:
        unfinished = any(
            entry > g.last_delivered or (g.oldest_pending is not None and entry >= g.oldest_pending)
            for g in groups
        )
        if archived is None or entry > archived or unfinished:
            assert floor is None or entry >= floor
    if archived is not None and not groups:
        assert floor == archived.next()


def test_leases_are_taken_renewed_refused_and_retaken_in_one_call(
    store: RedisEventStore,
) -> None:
    client = store.client
    mine = [Lease(client, f"test:lease:{i}", "me", 2000) for i in range(3)]
    theirs = Lease(client, "test:lease:1", "them", 2000)
    assert hold_leases(client, []) == []
    assert theirs.try_acquire()
    assert hold_leases(client, mine) == [True, False, True]  # free ones taken
    client.pexpire("test:lease:0", 100)
    assert hold_leases(client, mine) == [True, False, True]
    assert client.pttl("test:lease:0") > 1000  # renewed to the full ttl
    client.delete("test:lease:2")  # lost (a Redis that restarted without it)
    assert hold_leases(client, mine) == [True, False, True]
    assert client.get("test:lease:2") == b"me"
    assert client.get("test:lease:1") == b"them"  # never taken over
    mine[0].release()
    assert theirs.try_acquire() and not Lease(client, "test:lease:1", "me", 2000).try_acquire()
