"""Zones and masks (pure): where an object stands, and which zones it has entered.

An object stands at the bottom centre of its box (its feet, a car's wheels). It is in a
zone for a sighting when that point is inside the zone's polygon; it has **entered** the
zone once it was in it for ``inertia`` sightings in a row (a box that grazes a corner
for a frame does not count) and for ``loitering_s`` since the run began. A zone applies
only to its ``labels`` (all classes when none). An object standing in an object mask is
ignored altogether (a parked car's spot); motion masks are the motion gate's
(:mod:`detector.motion`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from events.catalogue import BoundingBox, Zone

Point = tuple[float, float]


def foot(box: BoundingBox) -> Point:
    """Where an object stands: the bottom centre of its box."""
    return ((box.x1 + box.x2) / 2, box.y2)


def inside(point: Point, polygon: Sequence[Point]) -> bool:
    """Whether the point lies inside the polygon (even-odd rule, by a ray to the right)."""
    x, y = point
    result = False
    j = len(polygon) - 1
    for i in range(len(polygon)):
        (xi, yi), (xj, yj) = polygon[i], polygon[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            result = not result
        j = i
    return result


def masked(box: BoundingBox, masks: Sequence[Sequence[Point]]) -> bool:
    """Whether an object with this box stands in one of the object masks."""
    point = foot(box)
    return any(inside(point, mask) for mask in masks)


@dataclass(frozen=True, slots=True)
class Presence:
    """An object's current run inside one zone."""

    zone: str
    run: int
    """Sightings in a row inside it (0: not in it now)."""
    since: datetime | None


def applies(zone: Zone, label: str) -> bool:
    return not zone.labels or label in zone.labels


def present(
    before: Sequence[Presence], zones: Sequence[Zone], label: str, box: BoundingBox, at: datetime
) -> tuple[Presence, ...]:
    """The runs after one more sighting of an object of ``label`` at ``box``."""
    old = {p.zone: p for p in before}
    point = foot(box)
    runs = []
    for zone in zones:
        if not applies(zone, label):
            continue
        if inside(point, zone.points):
            last = old.get(zone.name)
            run = last.run + 1 if last and last.run else 1
            runs.append(Presence(zone.name, run, last.since if last and last.run else at))
        else:
            runs.append(Presence(zone.name, 0, None))
    return tuple(runs)


def entered_now(presence: Sequence[Presence], zones: Sequence[Zone], at: datetime) -> list[str]:
    """The zones whose run meets their inertia and loitering time at ``at``."""
    by_name = {z.name: z for z in zones}
    return [
        p.zone
        for p in presence
        if p.since is not None
        and p.run >= by_name[p.zone].inertia
        and (at - p.since).total_seconds() >= by_name[p.zone].loitering_s
    ]
