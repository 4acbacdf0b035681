"""Zones and masks (pure): where an object stands, inertia, loitering, classes, masks,
and what the tracker reports when an object enters a zone."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID, uuid5

from hypothesis import given
from hypothesis import strategies as st

from api.camera_zones import zone_problem
from detector.analysis import track_events
from detector.tracking import Change, Sighting, TrackerConfig, TrackerState, step
from detector.zones import foot, inside, masked
from events.catalogue import BoundingBox, Zone, ZoneConfig
from tests.factories import T0

SQUARE = ((0.2, 0.2), (0.6, 0.2), (0.6, 0.6), (0.2, 0.6))
DRIVEWAY = Zone(name="driveway", points=SQUARE, inertia=3)
SEED = UUID(int=3)


def standing_at(x: float, y: float) -> BoundingBox:
    """A box whose bottom centre is (x, y)."""
    return BoundingBox(x1=x - 0.05, y1=max(0.0, y - 0.2), x2=x + 0.05, y2=y)


@given(st.floats(0.21, 0.59), st.floats(0.21, 0.59), st.floats(0.61, 1), st.floats(0, 1))
def test_a_point_is_inside_a_square_exactly_when_it_lies_within(
    x: float, y: float, out_x: float, out_y: float
) -> None:
    assert inside((x, y), SQUARE)
    assert not inside((out_x, out_y), SQUARE)


def test_an_object_stands_at_the_bottom_centre_of_its_box() -> None:
    box = BoundingBox(x1=0.1, y1=0.1, x2=0.3, y2=0.9)
    assert foot(box) == (0.2, 0.9)
    assert masked(standing_at(0.4, 0.4), [SQUARE]) and not masked(standing_at(0.8, 0.4), [SQUARE])


def run(path: list[tuple[float, float]], zones: tuple[Zone, ...]) -> list:
    state, changes = TrackerState(), []
    for i, (x, y) in enumerate(path):
        seen = Sighting(uuid5(SEED, str(i)), T0 + timedelta(seconds=i), "person", 0.8,
                        standing_at(x, y))  # fmt: skip
        state, changed = step(state, seen.at, [seen], TrackerConfig(min_iou=0.01),
                              lambda n, s: uuid5(SEED, f"t{n}"), zones)  # fmt: skip
        changes += changed
    return changes


def entered(changes: list) -> tuple[str, ...]:
    return changes[-1].track.zones if changes else ()


def test_crossing_a_zone_corner_in_two_sightings_does_not_count_with_an_inertia_of_three() -> None:
    path = [(0.1, 0.25), (0.22, 0.25), (0.24, 0.25), (0.35, 0.1), (0.5, 0.1)]
    changes = run(path, (DRIVEWAY,))
    assert all(c.track.zones == () for c in changes)


def test_three_sightings_in_a_zone_enter_it_and_say_so_at_once() -> None:
    walk_out = [(0.4, 0.3), (0.48, 0.3), (0.56, 0.3), (0.64, 0.3)]
    changes = run([(0.15, 0.3), (0.22, 0.3), (0.3, 0.3), (0.32, 0.3), *walk_out], (DRIVEWAY,))
    entering = [c for c in changes if c.change is Change.UPDATED and c.track.zones]
    assert entering[0].track.zones == ("driveway",)
    assert entering[0].track.last_seen == T0 + timedelta(seconds=3)
    assert len({c.track.track_id for c in changes}) == 1
    assert entered(changes) == ("driveway",)  # it keeps having entered it after it left


def test_loitering_counts_only_after_the_time_in_the_zone() -> None:
    loiter = Zone(name="door", points=SQUARE, inertia=1, loitering_s=5)
    inside_path = [(0.3 + 0.001 * i, 0.3) for i in range(10)]
    changes = run(inside_path, (loiter,))
    first = next(c for c in changes if c.track.zones)
    assert first.track.last_seen == T0 + timedelta(seconds=5)
    assert run(inside_path[:5], (loiter,))[-1].track.zones == ()


def test_a_zone_for_cars_ignores_people() -> None:
    cars_only = Zone(name="parking", points=SQUARE, labels=("car",), inertia=1)
    assert entered(run([(0.3, 0.3)] * 4, (cars_only,))) == ()


def test_the_required_zone_decides_whether_a_track_may_alert() -> None:
    changes = run([(0.3, 0.3)] * 4, (DRIVEWAY,))
    [inside_event] = track_events(UUID(int=1), None, "m", changes[-1:], required=("driveway",))
    assert inside_event.in_required_zone and inside_event.zones == ("driveway",)
    [outside_event] = track_events(UUID(int=1), None, "m", changes[:1], required=("driveway",))
    assert not outside_event.in_required_zone
    [anywhere] = track_events(UUID(int=1), None, "m", changes[:1])
    assert anywhere.in_required_zone


def test_a_configuration_names_each_zone_once_and_requires_only_its_own() -> None:
    ok = ZoneConfig(zones=(DRIVEWAY,), required_zones=("driveway",))
    assert zone_problem(ok) is None
    twice = ZoneConfig(zones=(DRIVEWAY, DRIVEWAY))
    assert "differ" in (zone_problem(twice) or "")
    unknown = ZoneConfig(zones=(DRIVEWAY,), required_zones=("garden",))
    assert "garden" in (zone_problem(unknown) or "")
