"""Tracking (pure): detections of one camera linked across frames into tracked objects.

A small IoU tracker, fed one analysed frame at a time (:func:`step`): a detection
continues the track of the same class whose last box it overlaps most (at least
``min_iou``; greedy, best overlap first), or starts a new one. A track unseen for
``lost_after_s`` has ended (its end is when it was last seen). A track whose box has
not moved (it still overlaps where it settled by ``still_iou``) for
``stationary_after_s`` is stationary; moving again makes it moving.

Why not norfair or ByteTrack: a track here must survive a worker's crash and a job's
redo with the very same ids, and carry across segment boundaries from one job to the
next. That needs a tracker whose whole state is a small immutable value and whose ids
come from the caller (:class:`TrackerState`, ``id_of``); both libraries keep Kalman
filters and global counters inside objects. Boxes are sampled at 1-2 frames per second,
where IoU with a generous threshold does as well as a motion model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from detector.zones import Presence, entered_now, present
from events.catalogue import BoundingBox, Zone


@dataclass(frozen=True, slots=True)
class Sighting:
    """One detection, as the tracker sees it."""

    detection_id: UUID
    at: datetime
    label: str
    confidence: float
    box: BoundingBox
    frame_path: str | None = None
    """Live only: the still it was found in (an alert's snapshot is drawn on it)."""


@dataclass(frozen=True, slots=True)
class TrackerConfig:
    min_iou: float = 0.2
    """A detection continues a track when its box overlaps the track's last box this much."""
    lost_after_s: float = 6.0
    """A track unseen this long has ended (still objects are re-checked more often)."""
    still_iou: float = 0.8
    """A box overlapping where its track settled this much has not moved."""
    stationary_after_s: float = 10.0
    update_every_s: float = 10.0
    """How often a live track is reported (TrackUpdated) while nothing else changes."""


@dataclass(frozen=True, slots=True)
class Track:
    track_id: UUID
    label: str
    start: datetime
    last_seen: datetime
    box: BoundingBox
    best: Sighting
    """The highest-scoring sighting: the track's snapshot."""
    settled_box: BoundingBox
    settled_at: datetime
    sightings: int
    stationary: bool
    reported_at: datetime
    presence: tuple[Presence, ...] = ()
    zones: tuple[str, ...] = ()
    """The zones it has entered, in the order it entered them."""


@dataclass(frozen=True, slots=True)
class TrackerState:
    tracks: tuple[Track, ...] = ()
    started: int = 0
    """How many tracks this state has started; the next one's id is
    ``id_of(started, its first sighting)``."""

    @property
    def active(self) -> bool:
        return bool(self.tracks)


class Change(StrEnum):
    STARTED = "started"
    UPDATED = "updated"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class TrackChange:
    change: Change
    track: Track


def iou(a: BoundingBox, b: BoundingBox) -> float:
    """Intersection over union of two boxes (0 when they do not touch)."""
    w = min(a.x2, b.x2) - max(a.x1, b.x1)
    h = min(a.y2, b.y2) - max(a.y1, b.y1)
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter
    return inter / union if union > 0 else 0.0


def _pairs(
    tracks: Sequence[Track], sightings: Sequence[Sighting], min_iou: float
) -> list[tuple[int, int]]:
    """Greedy one-to-one matching of tracks and sightings of the same class, best first."""
    scored = sorted(
        (
            (iou(t.box, s.box), ti, si)
            for ti, t in enumerate(tracks)
            for si, s in enumerate(sightings)
            if t.label == s.label
        ),
        key=lambda c: (-c[0], c[1], c[2]),
    )
    used_t: set[int] = set()
    used_s: set[int] = set()
    pairs = []
    for overlap, ti, si in scored:
        if overlap < min_iou or ti in used_t or si in used_s:
            continue
        used_t.add(ti)
        used_s.add(si)
        pairs.append((ti, si))
    return pairs


def _zoned(track: Track, seen: Sighting, zones: Sequence[Zone]) -> Track:
    """The track's zone runs and entered zones after a sighting."""
    if not zones:
        return track
    presence = present(track.presence, zones, track.label, seen.box, seen.at)
    new = [z for z in entered_now(presence, zones, seen.at) if z not in track.zones]
    return replace(track, presence=presence, zones=(*track.zones, *new))


def _continued(
    track: Track, seen: Sighting, config: TrackerConfig, zones: Sequence[Zone]
) -> tuple[Track, bool]:
    """The track after another sighting; True when what a user sees of it changed."""
    best = seen if seen.confidence > track.best.confidence else track.best
    moved = iou(seen.box, track.settled_box) < config.still_iou
    settled_box, settled_at = (
        (seen.box, seen.at) if moved else (track.settled_box, track.settled_at)
    )
    stationary = not moved and (seen.at - settled_at).total_seconds() >= config.stationary_after_s
    due = (seen.at - track.reported_at).total_seconds() >= config.update_every_s
    entered = _zoned(track, seen, zones)
    changed = stationary != track.stationary or due or entered.zones != track.zones
    track = replace(
        entered, last_seen=seen.at, box=seen.box, best=best, settled_box=settled_box,
        settled_at=settled_at, sightings=track.sightings + 1, stationary=stationary,
        reported_at=seen.at if changed else track.reported_at,
    )  # fmt: skip
    return track, changed


def _new(track_id: UUID, seen: Sighting, zones: Sequence[Zone]) -> Track:
    return _zoned(_fresh(track_id, seen), seen, zones)


def _fresh(track_id: UUID, seen: Sighting) -> Track:
    return Track(
        track_id=track_id, label=seen.label, start=seen.at, last_seen=seen.at, box=seen.box,
        best=seen, settled_box=seen.box, settled_at=seen.at, sightings=1, stationary=False,
        reported_at=seen.at,
    )  # fmt: skip


def step(
    state: TrackerState,
    at: datetime,
    sightings: Sequence[Sighting],
    config: TrackerConfig,
    id_of: Callable[[int, Sighting], UUID],
    zones: Sequence[Zone] = (),
) -> tuple[TrackerState, list[TrackChange]]:
    """One analysed frame at ``at`` (its sightings, maybe none): the next state and what
    changed (a zone entered is a change). Deterministic: the same state, frame and zones
    give the same result."""
    changes: list[TrackChange] = []
    alive: list[Track] = []
    for track in state.tracks:
        if (at - track.last_seen).total_seconds() > config.lost_after_s:
            changes.append(TrackChange(Change.ENDED, track))
        else:
            alive.append(track)
    matched = dict(_pairs(alive, sightings, config.min_iou))
    tracks: list[Track] = []
    for ti, track in enumerate(alive):
        if ti in matched:
            track, changed = _continued(track, sightings[matched[ti]], config, zones)
            if changed:
                changes.append(TrackChange(Change.UPDATED, track))
        tracks.append(track)
    started = state.started
    taken = set(matched.values())
    for si, seen in enumerate(sightings):
        if si in taken:
            continue
        track = _new(id_of(started, seen), seen, zones)
        started += 1
        tracks.append(track)
        changes.append(TrackChange(Change.STARTED, track))
    return TrackerState(tuple(tracks), started), changes


def finish(state: TrackerState) -> list[TrackChange]:
    """Every track still open, ended (the stream ended, and nothing carries it on)."""
    return [TrackChange(Change.ENDED, t) for t in state.tracks]
