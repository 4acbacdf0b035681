"""The MQTT bridge worker: Ronin's state and events out to a broker, switches in.

:meth:`MqttBridge.step` only calls named steps: read the cameras, act on the switch
commands received, take in new events, end what went quiet, publish the retained state
that changed. It is a consumer group (``mqtt``) on the detections and alerts topics,
starting at the newest events (MQTT is about now): live tracks drive occupancy, the
``events`` and ``reviews`` messages; alerts bring the snapshots.

The broker may go away at any time: paho reconnects by itself (1 s, doubling to 10 s),
and on every connection the bridge subscribes to the commands again and publishes the
whole retained state (availability, discovery, every value) again, so a broker that
restarted without its retained messages is whole again within a second of returning.
``events`` / ``reviews`` messages published while it is away wait in a bounded queue.
For the first seconds of each connection it also reads the broker's retained topics
under its prefix and its discovery configs: those it no longer wants (a camera removed,
a zone renamed while the bridge was down) are cleared, so Home Assistant drops them.
Ronin's availability is ``online`` while the bridge is connected; the broker publishes
``offline`` (the last will) when it is not.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit
from uuid import UUID

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from events.catalogue import AlertRaised, Topic, TrackEnded, TrackEvent
from events.codec import decode
from events.errors import CodecError, ConfigurationError, StoreUnavailable
from events.store import ZERO, Message, RedisEventStore
from projector.mqtt.commands import switched
from projector.mqtt.discovery import Discovery
from projector.mqtt.messages import review_message, track_message
from projector.mqtt.occupancy import Occupancy
from projector.mqtt.retained import (
    camera_states,
    camera_topics,
    changes,
    is_ours,
    retained_state,
    sweep_filters,
    with_found,
)
from projector.mqtt.topics import OFFLINE, Topics, switch_value
from projector.notify.reviews import LiveReviews, ReviewChange
from projector.readmodels import cameras
from projector.readmodels.cameras import CameraRow

log = logging.getLogger(__name__)

MQTT_GROUP = "mqtt"
_TOPICS = (Topic.DETECTIONS, Topic.ALERTS)
SWEEP_S = 5.0
"""How long after connecting the bridge takes retained topics in for clearing."""


class CameraRows(Protocol):
    def rows(self) -> list[CameraRow]: ...


class PostgresCameraRows:
    """Every camera from the cameras read model (none before the projector made it)."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn

    def rows(self) -> list[CameraRow]:
        return cameras.all_cameras(self._conn) if cameras.created(self._conn) else []


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False


def broker_address(url: str) -> BrokerAddress:
    """``mqtt://user:password@host:1883`` (``mqtts://`` for TLS, port 8883 by default)."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ConfigurationError(
            f"MQTT_URL must be mqtt://[user:password@]host[:port], not {parts.scheme}://..."
        )
    tls = parts.scheme == "mqtts"
    return BrokerAddress(
        parts.hostname, parts.port or (8883 if tls else 1883),
        unquote(parts.username) if parts.username else None,
        unquote(parts.password) if parts.password else None, tls,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class BridgeConfig:
    discovery: Discovery
    alert_labels: frozenset[str] = frozenset()
    client_id: str = "ronin"
    cameras_every_s: float = 2.0
    pending_max: int = 10_000
    commands: bool = True
    """Take commands (``…/set``) at all (MQTT_COMMANDS); off, the switches only show."""


class MqttBridge:
    def __init__(
        self,
        address: BrokerAddress,
        store: RedisEventStore,
        cameras: CameraRows,
        storage_root: Path,
        consumer: str,
        config: BridgeConfig,
    ) -> None:
        self._address, self._store, self._cameras = address, store, cameras
        self._root, self._consumer, self.config = storage_root, consumer, config
        self._topics: Topics = config.discovery.topics
        self._client = self._make_client()
        self._commands: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self._found: queue.Queue[str] = queue.Queue()  # retained topics of earlier runs
        self._sweep_until = 0.0
        self._connection = threading.Event()  # set while connected
        self._fresh = threading.Event()  # a new connection: publish everything again
        self._rows: list[CameraRow] = []
        self._rows_at = 0.0
        self._occupancy = Occupancy()
        self._reviews = LiveReviews(config.alert_labels)
        self._last_track: dict[UUID, TrackEvent] = {}
        self._snapshots: dict[tuple[UUID, str], bytes] = {}
        self._sent: dict[str, bytes] = {}
        self._pending: deque[tuple[str, bytes]] = deque(maxlen=config.pending_max)
        self._started = False
        self.published = 0

    @property
    def connected(self) -> bool:
        return self._connection.is_set()

    def run(self, stop: threading.Event, beat: Callable[[], object] = lambda: None) -> None:
        self._client.connect_async(self._address.host, self._address.port, keepalive=30)
        self._client.loop_start()
        try:
            while not stop.is_set():
                try:
                    self.step(block_ms=200)
                except StoreUnavailable as e:  # Redis or PostgreSQL: wait for it
                    log.warning("store unavailable, retrying: %s", e)
                    stop.wait(1.0)
                beat()
        finally:
            self.close()

    def step(self, block_ms: int = 0) -> None:
        self._read_cameras()
        self._obey_commands()
        self._take_events(block_ms)
        self._end_quiet(datetime.now(UTC))
        self._publish()

    def close(self) -> None:
        """Say ``offline`` (as the last will would) and disconnect."""
        if self.connected:
            said = self._client.publish(self._topics.availability, OFFLINE, qos=1, retain=True)
            said.wait_for_publish(2)
        self._connection.clear()
        self._client.disconnect()
        self._client.loop_stop()

    # --- the connection (paho's network thread) ------------------------------------

    def _make_client(self) -> mqtt.Client:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.config.client_id)
        if self._address.username is not None:
            client.username_pw_set(self._address.username, self._address.password)
        if self._address.tls:
            client.tls_set()
        client.will_set(self._topics.availability, OFFLINE, qos=1, retain=True)
        client.reconnect_delay_set(1, 10)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def _on_connect(
        self, client: mqtt.Client, _data: object, _flags: object, reason: object, _p: object
    ) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("the MQTT broker refused the connection: %s", reason)
            return
        if self.config.commands:
            client.subscribe(self._topics.commands, qos=1)
        client.subscribe([(f, 0) for f in sweep_filters(self.config.discovery)])
        self._sweep_until = time.monotonic() + SWEEP_S
        self._fresh.set()
        self._connection.set()
        log.info("connected to the MQTT broker at %s:%d", self._address.host, self._address.port)

    def _on_disconnect(
        self, _c: mqtt.Client, _d: object, _f: object, reason: object, _p: object
    ) -> None:
        if self._connection.is_set():
            log.warning("lost the MQTT broker (%s); reconnecting", reason)
        self._connection.clear()

    def _on_message(self, _c: mqtt.Client, _d: object, message: mqtt.MQTTMessage) -> None:
        if mqtt.topic_matches_sub(self._topics.commands, message.topic):
            if message.retain:  # said once by anyone, it would be obeyed at every reconnect
                log.warning("ignored a retained MQTT command: %s", message.topic)
            elif self.config.commands:
                self._commands.put((message.topic, bytes(message.payload)))
        elif message.retain and is_ours(message.topic, self.config.discovery):
            self._found.put(message.topic)

    # --- steps ---------------------------------------------------------------------

    def _read_cameras(self) -> None:
        now = time.monotonic()
        if now - self._rows_at >= self.config.cameras_every_s:
            self._rows, self._rows_at = self._cameras.rows(), now

    def _obey_commands(self) -> None:
        names = {name: camera_id for camera_id, name in camera_topics(self._rows).items()}
        rows = {row.camera_id: row for row in self._rows}
        while not self._commands.empty():
            topic, payload = self._commands.get_nowait()
            command, on = self._topics.command(topic), switch_value(payload)
            camera_id = names.get(command[0]) if command else None
            if command is None or on is None or camera_id is None:
                log.warning("ignored an MQTT command: %s %r", topic, payload[:20])
                continue
            event = switched(rows[camera_id], command[1], on)
            if event is not None:
                log.info("applied an MQTT command: %s %s", topic, "ON" if on else "OFF")
                self._store.append(event)
                self._rows_at = 0.0  # read the cameras again soon: the state follows

    def _take_events(self, block_ms: int) -> None:
        if not self._started:
            for topic in _TOPICS:  # MQTT is about now: from the newest event on
                self._store.ensure_group(topic, MQTT_GROUP, self._store.last_id(topic) or ZERO)
            self._started = True
        newest = self._store.last_ids(_TOPICS)  # what "new" means while we wait below
        took = False
        for topic in _TOPICS:
            messages = self._store.read_own_pending(
                topic, MQTT_GROUP, self._consumer, 100
            ) or self._store.read_group(topic, MQTT_GROUP, self._consumer, 100, None)
            for message in messages:
                self._take(topic, message)
            if messages:
                self._store.ack(topic, MQTT_GROUP, [m.stream_id for m in messages])
                took = True
        if not took and block_ms:  # wait for the next event on either topic, not one
            self._store.wait_for_appends(newest, block_ms)

    def _take(self, topic: Topic, message: Message) -> None:
        try:
            event = decode(message.fields)
        except CodecError as e:
            self._store.dead_letter(topic, MQTT_GROUP, message, str(e))
            return
        if isinstance(event, TrackEvent) and event.segment_id is None:  # live tracks only
            self._track(event)
        elif isinstance(event, AlertRaised) and event.snapshot_path:
            self._snapshot(event)

    def _track(self, event: TrackEvent) -> None:
        self._occupancy.apply(event)
        name = self._camera_name(event.camera_id)
        self._send(
            self._topics.events, track_message(event, self._last_track.get(event.track_id), name)
        )
        if isinstance(event, TrackEnded):
            self._last_track.pop(event.track_id, None)
        else:
            self._last_track[event.track_id] = event
        self._announce(self._reviews.apply(event))

    def _snapshot(self, event: AlertRaised) -> None:
        assert event.snapshot_path is not None
        try:
            jpeg = (self._root / event.snapshot_path).read_bytes()
        except OSError as e:
            log.warning("no snapshot for alert %s: %s", event.alert_id, e)
            return
        self._snapshots[(event.camera_id, event.label)] = jpeg

    def _end_quiet(self, now: datetime) -> None:
        self._occupancy.expire(now)
        self._announce(self._reviews.expire(now))

    def _announce(self, reviews: Sequence[ReviewChange]) -> None:
        for change in reviews:
            name = self._camera_name(change.after.camera_id)
            self._send(self._topics.reviews, review_message(change, name))

    def _publish(self) -> None:
        if not self.connected:
            return
        if self._fresh.is_set():
            self._fresh.clear()
            self._sent = {}  # the broker may have lost every retained message
        found = self._drain_found()
        if found:
            self._sent = with_found(self._sent, found)
        self._end_sweep()
        desired = retained_state(
            camera_states(self._rows, self._occupancy), self.config.discovery, self._snapshots
        )
        for topic, payload in changes(self._sent, desired):
            self._client.publish(topic, payload, qos=1, retain=True)
            self._sent[topic] = payload
            self.published += 1
        self._sent = {t: v for t, v in self._sent.items() if v}
        while self._pending and self.connected:
            topic, payload = self._pending.popleft()
            self._client.publish(topic, payload, qos=1)
            self.published += 1

    # --- helpers -------------------------------------------------------------------

    def _drain_found(self) -> list[str]:
        found = []
        while not self._found.empty():
            found.append(self._found.get_nowait())
        return found

    def _end_sweep(self) -> None:
        """Stop looking for stale retained topics once the broker has sent them (it
        sends the retained ones at once on subscribing); the filters also match every
        message the bridge itself publishes."""
        if self._sweep_until and time.monotonic() >= self._sweep_until:
            self._client.unsubscribe(sweep_filters(self.config.discovery))
            self._sweep_until = 0.0

    def _send(self, topic: str, payload: bytes) -> None:
        self._pending.append((topic, payload))

    def _camera_name(self, camera_id: UUID) -> str:
        return camera_topics(self._rows).get(camera_id, str(camera_id))
