"""Debouncing live detections into alerts: pure, per camera and class.

An alert is raised for a (camera, class) when no alert for it was raised in the last
``cooldown`` seconds (30 s by default, configurable per class). A person who stays two
minutes in view with a 30-s cooldown gives 4-5 alerts, not one per frame; two classes
never hold each other back. Detections arriving out of order (older than the last
alert) never raise an alert.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

Key = tuple[UUID, str]
"""(camera id, class label)."""


@dataclass(frozen=True, slots=True)
class DebouncePolicy:
    cooldown_s: float = 30.0
    per_class: Mapping[str, float] = field(default_factory=dict)

    def cooldown_for(self, label: str) -> float:
        return self.per_class.get(label, self.cooldown_s)

    @classmethod
    def parse(cls, default_s: float, per_class: str) -> DebouncePolicy:
        """``per_class`` as ``"person=30,car=120"`` (ALERT_COOLDOWNS)."""
        parsed: dict[str, float] = {}
        for item in per_class.split(","):
            if item.strip():
                label, _, seconds = item.partition("=")
                parsed[label.strip()] = float(seconds)
        return cls(default_s, parsed)


def should_alert(
    last_alerts: Mapping[Key, datetime],
    camera_id: UUID,
    label: str,
    at: datetime,
    policy: DebouncePolicy,
) -> bool:
    """True when this detection is the first of its (camera, class) in a cooldown window."""
    last = last_alerts.get((camera_id, label))
    return last is None or (at - last).total_seconds() >= policy.cooldown_for(label)


@dataclass(frozen=True, slots=True)
class Sighting:
    camera_id: UUID
    label: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Debounced:
    last_alerts: dict[Key, datetime]
    """The state to keep for the next call."""
    raised: list[int]
    """Indexes of the sightings that raise an alert."""


def debounce(
    last_alerts: Mapping[Key, datetime], sightings: list[Sighting], policy: DebouncePolicy
) -> Debounced:
    """Fold sightings in order into the new state and the alerts they raise."""
    state = dict(last_alerts)
    raised = []
    for index, s in enumerate(sightings):
        if should_alert(state, s.camera_id, s.label, s.at, policy):
            state[(s.camera_id, s.label)] = s.at
            raised.append(index)
    return Debounced(state, raised)
