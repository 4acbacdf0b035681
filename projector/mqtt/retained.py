"""Every retained topic's value, from the cameras, what is in view and the snapshots
(pure), and what to publish to bring the broker there.

The bridge computes the whole retained state each step and publishes the difference
from what it last published on this connection (everything again after a reconnect, an
empty payload where a topic went away: a removed camera's entities and values vanish).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from uuid import UUID

import orjson

from projector.mqtt.discovery import DiscoveredCamera, Discovery, is_ronin_config
from projector.mqtt.occupancy import Occupancy
from projector.mqtt.topics import OFF, ON, ONLINE, Switch, Topics, topic_name
from projector.readmodels.cameras import CameraRow


def camera_topics(rows: Sequence[CameraRow]) -> dict[UUID, str]:
    """Each camera's topic level: its name made safe; a clash gets the id's start too."""
    names: dict[UUID, str] = {}
    for row in sorted(rows, key=lambda r: (r.position, r.name, str(r.camera_id))):
        name = topic_name(row.name)
        names[row.camera_id] = (
            name if name not in names.values() else f"{name}_{row.camera_id.hex[:6]}"
        )
    return names


@dataclass(frozen=True, slots=True)
class CameraState:
    row: CameraRow
    topic: str
    counts: Mapping[str, int] = field(default_factory=dict)
    zone_counts: Mapping[tuple[str, str], int] = field(default_factory=dict)


def retained_state(
    cameras: Sequence[CameraState],
    discovery: Discovery,
    snapshots: Mapping[tuple[UUID, str], bytes],
) -> dict[str, bytes]:
    topics = discovery.topics
    state: dict[str, bytes] = {topics.availability: ONLINE.encode()}
    for camera in cameras:
        state.update(_camera_values(camera, topics, discovery.labels))
        zones = tuple(z.name for z in camera.row.zones().zones)
        found = DiscoveredCamera(camera.row.camera_id, camera.row.name, camera.topic, zones)
        for config in discovery.configs(found):
            state[config.topic] = orjson.dumps(config.payload)
        for (camera_id, label), jpeg in snapshots.items():
            if camera_id == camera.row.camera_id:
                state[topics.snapshot(camera.topic, label)] = jpeg
    return state


def _camera_values(camera: CameraState, topics: Topics, labels: Sequence[str]) -> dict[str, bytes]:
    row, name = camera.row, camera.topic
    values = {
        topics.status(name): row.status.encode(),
        topics.switch_state(name, Switch.DETECT): (ON if row.detection_enabled else OFF).encode(),
        topics.switch_state(name, Switch.RECORDINGS): (ON if row.enabled else OFF).encode(),
    }
    every_label = dict.fromkeys([*labels, *camera.counts])
    for label in every_label:
        values.update(_count(topics, topics.count(name, label), camera.counts.get(label, 0)))
    zone_labels = dict.fromkeys([*labels, *(label for _, label in camera.zone_counts)])
    for zone in camera.row.zones().zones:
        for label in zone_labels:
            count = camera.zone_counts.get((zone.name, label), 0)
            values.update(_count(topics, topics.zone_count(name, zone.name, label), count))
    return values


def _count(topics: Topics, topic: str, count: int) -> dict[str, bytes]:
    """A count and, beside it, ON/OFF for "any at all"."""
    return {topic: str(count).encode(), topics.occupied(topic): (ON if count else OFF).encode()}


def camera_states(rows: Sequence[CameraRow], occupancy: Occupancy) -> list[CameraState]:
    names = camera_topics(rows)
    return [
        CameraState(
            row,
            names[row.camera_id],
            occupancy.counts(row.camera_id),
            occupancy.zone_counts(row.camera_id),
        )
        for row in rows
    ]


def changes(sent: Mapping[str, bytes], desired: Mapping[str, bytes]) -> list[tuple[str, bytes]]:
    """(topic, payload) to publish, retained: what changed or is new, and an empty
    payload (which clears a retained topic) for what is no longer there."""
    out = [(topic, value) for topic, value in desired.items() if sent.get(topic) != value]
    out += [(topic, b"") for topic in sent if topic not in desired and sent[topic] != b""]
    return out


STALE = b"\x00stale"
"""What :func:`with_found` records for a retained topic found in the broker: a value no
state has, so :func:`changes` clears it unless it is wanted (then publishes it anew)."""


def sweep_filters(discovery: Discovery) -> list[str]:
    """Where the bridge looks, once per connection, for retained topics it did not
    publish on that connection (a camera removed while the bridge was down)."""
    return [f"{discovery.topics.prefix}/#", f"{discovery.prefix}/+/+/+/config"]


def is_ours(topic: str, discovery: Discovery) -> bool:
    """Whether a retained topic is one the bridge publishes (its prefix, its discovery
    configs), and not a command."""
    if discovery.topics.command(topic) is not None:
        return False
    return topic.startswith(discovery.topics.prefix + "/") or is_ronin_config(
        topic, discovery.prefix
    )


def with_found(sent: Mapping[str, bytes], found: Sequence[str]) -> dict[str, bytes]:
    """``sent`` and the retained topics found in the broker that it does not hold yet."""
    return {**dict.fromkeys(found, STALE), **sent}
