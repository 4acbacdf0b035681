"""The retention policy (pure): which segments to delete, and why.

Every segment has a **tier**: *alert* when an alert review item overlaps it, *detection*
when only other tracked objects do, *continuous* otherwise (:func:`tiers_of`). Rules,
applied in this order to closed segments only (a segment still being written is never
chosen):

1. **age**: a segment that ended more than its tier's days ago. Continuous footage is
   kept ``max_age_days`` (the camera's override, else RETENTION_DAYS); a higher tier
   at least as long as the tiers below it (its own days when longer);
2. **size, per tier**: a tier with its own ``max_bytes`` (the camera's, then all
   cameras') keeps its newest segments that fit, oldest go;
3. **size, per camera**: a camera with its own ``max_bytes`` keeps what fits;
4. **size, total**: all cameras together keep what fits in RETENTION_MAX_GB (segments
   still being written count first, since they are newest);
5. **emergency**: while the disk's free space (after the deletions above) is under
   ``min_free_bytes``, the oldest remaining segments go, whatever the limits say.

Over a size budget, and in an emergency, the lowest tier goes first (continuous, then
detection, then alert), oldest first within a tier: so the footage that fits is, within
each tier, a newest-first prefix (nothing older survives a newer deletion of its tier).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from events.catalogue import PurgeReason, RetentionTier

TIERS_LOW_TO_HIGH = (RetentionTier.CONTINUOUS, RetentionTier.DETECTION, RetentionTier.ALERT)
_RANK = {tier: rank for rank, tier in enumerate(TIERS_LOW_TO_HIGH)}


@dataclass(frozen=True, slots=True)
class StoredSegment:
    segment_id: UUID
    camera_id: UUID
    start: datetime
    end: datetime
    bytes: int
    path: str = ""
    closed: bool = True
    tier: RetentionTier = RetentionTier.CONTINUOUS


@dataclass(frozen=True, slots=True)
class TierLimits:
    max_age_days: float | None = None
    """How long this tier's footage is kept (never shorter than a lower tier's)."""
    max_bytes: int | None = None
    """This tier's own budget."""


@dataclass(frozen=True, slots=True)
class Limits:
    max_age_days: float | None = None
    """How long continuous footage is kept (and so every tier, at least)."""
    max_bytes: int | None = None
    """The budget of all the footage (one camera's, or every camera's)."""
    tiers: Mapping[RetentionTier, TierLimits] = field(default_factory=dict)
    """Per tier: alert and detection days and budgets; the continuous tier's budget."""

    def tier(self, tier: RetentionTier) -> TierLimits:
        return self.tiers.get(tier, TierLimits())


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    limits: Limits = Limits()
    per_camera: Mapping[UUID, Limits] = field(default_factory=dict)
    min_free_bytes: int | None = None
    """The emergency floor of free disk space."""

    def age_limit(
        self, camera_id: UUID, tier: RetentionTier = RetentionTier.CONTINUOUS
    ) -> float | None:
        """Days a segment of this camera and tier is kept (None: no age limit): the
        longest of its tier's and every lower tier's, each the camera's own else the
        global one, a tier without days taking the one below it."""
        override = self.per_camera.get(camera_id, Limits())
        days = (
            override.max_age_days if override.max_age_days is not None else self.limits.max_age_days
        )
        longest = days
        for lower in TIERS_LOW_TO_HIGH[1 : _RANK[tier] + 1]:
            own = override.tier(lower).max_age_days
            own = self.limits.tier(lower).max_age_days if own is None else own
            days = days if own is None else own
            longest = None if longest is None or days is None else max(longest, days)
        return longest

    def tier_budget(self, camera_id: UUID | None, tier: RetentionTier) -> int | None:
        limits = self.limits if camera_id is None else self.per_camera.get(camera_id, Limits())
        return limits.tier(tier).max_bytes


@dataclass(frozen=True, slots=True)
class Purge:
    segment: StoredSegment
    reason: PurgeReason


@dataclass(frozen=True, slots=True)
class CoveredSpan:
    """A review item's time span, for tiering: alert or detection."""

    camera_id: UUID
    start: datetime
    end: datetime
    alert: bool


def _union(spans: Iterable[CoveredSpan]) -> tuple[list[datetime], list[datetime]]:
    """Disjoint intervals covering ``spans``: (starts, ends), both sorted."""
    starts: list[datetime] = []
    ends: list[datetime] = []
    for span in sorted(spans, key=lambda s: s.start):
        if ends and span.start <= ends[-1]:
            ends[-1] = max(ends[-1], span.end)
        else:
            starts.append(span.start)
            ends.append(span.end)
    return starts, ends


def _overlaps(union: tuple[list[datetime], list[datetime]], start: datetime, end: datetime) -> bool:
    starts, ends = union
    i = bisect.bisect_right(ends, start)  # the first interval ending after ``start``
    return i < len(starts) and starts[i] < end


def tiers_of(
    segments: Sequence[StoredSegment], spans: Sequence[CoveredSpan]
) -> dict[UUID, RetentionTier]:
    """Each segment's tier: the highest of the review items that overlap it."""
    by_camera: dict[tuple[UUID, bool], list[CoveredSpan]] = {}
    for span in spans:
        by_camera.setdefault((span.camera_id, span.alert), []).append(span)
    unions = {key: _union(items) for key, items in by_camera.items()}
    none: tuple[list[datetime], list[datetime]] = ([], [])
    out = {}
    for s in segments:
        if _overlaps(unions.get((s.camera_id, True), none), s.start, s.end):
            out[s.segment_id] = RetentionTier.ALERT
        elif _overlaps(unions.get((s.camera_id, False), none), s.start, s.end):
            out[s.segment_id] = RetentionTier.DETECTION
        else:
            out[s.segment_id] = RetentionTier.CONTINUOUS
    return out


def _lowest_oldest_first(segments: Iterable[StoredSegment]) -> list[StoredSegment]:
    return sorted(segments, key=lambda s: (_RANK[s.tier], s.start, s.end, str(s.segment_id)))


def _beyond_budget(segments: Sequence[StoredSegment], budget: int) -> list[StoredSegment]:
    """Closed segments to drop, lowest tier and oldest first, until what is left fits
    ``budget`` (the segments still being written, the newest footage, are charged first)."""
    used = sum(s.bytes for s in segments)
    out: list[StoredSegment] = []
    for segment in _lowest_oldest_first(s for s in segments if s.closed):
        if used <= budget:
            break
        out.append(segment)
        used -= segment.bytes
    return out


def plan_purges(
    segments: Sequence[StoredSegment],
    policy: RetentionPolicy,
    now: datetime,
    free_bytes: int | None = None,
) -> list[Purge]:
    """What to delete, oldest first, each with the first rule that chose it."""
    chosen: dict[UUID, Purge] = {}

    def choose(items: Iterable[StoredSegment], reason: PurgeReason) -> None:
        for s in items:
            if s.closed and s.segment_id not in chosen:
                chosen[s.segment_id] = Purge(s, reason)

    def left() -> list[StoredSegment]:
        return [s for s in segments if s.segment_id not in chosen]

    for s in segments:
        days = policy.age_limit(s.camera_id, s.tier)
        if days is not None and s.end <= now - timedelta(days=days):
            choose([s], PurgeReason.AGE)
    cameras = sorted({s.camera_id for s in segments}, key=str)
    for tier in TIERS_LOW_TO_HIGH:
        for camera_id in [*cameras, None]:
            budget = policy.tier_budget(camera_id, tier)
            if budget is not None:
                own = [s for s in left() if s.tier == tier and camera_id in (None, s.camera_id)]
                choose(_beyond_budget(own, budget), PurgeReason.SIZE)
    for camera_id, limits in policy.per_camera.items():
        if limits.max_bytes is not None:
            own = [s for s in left() if s.camera_id == camera_id]
            choose(_beyond_budget(own, limits.max_bytes), PurgeReason.SIZE)
    if policy.limits.max_bytes is not None:
        choose(_beyond_budget(left(), policy.limits.max_bytes), PurgeReason.SIZE)
    if policy.min_free_bytes is not None and free_bytes is not None:
        free = free_bytes + sum(p.segment.bytes for p in chosen.values())
        for s in _lowest_oldest_first(s for s in left() if s.closed):
            if free >= policy.min_free_bytes:
                break
            choose([s], PurgeReason.EMERGENCY)
            free += s.bytes
    return sorted(chosen.values(), key=lambda p: (p.segment.start, str(p.segment.segment_id)))


@dataclass(frozen=True, slots=True)
class ExportFile:
    path: str
    mtime: float
    bytes: int


def plan_export_removals(
    exports: Sequence[ExportFile],
    max_bytes: int | None,
    min_free_bytes: int | None,
    free_bytes: int,
) -> list[ExportFile]:
    """Exports to delete, oldest first: beyond the exports' own budget (``max_bytes``),
    and, when the disk is under its floor, as many as it takes before any footage goes
    (an export is a copy; the footage is the original)."""
    oldest_first = sorted(exports, key=lambda e: (e.mtime, e.path))
    total = sum(e.bytes for e in exports)
    short = 0 if min_free_bytes is None else max(0, min_free_bytes - free_bytes)
    out = []
    for export in oldest_first:
        if (max_bytes is None or total <= max_bytes) and short <= 0:
            break
        out.append(export)
        total -= export.bytes
        short -= export.bytes
    return out
