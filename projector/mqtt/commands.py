"""A switch command received over MQTT, as the camera event it stands for (pure)."""

from __future__ import annotations

from events.catalogue import CameraUpdated
from projector.mqtt.topics import Switch
from projector.readmodels.cameras import CameraRow, camera_updated


def switched(row: CameraRow, switch: Switch, on: bool) -> CameraUpdated | None:
    """Detection or recording turned on or off; None when it already is (a command
    repeated, or a retained one received again, changes nothing)."""
    field = "detection_enabled" if switch is Switch.DETECT else "enabled"
    if getattr(row, field) == on:
        return None
    return camera_updated(row, **{field: on})
