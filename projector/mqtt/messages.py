"""The JSON of the ``events`` and ``reviews`` messages (pure), shaped like Frigate's:
``{"type": "new" | "update" | "end", "before": {...} | null, "after": {...}}``, times in
seconds since the epoch, boxes as fractions of the picture."""

from __future__ import annotations

from typing import Literal

import orjson

from events.catalogue import TrackEnded, TrackEvent, TrackStarted
from projector.notify.reviews import ReviewChange, item_json

JsonObject = dict[str, object]


def track_kind(event: TrackEvent) -> Literal["new", "update", "end"]:
    return (
        "new"
        if isinstance(event, TrackStarted)
        else "end"
        if isinstance(event, TrackEnded)
        else "update"
    )


def track_json(event: TrackEvent, camera: str) -> JsonObject:
    box = event.best_box
    return {
        "id": str(event.track_id),
        "camera": camera,
        "camera_id": str(event.camera_id),
        "label": event.label,
        "start_time": event.start.timestamp(),
        "end_time": event.last_seen.timestamp() if isinstance(event, TrackEnded) else None,
        "last_seen": event.last_seen.timestamp(),
        "score": event.best_confidence,
        "box": [box.x1, box.y1, box.x2, box.y2],
        "stationary": event.stationary,
        "entered_zones": list(event.zones),
        "sightings": event.sightings,
    }


def track_message(event: TrackEvent, before: TrackEvent | None, camera: str) -> bytes:
    return orjson.dumps({
        "type": track_kind(event),
        "before": None if before is None else track_json(before, camera),
        "after": track_json(event, camera),
    })  # fmt: skip


def review_message(change: ReviewChange, camera: str) -> bytes:
    return orjson.dumps({
        "type": change.kind,
        "before": None if change.before is None else item_json(change.before, camera),
        "after": item_json(change.after, camera),
    })  # fmt: skip
