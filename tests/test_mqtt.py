"""MQTT against a real mosquitto: Home Assistant discovery, occupancy from live tracks,
the detection switch, a broker that restarts; and `ronin up` starting its own broker."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from detector.worker import LiveTapConfig, LiveTaps, PostgresLiveCameras
from events.archive import EventArchive, EventLog
from events.catalogue import (
    CameraAdded,
    CameraUpdated,
    CameraZonesChanged,
    Topic,
    TrackEnded,
    TrackStarted,
    TrackUpdated,
    Zone,
    ZoneConfig,
)
from events.codec import decode
from events.store import ZERO, RedisEventStore
from infra.embedded import EmbeddedMosquitto, start_service, stop_process, wait_until
from projector.mqtt.bridge import (
    BridgeConfig,
    MqttBridge,
    PostgresCameraRows,
    broker_address,
)
from projector.mqtt.discovery import Discovery
from projector.mqtt.topics import Topics
from projector.postgres import PostgresReadModels
from projector.readmodels import cameras_projection
from projector.runner import ProjectionRunner
from tests.ha_discovery_schema import problems
from tests.ingest_support import free_port
from tests.stack_support import running_stack
from tests.test_mqtt_pure import track


@dataclass
class Listener:
    """A client that keeps the last value of every topic (``#``) and every message."""

    url: str
    retained: dict[str, bytes] = field(default_factory=dict)
    messages: list[tuple[str, bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        address = broker_address(self.url)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"listener-{uuid4()}")
        self.client.username_pw_set(address.username, address.password)
        self.client.reconnect_delay_set(1, 2)
        self.client.on_connect = lambda c, *_: c.subscribe("#", qos=1)
        self.client.on_message = self._received
        self.client.connect_async(address.host, address.port)
        self.client.loop_start()

    def _received(self, _c: mqtt.Client, _d: object, message: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.retained[message.topic] = bytes(message.payload)
            self.messages.append((message.topic, bytes(message.payload)))

    def value(self, topic: str) -> bytes | None:
        with self.lock:
            return self.retained.get(topic)

    def wait(self, topic: str, value: bytes, timeout_s: float = 15) -> None:
        wait_until(lambda: self.value(topic) == value, timeout_s, f"{topic} = {value!r}")

    def publish(self, topic: str, payload: str) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def start_broker(data: Path, port: int) -> tuple[EmbeddedMosquitto, object]:
    broker = EmbeddedMosquitto(data, port)
    proc = start_service(broker.prepare(), data / "logs")
    wait_until(broker.ready, 15, "mosquitto")
    return broker, proc


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[EmbeddedMosquitto]:
    broker, proc = start_broker(tmp_path / "broker", free_port())
    yield broker
    stop_process(proc, signal.SIGTERM)  # type: ignore[arg-type]


def project(store: RedisEventStore, database_url: str) -> None:
    with psycopg.connect(database_url) as conn, psycopg.connect(database_url) as archive:
        ProjectionRunner(cameras_projection(), store, EventLog(store, EventArchive(archive)),
                         PostgresReadModels(conn), "t").step()  # fmt: skip


@contextlib.contextmanager
def running_bridge(
    url: str, store: RedisEventStore, database_url: str, root: Path, commands: bool = True
) -> Iterator[MqttBridge]:
    discovery = Discovery(Topics("ronin"), ("person", "car"))
    conn = psycopg.connect(database_url, autocommit=True)
    config = BridgeConfig(discovery, frozenset({"person"}), client_id=f"ronin-{uuid4()}",
                          cameras_every_s=0.2, commands=commands)  # fmt: skip
    bridge = MqttBridge(broker_address(url), store, PostgresCameraRows(conn), root, "test", config)
    stop = threading.Event()
    thread = threading.Thread(target=bridge.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield bridge
    finally:
        stop.set()
        thread.join(10)
        conn.close()


def added_camera(store: RedisEventStore, database_url: str) -> CameraAdded:
    camera = CameraAdded(camera_id=uuid4(), name="Front door", directory="Front door",
                         rtsp_url="rtsp://127.0.0.1:1/x")  # fmt: skip
    square = ((0.0, 0.5), (1.0, 0.5), (1.0, 1.0), (0.0, 1.0))
    zones = ZoneConfig(zones=(Zone(name="porch", points=square),))
    store.append(camera)
    store.append(CameraZonesChanged(camera_id=camera.camera_id, config=zones))
    project(store, database_url)
    return camera


def camera_events(store: RedisEventStore) -> list[object]:
    return [decode(m.fields) for m in store.read_range(Topic.CAMERAS, ZERO, 100)]


def until(what: str, check: Callable[[], bool], timeout_s: float = 15) -> None:
    wait_until(check, timeout_s, what)


def test_home_assistant_sees_the_camera_its_occupancy_and_switches_detection_off(
    broker: EmbeddedMosquitto, store: RedisEventStore, database_url: str, tmp_path: Path
) -> None:
    camera = added_camera(store, database_url)
    listener = Listener(broker.url)
    try:
        with running_bridge(broker.url, store, database_url, tmp_path) as bridge:
            listener.wait("ronin/available", b"online")

            def discovered() -> dict[str, object]:
                with listener.lock:  # the configs follow availability by a few ms
                    return {t: json.loads(v) for t, v in listener.retained.items()
                            if t.startswith("homeassistant/") and v}  # fmt: skip

            until("the discovery configs", lambda: len(discovered()) >= 13)
            configs = discovered()
            assert len(configs) == 2 * 2 + 2 * 2 + 2 + 2 + 1  # occupancy and counts,
            for topic, payload in configs.items():  # in view and in the zone; snapshots;
                assert problems(topic, payload) == []  # two switches; the status
            occupied = "ronin/front_door/zones/porch/person/occupied"
            listener.wait(occupied, b"OFF")
            # a person walks in, enters the porch zone, and leaves
            person, now = uuid4(), datetime.now(UTC)
            store.append(track(TrackStarted, person, 0, camera=camera.camera_id, t0=now))
            listener.wait("ronin/front_door/person/occupied", b"ON")
            assert listener.value(occupied) == b"OFF"
            store.append(
                track(TrackUpdated, person, 2, zones=("porch",), camera=camera.camera_id, t0=now)
            )
            listener.wait(occupied, b"ON")
            assert listener.value("ronin/front_door/zones/porch/person") == b"1"
            store.append(
                track(TrackEnded, person, 4, zones=("porch",), camera=camera.camera_id, t0=now)
            )
            listener.wait(occupied, b"OFF")
            listener.wait("ronin/front_door/person", b"0")
            kinds = [json.loads(v)["type"] for t, v in listener.messages if t == "ronin/events"]
            assert kinds == ["new", "update", "end"]
            reviews = [json.loads(v) for t, v in listener.messages if t == "ronin/reviews"]
            assert [r["type"] for r in reviews] == ["new", "update"]  # it entered the porch
            assert reviews[1]["after"]["id"] == str(person)
            assert reviews[1]["after"]["data"]["zones"] == ["porch"]

            taps = LiveTaps(PostgresLiveCameras(psycopg.connect(database_url, autocommit=True)),
                            LiveTapConfig(tmp_path, tmp_path, fps=1.0, refresh_s=0))  # fmt: skip
            taps.poll()
            assert camera.camera_id in taps.taps  # live detection watches it
            listener.publish("ronin/front_door/detect/set", "OFF")
            until("CameraUpdated", lambda: any(
                isinstance(e, CameraUpdated) and not e.detection_enabled
                for e in camera_events(store)))  # fmt: skip
            project(store, database_url)
            listener.wait("ronin/front_door/detect/state", b"OFF")
            taps.poll()
            assert camera.camera_id not in taps.taps  # and now it does not
            assert bridge.connected
        listener.wait("ronin/available", b"offline")
    finally:
        listener.close()


def test_retained_commands_are_ignored_and_commands_can_be_off(
    broker: EmbeddedMosquitto, store: RedisEventStore, database_url: str, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """Anyone who may publish could leave a retained "recordings OFF" that the bridge
    would obey again at every reconnect, undoing an admin's re-enable."""
    caplog.set_level(logging.INFO, logger="projector.mqtt.bridge")
    camera = added_camera(store, database_url)
    listener = Listener(broker.url)
    try:
        until("the listener connected", listener.client.is_connected)
        listener.client.publish("ronin/front_door/recordings/set", "OFF", qos=1,
                                retain=True).wait_for_publish(5)  # fmt: skip
        with running_bridge(broker.url, store, database_url, tmp_path):
            listener.wait("ronin/available", b"online")
            until("the retained command seen", lambda: "ignored a retained" in caplog.text)
            listener.publish("ronin/front_door/detect/set", "OFF")  # a plain one: obeyed
            until("CameraUpdated", lambda: any(isinstance(e, CameraUpdated)
                                               for e in camera_events(store)))  # fmt: skip
        updates = [e for e in camera_events(store) if isinstance(e, CameraUpdated)]
        assert len(updates) == 1 and updates[0].enabled and not updates[0].detection_enabled
        assert "applied an MQTT command: ronin/front_door/detect/set OFF" in caplog.text
        with running_bridge(broker.url, store, database_url, tmp_path, commands=False):
            listener.wait("ronin/available", b"online")
            listener.publish("ronin/front_door/detect/set", "ON")
            time.sleep(1.0)
        assert len([e for e in camera_events(store) if isinstance(e, CameraUpdated)]) == 1
        assert camera.camera_id
    finally:
        listener.client.publish("ronin/front_door/recordings/set", "", retain=True)
        listener.close()


def test_a_camera_removed_while_the_bridge_was_down_is_cleared_from_the_broker(
    broker: EmbeddedMosquitto, store: RedisEventStore, database_url: str, tmp_path: Path
) -> None:
    added_camera(store, database_url)
    ghost = f"homeassistant/switch/ronin_{uuid4().hex}/detect/config"
    listener = Listener(broker.url)
    try:
        until("the listener connects", listener.client.is_connected)
        for topic in (ghost, "ronin/old_camera/status", "homeassistant/light/kitchen/config"):
            listener.client.publish(topic, "{}", qos=1, retain=True).wait_for_publish(5)
        listener.wait("ronin/old_camera/status", b"{}")
        with running_bridge(broker.url, store, database_url, tmp_path):
            listener.wait("ronin/available", b"online")
            listener.wait(ghost, b"")  # cleared: Home Assistant removes the entity
            listener.wait("ronin/old_camera/status", b"")
        fresh = Listener(broker.url)  # what a client connecting now is given
        try:
            fresh.wait("homeassistant/light/kitchen/config", b"{}")  # another integration's
            until("the camera's values", lambda: bool(fresh.value("ronin/front_door/status")))
            assert fresh.value(ghost) is None and fresh.value("ronin/old_camera/status") is None
        finally:
            fresh.close()
    finally:
        listener.close()


def test_after_a_broker_restart_availability_and_discovery_are_published_again(
    store: RedisEventStore, database_url: str, tmp_path: Path
) -> None:
    added_camera(store, database_url)
    port = free_port()
    broker, proc = start_broker(tmp_path / "first", port)
    listener = Listener(broker.url)
    config = "homeassistant/switch/ronin_{}/detect/config"
    try:
        with running_bridge(broker.url, store, database_url, tmp_path) as bridge:
            listener.wait("ronin/available", b"online")
            os.kill(proc.pid, signal.SIGKILL)  # type: ignore[attr-defined]
            until("the bridge to notice", lambda: not bridge.connected)
            with listener.lock:
                listener.retained.clear()
            # a new broker on the same port that has never seen Ronin: nothing retained
            (tmp_path / "second").mkdir()
            (tmp_path / "second" / "mqtt.password").write_text(
                (tmp_path / "first" / "mqtt.password").read_text()
            )
            _, proc = start_broker(tmp_path / "second", port)
            listener.wait("ronin/available", b"online", timeout_s=30)
            until("discovery again", lambda: any(
                t.startswith(config.split("{")[0]) and t.endswith("/detect/config")
                for t in list(listener.retained)))  # fmt: skip
            assert bridge.connected
    finally:
        listener.close()
        stop_process(proc, signal.SIGTERM)  # type: ignore[arg-type]


@pytest.mark.slow
def test_ronin_up_runs_its_own_broker_and_restarts_it() -> None:
    """MQTT_ENABLED without MQTT_URL: `ronin up` starts mosquitto (password generated) and
    the bridge; a kill -9 of the broker is a restart, and the bridge publishes again."""
    port = free_port()
    with running_stack("ronin-mqtt-", MQTT_ENABLED="true", MQTT_PORT=str(port)) as up:
        password = (up.data / "mqtt.password").read_text().strip()
        listener = Listener(f"mqtt://ronin:{password}@127.0.0.1:{port}")
        try:
            listener.wait("ronin/available", b"online", timeout_s=30)
            camera_id = up.add_camera("Gate", "rtsp://127.0.0.1:1/gate")
            node = f"homeassistant/switch/ronin_{camera_id.hex}"
            until("discovery of the new camera",
                  lambda: bool(listener.value(f"{node}/recordings/config")), 30)  # fmt: skip
            [first] = up.pids("mosquitto")
            os.kill(first, signal.SIGKILL)
            with listener.lock:
                listener.retained.clear()
            until("a new broker", lambda: bool(up.pids("mosquitto"))
                  and up.pids("mosquitto") != [first], 30)  # fmt: skip
            listener.wait("ronin/available", b"online", timeout_s=30)
            until("discovery again",
                  lambda: bool(listener.value(f"{node}/recordings/config")), 30)  # fmt: skip
            anonymous = mqtt.Client(CallbackAPIVersion.VERSION2)
            refused = anonymous.connect("127.0.0.1", port)  # no password: refused
            anonymous.loop(2)
            assert refused == 0 and not anonymous.is_connected()
        finally:
            listener.close()
