"""Home Assistant's MQTT discovery schema for the entity types Ronin uses, as documented
(home-assistant.io/integrations/mqtt and the binary_sensor.mqtt, sensor.mqtt,
switch.mqtt and image.mqtt pages). Home Assistant drops keys it does not know without a
word, so an unknown key here is a setting that silently does nothing: an error."""

from __future__ import annotations

import re

COMMON = {
    "availability", "availability_mode", "availability_template", "availability_topic",
    "default_entity_id", "device", "enabled_by_default", "encoding", "entity_category",
    "entity_picture", "icon", "json_attributes_template", "json_attributes_topic", "name",
    "object_id", "origin", "payload_available", "payload_not_available", "platform", "qos",
    "unique_id",
}  # fmt: skip
PLATFORMS: dict[str, tuple[set[str], set[str]]] = {  # (required, optional)
    "binary_sensor": ({"state_topic"}, {"device_class", "expire_after", "force_update",
                                        "off_delay", "payload_off", "payload_on",
                                        "value_template"}),
    "sensor": ({"state_topic"}, {"device_class", "expire_after", "force_update",
                                 "last_reset_value_template", "options",
                                 "suggested_display_precision", "state_class",
                                 "unit_of_measurement", "value_template"}),
    "switch": ({"command_topic"}, {"command_template", "device_class", "optimistic",
                                   "payload_off", "payload_on", "retain", "state_off",
                                   "state_on", "state_topic", "value_template"}),
    "image": (set(), {"content_type", "image_encoding", "image_topic", "url_template",
                      "url_topic"}),
}  # fmt: skip
DEVICE = {
    "configuration_url", "connections", "hw_version", "identifiers", "manufacturer", "model",
    "model_id", "name", "serial_number", "suggested_area", "sw_version", "via_device",
}  # fmt: skip
ORIGIN = {"name", "sw_version", "support_url"}
BINARY_SENSOR_CLASSES = {"occupancy", "motion", "presence", "connectivity", "problem", "running"}
STATE_CLASSES = {"measurement", "measurement_angle", "total", "total_increasing"}
CONFIG_TOPIC = re.compile(
    r"^(?P<prefix>[^/#+]+)/(?P<component>[a-z_]+)/(?:[a-zA-Z0-9_-]+/)?[a-zA-Z0-9_-]+/config$"
)
TOPIC_KEYS = {"availability_topic", "state_topic", "command_topic", "image_topic",
              "json_attributes_topic", "url_topic"}  # fmt: skip


def problems(topic: str, payload: dict[str, object]) -> list[str]:
    """What is wrong with one discovery message (nothing: a valid config)."""
    found = CONFIG_TOPIC.match(topic)
    if found is None:
        return [f"{topic}: not a discovery topic"]
    component = found["component"]
    if component not in PLATFORMS:
        return [f"{topic}: {component} is not a platform Ronin documents"]
    required, optional = PLATFORMS[component]
    out = [f"{topic}: missing {key}" for key in sorted(required - payload.keys())]
    unknown = payload.keys() - COMMON - required - optional
    out += [f"{topic}: unknown {key}" for key in sorted(unknown)]
    out += _values(topic, component, payload)
    return out


def _values(topic: str, component: str, payload: dict[str, object]) -> list[str]:
    out = []
    for key in TOPIC_KEYS & payload.keys():
        value = payload[key]
        if (
            not isinstance(value, str)
            or not value
            or "\0" in value
            or (key == "command_topic" and ("#" in value or "+" in value))
        ):
            out.append(f"{topic}: bad {key} {value!r}")
    if component == "image" and ("image_topic" in payload) == ("url_topic" in payload):
        out.append(f"{topic}: an image needs exactly one of image_topic and url_topic")
    classes = (None, *BINARY_SENSOR_CLASSES)
    if component == "binary_sensor" and payload.get("device_class") not in classes:
        out.append(f"{topic}: unknown device_class {payload['device_class']}")
    if component == "sensor" and payload.get("state_class") not in (None, *STATE_CLASSES):
        out.append(f"{topic}: unknown state_class {payload['state_class']}")
    device = payload.get("device")
    if device is not None:
        if not isinstance(device, dict) or device.keys() - DEVICE:
            out.append(f"{topic}: bad device {device!r}")
        elif not device.get("identifiers") and not device.get("connections"):
            out.append(f"{topic}: a device needs identifiers or connections")
        if "unique_id" not in payload:
            out.append(f"{topic}: an entity with a device needs a unique_id")
    origin = payload.get("origin")
    if origin is not None and (not isinstance(origin, dict) or "name" not in origin
                               or origin.keys() - ORIGIN):  # fmt: skip
        out.append(f"{topic}: bad origin {origin!r}")
    return out
