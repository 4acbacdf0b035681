"""Home Assistant MQTT discovery (pure): a device per camera and its entities.

Each config goes, retained, to ``{discovery}/{component}/ronin_{camera}/{object}/config``
(Home Assistant's documented discovery topic; ``camera`` is the camera's id without
dashes, so renaming a camera keeps its entities). Every entity names the camera's
device, is unavailable while Ronin is (``{p}/available``), and has a ``unique_id``:

- per class (MQTT_LABELS), and per zone and class: an ``occupancy`` binary sensor (on
  while one is in view) and a count sensor;
- per class: an ``image`` of the latest alert snapshot;
- two switches, detection and recording, and a status sensor.

A camera that is removed gets an empty retained config for each of its entities, which
makes Home Assistant remove them.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from projector.mqtt.topics import OFF, OFFLINE, ON, ONLINE, Switch, Topics, topic_name

NODE_PREFIX = "ronin_"
"""A camera's discovery node id: this and its id in hex."""

JsonObject = dict[str, object]


@dataclass(frozen=True, slots=True)
class DiscoveredCamera:
    camera_id: UUID
    name: str
    topic: str
    """Its name as a topic level (``topics.topic_name``)."""
    zones: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DiscoveryConfig:
    topic: str
    payload: JsonObject


@dataclass(frozen=True, slots=True)
class Discovery:
    topics: Topics
    labels: tuple[str, ...]
    prefix: str = "homeassistant"
    version: str = ""

    def configs(self, camera: DiscoveredCamera) -> list[DiscoveryConfig]:
        status: JsonObject = {"state_topic": self.topics.status(camera.topic), "icon": "mdi:cctv"}
        return [
            *self._occupancy(camera, None),
            *(c for zone in camera.zones for c in self._occupancy(camera, zone)),
            *(self._snapshot(camera, label) for label in self.labels),
            self._switch(camera, Switch.DETECT, "Detection", "mdi:motion-sensor"),
            self._switch(camera, Switch.RECORDINGS, "Recording", "mdi:record-rec"),
            self._entity(camera, "sensor", "status", "Status", status),
        ]

    def removals(self, camera: DiscoveredCamera) -> list[DiscoveryConfig]:
        """Empty configs: Home Assistant removes the camera's entities."""
        return [DiscoveryConfig(c.topic, {}) for c in self.configs(camera)]

    def _occupancy(self, camera: DiscoveredCamera, zone: str | None) -> list[DiscoveryConfig]:
        out = []
        for label in self.labels:
            where = ("" if zone is None else f"zone_{topic_name(zone)}_") + topic_name(label)
            named = label.capitalize() if zone is None else f"{zone} {label}"
            state = (self.topics.count(camera.topic, label) if zone is None
                     else self.topics.zone_count(camera.topic, zone, label))  # fmt: skip
            out.append(self._entity(camera, "binary_sensor", f"{where}_occupancy",
                                    f"{named} occupancy", {
                "state_topic": self.topics.occupied(state), "device_class": "occupancy",
                "payload_on": ON, "payload_off": OFF,
            }))  # fmt: skip
            out.append(self._entity(camera, "sensor", f"{where}_count", f"{named} count", {
                "state_topic": state, "state_class": "measurement", "icon": "mdi:counter",
            }))  # fmt: skip
        return out

    def _snapshot(self, camera: DiscoveredCamera, label: str) -> DiscoveryConfig:
        return self._entity(camera, "image", f"{topic_name(label)}_snapshot",
                            f"{label.capitalize()} snapshot", {
            "image_topic": self.topics.snapshot(camera.topic, label), "content_type": "image/jpeg",
        })  # fmt: skip

    def _switch(
        self, camera: DiscoveredCamera, switch: Switch, name: str, icon: str
    ) -> DiscoveryConfig:
        return self._entity(camera, "switch", str(switch), name, {
            "command_topic": self.topics.switch_set(camera.topic, switch),
            "state_topic": self.topics.switch_state(camera.topic, switch),
            "payload_on": ON, "payload_off": OFF, "optimistic": False, "icon": icon,
        })  # fmt: skip

    def _entity(
        self, camera: DiscoveredCamera, component: str, object_id: str, name: str,
        fields: JsonObject,
    ) -> DiscoveryConfig:  # fmt: skip
        node = f"{NODE_PREFIX}{camera.camera_id.hex}"
        payload: JsonObject = {
            "name": name,
            "unique_id": f"{node}_{object_id}",
            "availability_topic": self.topics.availability,
            "payload_available": ONLINE,
            "payload_not_available": OFFLINE,
            "device": self._device(camera),
            "origin": {"name": "Ronin", **({"sw_version": self.version} if self.version else {})},
            **fields,
        }
        return DiscoveryConfig(f"{self.prefix}/{component}/{node}/{object_id}/config", payload)

    def _device(self, camera: DiscoveredCamera) -> JsonObject:
        return {
            "identifiers": [f"ronin_{camera.camera_id.hex}"],
            "name": camera.name,
            "manufacturer": "Ronin",
            "model": "Camera",
            **({"sw_version": self.version} if self.version else {}),
        }


def is_ronin_config(topic: str, prefix: str) -> bool:
    """Whether a topic is a discovery config of a Ronin camera under ``prefix``."""
    parts = topic.split("/")
    return (
        len(parts) == 5 and parts[0] == prefix and parts[2].startswith(NODE_PREFIX)
        and parts[4] == "config"
    )  # fmt: skip


def labels_of(text: str) -> tuple[str, ...]:
    """MQTT_LABELS as a tuple (comma-separated classes)."""
    return tuple(dict.fromkeys(c.strip() for c in text.split(",") if c.strip()))
