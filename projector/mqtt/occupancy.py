"""How many tracked objects of each class are in view, per camera and per zone (pure).

Fed with the live tracker's events (``TrackStarted`` / ``TrackUpdated`` / ``TrackEnded``
without a segment): a track counts from its start until it ends, in every zone it has
entered so far. A track that is never reported again (the detector stopped) is
forgotten after ``stale_s``, so a count never sticks.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from events.catalogue import TrackEnded, TrackEvent


@dataclass(frozen=True, slots=True)
class InView:
    camera_id: UUID
    label: str
    zones: frozenset[str]
    last_seen: datetime


class Occupancy:
    def __init__(self, stale_s: float = 120.0) -> None:
        self._in_view: dict[UUID, InView] = {}
        self._stale = timedelta(seconds=stale_s)

    def apply(self, event: TrackEvent) -> None:
        if isinstance(event, TrackEnded):
            self._in_view.pop(event.track_id, None)
            return
        self._in_view[event.track_id] = InView(
            event.camera_id, event.label, frozenset(event.zones), event.last_seen
        )

    def expire(self, now: datetime) -> bool:
        """Forget tracks not reported for ``stale_s``; True when any was."""
        stale = [t for t, seen in self._in_view.items() if now - seen.last_seen > self._stale]
        for track_id in stale:
            del self._in_view[track_id]
        return bool(stale)

    def counts(self, camera_id: UUID) -> Counter[str]:
        """Objects in view per class."""
        return Counter(s.label for s in self._in_view.values() if s.camera_id == camera_id)

    def zone_counts(self, camera_id: UUID) -> Counter[tuple[str, str]]:
        """Objects per (zone, class) that have entered the zone."""
        return Counter(
            (zone, s.label)
            for s in self._in_view.values()
            if s.camera_id == camera_id
            for zone in s.zones
        )
