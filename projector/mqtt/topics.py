"""MQTT topic names (pure). Close to Frigate's, so that Home Assistant automations move
over with a new prefix:

=====================================  ======================================  ========
topic                                  payload                                 retained
=====================================  ======================================  ========
``{p}/available``                      ``online`` / ``offline`` (last will)    yes
``{p}/{camera}/status``                ``recording`` / ``online`` / ``offline``  yes
``{p}/{camera}/{label}``               objects of that class in view (count)   yes
``{p}/{camera}/{label}/occupied``      ``ON`` while there is one, else ``OFF``   yes
``{p}/{camera}/zones/{zone}/{label}``  objects of that class in the zone        yes
``{p}/{camera}/zones/{zone}/{label}/occupied``  ``ON`` / ``OFF``                yes
``{p}/{camera}/{label}/snapshot``      the latest alert snapshot (JPEG bytes)  yes
``{p}/{camera}/detect/state``          ``ON`` / ``OFF``                        yes
``{p}/{camera}/recordings/state``      ``ON`` / ``OFF``                        yes
``{p}/{camera}/detect/set``            ``ON`` / ``OFF``: switch detection       (in)
``{p}/{camera}/recordings/set``        ``ON`` / ``OFF``: switch recording       (in)
``{p}/events``                         a tracked object: new / update / end    no
``{p}/reviews``                        a review item: new / update / end       no
=====================================  ======================================  ========

``{p}`` is MQTT_TOPIC_PREFIX (``ronin``); ``{camera}``, ``{zone}`` and ``{label}`` are
names made safe for a topic level (:func:`topic_name`: ``Front door`` is ``front_door``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

ON, OFF = "ON", "OFF"
ONLINE, OFFLINE = "online", "offline"


class Switch(StrEnum):
    DETECT = "detect"
    RECORDINGS = "recordings"


def topic_name(name: str) -> str:
    """A camera's or zone's name as one topic level: lower case, ``[a-z0-9_-]`` only."""
    safe = re.sub(r"[^a-z0-9_-]+", "_", name.strip().lower()).strip("_")
    return safe or "unnamed"


def switch_value(payload: bytes) -> bool | None:
    """ON / OFF (any case) as a bool; None for anything else."""
    text = payload.decode(errors="replace").strip().upper()
    return True if text == ON else False if text == OFF else None


@dataclass(frozen=True, slots=True)
class Topics:
    prefix: str = "ronin"

    @property
    def availability(self) -> str:
        return f"{self.prefix}/available"

    @property
    def events(self) -> str:
        return f"{self.prefix}/events"

    @property
    def reviews(self) -> str:
        return f"{self.prefix}/reviews"

    @property
    def commands(self) -> str:
        """The subscription that receives every switch command."""
        return f"{self.prefix}/+/+/set"

    def status(self, camera: str) -> str:
        return f"{self.prefix}/{camera}/status"

    def count(self, camera: str, label: str) -> str:
        return f"{self.prefix}/{camera}/{topic_name(label)}"

    def zone_count(self, camera: str, zone: str, label: str) -> str:
        return f"{self.prefix}/{camera}/zones/{topic_name(zone)}/{topic_name(label)}"

    def occupied(self, count_topic: str) -> str:
        """The ON/OFF topic beside a count topic."""
        return f"{count_topic}/occupied"

    def snapshot(self, camera: str, label: str) -> str:
        return f"{self.prefix}/{camera}/{topic_name(label)}/snapshot"

    def switch_state(self, camera: str, switch: Switch) -> str:
        return f"{self.prefix}/{camera}/{switch}/state"

    def switch_set(self, camera: str, switch: Switch) -> str:
        return f"{self.prefix}/{camera}/{switch}/set"

    def command(self, topic: str) -> tuple[str, Switch] | None:
        """(camera, switch) of a ``.../set`` topic; None when it is not one of ours."""
        if not topic.startswith(self.prefix + "/"):
            return None
        parts = topic[len(self.prefix) + 1 :].split("/")
        if len(parts) != 3 or parts[2] != "set":
            return None
        try:
            return parts[0], Switch(parts[1])
        except ValueError:
            return None
