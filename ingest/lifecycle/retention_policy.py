"""The retention policy (pure): which segments to delete, and why.

Rules, applied in this order to closed segments only (a segment still being written is
never chosen):

1. **age**: a segment that ended more than ``max_age_days`` ago (the camera's override,
   else RETENTION_DAYS);
2. **size, per camera**: a camera with its own ``max_bytes`` keeps its newest segments
   that fit, oldest go;
3. **size, total**: all cameras together keep the newest footage that fits in
   RETENTION_MAX_GB (segments still being written count first, since they are newest);
4. **emergency**: while the disk's free space (after the deletions above) is under
   ``min_free_bytes``, the oldest remaining segments go, whatever the limits say.

"Newest footage that fits" is a prefix: segments are taken newest first until the next
one does not fit; that one and everything older go, so nothing older survives a newer
deletion.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from events.catalogue import PurgeReason


@dataclass(frozen=True, slots=True)
class StoredSegment:
    segment_id: UUID
    camera_id: UUID
    start: datetime
    end: datetime
    bytes: int
    path: str = ""
    closed: bool = True


@dataclass(frozen=True, slots=True)
class Limits:
    max_age_days: float | None = None
    max_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    limits: Limits = Limits()
    per_camera: Mapping[UUID, Limits] = field(default_factory=dict)
    min_free_bytes: int | None = None
    """The emergency floor of free disk space."""

    def age_limit(self, camera_id: UUID) -> float | None:
        override = self.per_camera.get(camera_id)
        if override is not None and override.max_age_days is not None:
            return override.max_age_days
        return self.limits.max_age_days


@dataclass(frozen=True, slots=True)
class Purge:
    segment: StoredSegment
    reason: PurgeReason


def _newest_first(segments: Iterable[StoredSegment]) -> list[StoredSegment]:
    return sorted(segments, key=lambda s: (s.start, s.end, str(s.segment_id)), reverse=True)


def _beyond_budget(segments: Sequence[StoredSegment], budget: int) -> list[StoredSegment]:
    """Closed segments past the longest newest-first run that fits ``budget`` once the
    segments still being written (the newest footage there is) are charged to it."""
    used = sum(s.bytes for s in segments if not s.closed)
    out: list[StoredSegment] = []
    for segment in _newest_first(s for s in segments if s.closed):
        if not out and used + segment.bytes <= budget:
            used += segment.bytes
        else:
            out.append(segment)
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

    for s in segments:
        days = policy.age_limit(s.camera_id)
        if days is not None and s.end <= now - timedelta(days=days):
            choose([s], PurgeReason.AGE)
    for camera_id, limits in policy.per_camera.items():
        if limits.max_bytes is not None:
            own = [s for s in segments if s.camera_id == camera_id and s.segment_id not in chosen]
            choose(_beyond_budget(own, limits.max_bytes), PurgeReason.SIZE)
    if policy.limits.max_bytes is not None:
        left = [s for s in segments if s.segment_id not in chosen]
        choose(_beyond_budget(left, policy.limits.max_bytes), PurgeReason.SIZE)
    if policy.min_free_bytes is not None and free_bytes is not None:
        free = free_bytes + sum(p.segment.bytes for p in chosen.values())
        for s in reversed(_newest_first(s for s in segments if s.segment_id not in chosen)):
            if free >= policy.min_free_bytes:
                break
            if s.closed:
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
