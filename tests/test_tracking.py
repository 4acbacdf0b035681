"""The tracker (pure), with plain data and hypothesis: one track per object, ids that do
not depend on when the tracker is asked, still objects that stay one stationary track."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID, uuid5

from hypothesis import given, settings
from hypothesis import strategies as st

from detector.tracking import (
    Change,
    Sighting,
    TrackerConfig,
    TrackerState,
    finish,
    iou,
    step,
)
from events.catalogue import BoundingBox
from tests.factories import T0

CONFIG = TrackerConfig()
SEED = UUID(int=77)


def id_of(n: int, _seen: Sighting) -> UUID:
    return uuid5(SEED, f"track/{n}")


def box(x: float, y: float, size: float = 0.1) -> BoundingBox:
    return BoundingBox(x1=x, y1=y, x2=x + size, y2=y + size)


def sighting(n: int, at_s: float, label: str, b: BoundingBox, confidence: float = 0.8) -> Sighting:
    return Sighting(uuid5(SEED, f"d/{n}"), T0 + timedelta(seconds=at_s), label, confidence, b)


def run(frames: list[tuple[float, list[Sighting]]]) -> tuple[dict[UUID, list[Sighting]], list]:
    """Feed frames; which sightings each track got, and every change."""
    state, changes, owner = TrackerState(), [], {}
    for at_s, seen in frames:
        state, changed = step(state, T0 + timedelta(seconds=at_s), seen, CONFIG, id_of)
        changes += changed
        for track in state.tracks:
            owner.setdefault(track.track_id, [])
        for s in seen:
            match = next(t for t in state.tracks if t.last_seen == s.at and t.box == s.box)
            owner[match.track_id].append(s)
    changes += finish(state)
    return owner, changes


walks = st.lists(st.tuples(st.floats(-0.01, 0.01), st.floats(-0.01, 0.01)), min_size=1, max_size=40)


@settings(max_examples=200)
@given(walks, st.floats(0.5, 5.5), st.sampled_from(["person", "car"]))
def test_an_object_seen_often_enough_is_one_track_from_first_to_last_sighting(
    steps: list[tuple[float, float]], every_s: float, label: str
) -> None:
    x, y, frames = 0.4, 0.4, []
    for i, (dx, dy) in enumerate(steps):
        x, y = min(0.85, max(0.05, x + dx)), min(0.85, max(0.05, y + dy))
        frames.append((i * every_s, [sighting(i, i * every_s, label, box(x, y))]))
    owner, changes = run(frames)
    assert len(owner) == 1
    [ended] = [c.track for c in changes if c.change is Change.ENDED]
    assert ended.start == T0 and ended.last_seen == T0 + timedelta(
        seconds=(len(steps) - 1) * every_s
    )
    assert ended.sightings == len(steps) and ended.label == label


@settings(max_examples=200)
@given(st.lists(st.tuples(st.integers(0, 3), st.floats(0.3, 1.0)), min_size=1, max_size=60))
def test_every_sighting_belongs_to_one_track_of_its_class_and_ids_are_unique(
    frames_seen: list[tuple[int, float]],
) -> None:
    """Four objects in four corners, seen in any order and any subset per frame."""
    corners = [(0.05, 0.05, "person"), (0.8, 0.05, "person"), (0.05, 0.8, "car"), (0.8, 0.8, "dog")]
    frames = []
    for i, (which, confidence) in enumerate(frames_seen):
        x, y, label = corners[which]
        frames.append((i * 1.0, [sighting(i, i * 1.0, label, box(x, y), confidence)]))
    owner, changes = run(frames)
    assert sum(len(v) for v in owner.values()) == len(frames)
    for sightings in owner.values():
        assert len({s.label for s in sightings}) == 1
    started = [c.track.track_id for c in changes if c.change is Change.STARTED]
    ended = [c.track.track_id for c in changes if c.change is Change.ENDED]
    assert len(started) == len(set(started)) == len(owner)
    assert sorted(ended) == sorted(started)  # every track ends once
    for change in changes:
        if change.change is Change.ENDED:
            mine = owner[change.track.track_id]
            assert change.track.best.confidence == max(s.confidence for s in mine)
            assert change.track.start <= change.track.last_seen


@given(st.floats(6.5, 120))
def test_an_object_unseen_longer_than_the_limit_comes_back_as_a_new_track(gap_s: float) -> None:
    b = box(0.3, 0.3)
    owner, _ = run([(0, [sighting(0, 0, "person", b)]), (gap_s, [sighting(1, gap_s, "person", b)])])
    assert len(owner) == 2


def test_a_still_object_rechecked_every_few_seconds_stays_one_stationary_track() -> None:
    frames = [(t, [sighting(t, t, "car", box(0.5, 0.5, 0.2))]) for t in range(0, 300, 3)]
    owner, changes = run(frames)
    assert len(owner) == 1
    updates = [c.track for c in changes if c.change is Change.UPDATED]
    assert updates[0].stationary and updates[0].last_seen == T0 + timedelta(seconds=12)
    [ended] = [c.track for c in changes if c.change is Change.ENDED]
    assert ended.stationary and (ended.last_seen - ended.start).total_seconds() == 297


def test_moving_again_makes_a_stationary_track_moving() -> None:
    frames = [(t, [sighting(t, t, "car", box(0.1, 0.5, 0.2))]) for t in range(0, 15, 3)]
    frames.append((16, [sighting(99, 16, "car", box(0.2, 0.5, 0.2))]))
    _, changes = run(frames)
    updates = [c.track.stationary for c in changes if c.change is Change.UPDATED]
    assert updates == [True, False]


def test_two_people_side_by_side_are_two_tracks() -> None:
    frames = [
        (
            t,
            [
                sighting(2 * t, t, "person", box(0.1 + 0.01 * t, 0.4)),
                sighting(2 * t + 1, t, "person", box(0.6 - 0.01 * t, 0.4)),
            ],
        )
        for t in range(10)
    ]
    owner, _ = run(frames)
    assert sorted(len(v) for v in owner.values()) == [10, 10]


def test_the_same_frames_give_the_same_tracks() -> None:
    frames = [(t, [sighting(t, t, "person", box(0.1 + 0.02 * t, 0.4))]) for t in range(20)]
    assert run(frames)[1] == run(frames)[1]


@given(st.floats(0, 0.9), st.floats(0, 0.9), st.floats(0, 0.9), st.floats(0, 0.9))
def test_iou_is_symmetric_and_between_zero_and_one(
    ax: float, ay: float, bx: float, by: float
) -> None:
    a, b = box(ax, ay), box(bx, by)
    assert 0 <= iou(a, b) == iou(b, a) <= 1
    assert iou(a, a) == 1
