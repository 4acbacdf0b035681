"""Tracking live detections, per camera, across the detector's restarts.

Each camera's tracker state is kept in Redis (``ronin:tracking:live:{model}:{camera}``,
the detector's own) after every batch, so a restarted detector goes on with the same
tracks instead of starting new ones (and alerting again for the same person). A track's
id derives from the detection that started it. The ring taps ask :meth:`watching` so that,
while a camera has something tracked, they pass it a frame every ``recheck_s`` even when
nothing moves; :meth:`expire` ends the tracks of cameras whose frames stopped coming.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

import redis
from pydantic import TypeAdapter

from detector.analysis import sightings_of, track_events
from detector.tracking import Sighting, TrackerConfig, TrackerState, step
from events.catalogue import ObjectDetected, TrackEvent, ZoneConfig

_STATE = TypeAdapter(TrackerState)
LIVE_TRACKS = UUID("9a4f3c2e-61b8-4d0a-b7e5-2c8d1f6a0e37")


def live_track_id(_n: int, first: Sighting) -> UUID:
    return uuid5(LIVE_TRACKS, str(first.detection_id))


class LiveTracks:
    def __init__(
        self, client: redis.Redis, model_id: str, config: TrackerConfig | None = None
    ) -> None:
        self._redis: Any = client
        self._model_id = model_id
        self.config = config or TrackerConfig()
        self._states: dict[UUID, TrackerState] = {}
        self._last_zones: dict[UUID, ZoneConfig] = {}

    def _key(self, camera_id: UUID) -> str:
        return f"ronin:tracking:live:{self._model_id}:{camera_id}"

    def _state(self, camera_id: UUID) -> TrackerState:
        if camera_id not in self._states:
            raw = self._redis.get(self._key(camera_id))
            self._states[camera_id] = TrackerState() if raw is None else _STATE.validate_json(raw)
        return self._states[camera_id]

    def watching(self, camera_id: UUID) -> bool:
        """Whether something is tracked on this camera (its tap re-checks it then)."""
        return self._state(camera_id).active

    def frame(
        self,
        camera_id: UUID,
        at: datetime,
        found: Sequence[ObjectDetected],
        zones: ZoneConfig | None = None,
    ) -> list[TrackEvent]:
        """One analysed live frame of the camera (maybe with nothing in it), inside its
        zones (those of its last frame when not given)."""
        zones = zones or self._last_zones.get(camera_id, ZoneConfig())
        self._last_zones[camera_id] = zones
        state, changes = step(self._state(camera_id), at, sightings_of(found), self.config,
                              live_track_id, zones.zones)  # fmt: skip
        self._states[camera_id] = state
        return track_events(camera_id, None, self._model_id, changes, zones.required_zones)

    def expire(self, now: datetime) -> list[TrackEvent]:
        """End the tracks no frame has confirmed for longer than the limit (the camera went
        offline, or its frames stopped)."""
        events: list[TrackEvent] = []
        for camera_id, state in list(self._states.items()):
            late = [
                t
                for t in state.tracks
                if (now - t.last_seen).total_seconds() > self.config.lost_after_s
            ]
            if late:
                events += self.frame(camera_id, now, [])
        return events

    def save(self) -> None:
        pipe = self._redis.pipeline()
        for camera_id, state in self._states.items():
            pipe.set(self._key(camera_id), _STATE.dump_json(state), ex=86_400)
        pipe.execute()
