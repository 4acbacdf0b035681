"""Live review items as they happen (pure): new, update, end.

An item is what the Review page shows: a camera's tracks that overlap in time or follow
within ``merge_s``, named by its first track's id, ``alert`` when a track of an alert
class has been in a zone the camera requires (anywhere, when it requires none), else
``detection``. Here it is built from the live tracker's events as they come: the first
track opens the item (``new``), a new class, zone, track or a rise to ``alert`` is an
``update``, and ``merge_s`` after its last track ended (or ``stale_s`` after anything
was last heard of it) it ``end`` s.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from uuid import UUID

from events.catalogue import TrackEnded, TrackEvent

Severity = Literal["alert", "detection"]
Change = Literal["new", "update", "end"]


@dataclass(frozen=True, slots=True)
class LiveItem:
    item_id: UUID
    camera_id: UUID
    start: datetime
    severity: Severity
    labels: tuple[str, ...]
    zones: tuple[str, ...]
    tracks: tuple[UUID, ...]
    end: datetime | None = None
    last_seen: datetime | None = None
    alert_track: UUID | None = None
    """The track that made it an alert (its alert's snapshot is the item's picture)."""

    def same_as(self, other: LiveItem) -> bool:
        """Equal in everything a message shows (``last_seen`` moves all the time)."""
        return dataclasses.replace(self, last_seen=None) == dataclasses.replace(
            other, last_seen=None
        )


@dataclass(frozen=True, slots=True)
class ReviewChange:
    kind: Change
    before: LiveItem | None
    after: LiveItem


class LiveReviews:
    def __init__(
        self, alert_labels: Collection[str], merge_s: float = 10.0, stale_s: float = 120.0
    ) -> None:
        self._alert_labels = frozenset(alert_labels)
        self._merge, self._stale = timedelta(seconds=merge_s), timedelta(seconds=stale_s)
        self._open: dict[UUID, LiveItem] = {}  # by camera
        self._active: dict[UUID, set[UUID]] = {}  # by camera: tracks not ended yet

    def apply(self, event: TrackEvent) -> list[ReviewChange]:
        item = self._open.get(event.camera_id)
        if item is None:
            if isinstance(event, TrackEnded):
                return []  # the end of a track begun before this process: no item
            item = self._opened(event)
            self._open[event.camera_id], self._active[event.camera_id] = item, {event.track_id}
            return [ReviewChange("new", None, item)]
        active = self._active[event.camera_id]
        if isinstance(event, TrackEnded):
            active.discard(event.track_id)
        else:
            active.add(event.track_id)
        after = self._joined(item, event)
        self._open[event.camera_id] = after
        return [] if after.same_as(item) else [ReviewChange("update", item, after)]

    def expire(self, now: datetime) -> list[ReviewChange]:
        """End the items whose tracks have all ended ``merge_s`` ago (or went quiet)."""
        changes = []
        for camera_id, item in list(self._open.items()):
            last = item.last_seen or item.start
            quiet = not self._active[camera_id] and now - last > self._merge
            if quiet or now - last > self._stale:
                ended = dataclasses.replace(item, end=last)
                changes.append(ReviewChange("end", item, ended))
                del self._open[camera_id], self._active[camera_id]
        return changes

    def _severity(self, event: TrackEvent) -> Severity:
        alerting = not self._alert_labels or event.label in self._alert_labels
        return "alert" if alerting and event.in_required_zone else "detection"

    def _opened(self, event: TrackEvent) -> LiveItem:
        return LiveItem(
            item_id=event.track_id, camera_id=event.camera_id, start=event.start,
            severity=self._severity(event), labels=(event.label,),
            zones=tuple(sorted(event.zones)), tracks=(event.track_id,),
            last_seen=event.last_seen,
            alert_track=event.track_id if self._severity(event) == "alert" else None,
        )  # fmt: skip

    def _joined(self, item: LiveItem, event: TrackEvent) -> LiveItem:
        alerting = self._severity(event) == "alert"
        return dataclasses.replace(
            item,
            severity="alert" if alerting else item.severity,
            labels=tuple(sorted({*item.labels, event.label})),
            zones=tuple(sorted({*item.zones, *event.zones})),
            tracks=item.tracks + (() if event.track_id in item.tracks else (event.track_id,)),
            last_seen=max(item.last_seen or event.last_seen, event.last_seen),
            alert_track=item.alert_track or (event.track_id if alerting else None),
        )


def item_json(item: LiveItem, camera: str) -> dict[str, object]:
    """An item as MQTT's ``reviews`` messages and webhooks carry it (times in seconds
    since the epoch)."""
    return {
        "id": str(item.item_id),
        "camera": camera,
        "camera_id": str(item.camera_id),
        "start_time": item.start.timestamp(),
        "end_time": None if item.end is None else item.end.timestamp(),
        "severity": item.severity,
        "data": {
            "objects": list(item.labels),
            "zones": list(item.zones),
            "detections": [str(t) for t in item.tracks],
        },
    }
