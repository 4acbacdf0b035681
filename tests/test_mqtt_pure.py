"""MQTT's pure parts: topic names, occupancy, live review items, the JSON messages,
Home Assistant discovery (against its documented schema), the retained state and the
switch commands."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from hypothesis import given
from hypothesis import strategies as st

from events.catalogue import (
    BoundingBox,
    CameraUpdated,
    TrackEnded,
    TrackEvent,
    TrackStarted,
    TrackUpdated,
    Zone,
    ZoneConfig,
)
from projector.mqtt.bridge import broker_address
from projector.mqtt.commands import switched
from projector.mqtt.discovery import DiscoveredCamera, Discovery, labels_of
from projector.mqtt.messages import review_message, track_message
from projector.mqtt.occupancy import Occupancy
from projector.mqtt.retained import (
    camera_states,
    camera_topics,
    changes,
    is_ours,
    retained_state,
    with_found,
)
from projector.mqtt.topics import Switch, Topics, switch_value, topic_name
from projector.notify.reviews import LiveReviews
from projector.readmodels.cameras import CameraRow
from tests.ha_discovery_schema import problems

T0 = datetime(2026, 12, 3, 14, 32, tzinfo=UTC)
DOOR = UUID("00000000-0000-4000-8000-000000000001")


def track(
    kind: type[TrackEvent], track_id: UUID, at_s: float, label: str = "person",
    zones: tuple[str, ...] = (), camera: UUID = DOOR, required: bool = True,
    t0: datetime = T0,
) -> TrackEvent:  # fmt: skip
    return kind(
        track_id=track_id, camera_id=camera, model_id="m", label=label, start=t0,
        last_seen=t0 + timedelta(seconds=at_s), best_detection_id=uuid4(), best_at=t0,
        best_confidence=0.9, best_box=BoundingBox(x1=0.1, y1=0.2, x2=0.3, y2=0.9),
        sightings=1, zones=zones, in_required_zone=required,
    )  # fmt: skip


def row(name: str = "Front door", camera: UUID = DOOR, zones: tuple[str, ...] = ()) -> CameraRow:
    square = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0))
    config = ZoneConfig(zones=tuple(Zone(name=z, points=square) for z in zones))
    return CameraRow(
        camera_id=camera, name=name, directory=name, rtsp_url="rtsp://cam/1",
        credentials_ciphertext="secret", camera_group=None, position=0, enabled=True,
        detection_enabled=True, status="recording", last_error=None, status_changed_at=None,
        updated_at=T0, retention_days=None, retention_max_gb=None,
        zone_config=config.model_dump_json(), sub_rtsp_url="rtsp://cam/2",
    )  # fmt: skip


def test_retained_topics_of_an_earlier_run_are_cleared_unless_still_wanted() -> None:
    discovery = Discovery(Topics("ronin"), ("person",))
    gone = f"homeassistant/binary_sensor/ronin_{uuid4().hex}/person_occupancy/config"
    assert is_ours("ronin/gone/status", discovery) and is_ours(gone, discovery)
    assert not is_ours("homeassistant/light/kitchen/config", discovery)  # someone else's
    assert not is_ours("ronin/door/detect/set", discovery)  # a command, not a value
    assert not is_ours("zigbee2mqtt/lamp", discovery)
    sent = {"ronin/door/status": b"recording"}
    found = ["ronin/gone/status", gone, "ronin/door/status", "ronin/door/person"]
    desired = {"ronin/door/status": b"recording", "ronin/door/person": b"0"}
    assert sorted(changes(with_found(sent, found), desired)) == sorted([
        ("ronin/door/person", b"0"),  # wanted: published anew
        ("ronin/gone/status", b""),
        (gone, b""),
    ])  # fmt: skip


@given(st.text(max_size=40))
def test_a_topic_level_is_safe_whatever_the_name(name: str) -> None:
    level = topic_name(name)
    assert level and all(c.isascii() and (c.isalnum() or c in "_-") for c in level)
    assert level == level.lower() and topic_name(level) == level


@given(st.sampled_from(["ronin", "home/ronin"]), st.sampled_from(list(Switch)))
def test_a_switch_command_topic_names_the_camera_and_the_switch(
    prefix: str, switch: Switch
) -> None:
    topics = Topics(prefix)
    assert topics.command(topics.switch_set("door", switch)) == ("door", switch)
    assert topics.command(topics.switch_state("door", switch)) is None
    assert topics.command(f"other/door/{switch}/set") is None
    assert switch_value(b"on") is True and switch_value(b" OFF\n") is False
    assert switch_value(b"maybe") is None


def test_occupancy_counts_tracks_in_view_per_class_and_zone() -> None:
    occupancy, a, b = Occupancy(stale_s=60), uuid4(), uuid4()
    occupancy.apply(track(TrackStarted, a, 0))
    occupancy.apply(track(TrackStarted, b, 1, label="car"))
    occupancy.apply(track(TrackUpdated, a, 5, zones=("porch",)))
    assert occupancy.counts(DOOR) == {"person": 1, "car": 1}
    assert occupancy.zone_counts(DOOR) == {("porch", "person"): 1}
    occupancy.apply(track(TrackEnded, a, 9, zones=("porch",)))
    assert occupancy.counts(DOOR) == {"car": 1} and not occupancy.zone_counts(DOOR)
    assert occupancy.expire(T0 + timedelta(seconds=62)) and not occupancy.counts(DOOR)


def test_a_live_review_item_opens_grows_and_ends_after_its_tracks() -> None:
    reviews, a, b = LiveReviews({"person"}, merge_s=10), uuid4(), uuid4()
    [new] = reviews.apply(track(TrackStarted, a, 0, label="car"))
    assert new.kind == "new" and new.after.item_id == a and new.after.severity == "detection"
    assert reviews.apply(track(TrackUpdated, a, 3, label="car")) == []  # nothing to show
    [grown] = reviews.apply(track(TrackStarted, b, 4, zones=("porch",)))
    assert grown.after.severity == "alert" and grown.after.labels == ("car", "person")
    assert new.after.alert_track is None and grown.after.alert_track == b  # the person's
    assert grown.after.zones == ("porch",) and grown.after.tracks == (a, b)
    reviews.apply(track(TrackEnded, a, 6, label="car"))
    reviews.apply(track(TrackEnded, b, 8))
    assert reviews.expire(T0 + timedelta(seconds=17)) == []  # a next track may still join
    [end] = reviews.expire(T0 + timedelta(seconds=19))
    assert end.kind == "end" and end.after.end == T0 + timedelta(seconds=8)
    assert reviews.apply(track(TrackEnded, uuid4(), 20)) == []  # begun before: no item


def test_a_track_outside_the_required_zones_is_a_detection() -> None:
    [new] = LiveReviews({"person"}).apply(track(TrackStarted, uuid4(), 0, required=False))
    assert new.after.severity == "detection"


def test_messages_are_shaped_like_frigates() -> None:
    a = uuid4()
    started = track(TrackStarted, a, 0)
    ended = track(TrackEnded, a, 7, zones=("porch",))
    message = json.loads(track_message(ended, started, "front_door"))
    assert message["type"] == "end" and message["before"]["end_time"] is None
    after = message["after"]
    assert after["id"] == str(a) and after["camera"] == "front_door" and after["label"] == "person"
    assert after["end_time"] == (T0 + timedelta(seconds=7)).timestamp()
    assert after["entered_zones"] == ["porch"] and after["box"] == [0.1, 0.2, 0.3, 0.9]
    [change] = LiveReviews(set()).apply(started)
    review = json.loads(review_message(change, "front_door"))
    assert review["type"] == "new" and review["before"] is None
    assert review["after"]["data"] == {"objects": ["person"], "zones": [], "detections": [str(a)]}


def test_every_discovery_config_matches_home_assistants_schema() -> None:
    discovery = Discovery(Topics("ronin"), labels_of("person, car,traffic light"), version="1")
    configs = discovery.configs(DiscoveredCamera(DOOR, "Front door", "front_door", ("Porch step",)))
    for config in configs:
        assert problems(config.topic, config.payload) == [], config
    unique = [c.payload["unique_id"] for c in configs]
    assert len(unique) == len(set(unique))
    kinds = sorted({c.topic.split("/")[1] for c in configs})
    assert kinds == ["binary_sensor", "image", "sensor", "switch"]
    by_id = {str(c.payload["unique_id"]).split(DOOR.hex + "_")[1]: c.payload for c in configs}
    assert by_id["zone_porch_step_person_occupancy"]["state_topic"] == (
        "ronin/front_door/zones/porch_step/person/occupied"
    )
    assert by_id["detect"]["command_topic"] == "ronin/front_door/detect/set"
    assert (
        by_id["traffic_light_snapshot"]["image_topic"] == "ronin/front_door/traffic_light/snapshot"
    )
    assert all(problems(c.topic, c.payload) == [] for c in discovery.removals(
        DiscoveredCamera(DOOR, "x", "x")) if c.payload)  # fmt: skip


def test_the_retained_state_says_everything_and_a_removed_camera_is_cleared() -> None:
    discovery = Discovery(Topics("ronin"), ("person",))
    occupancy, a = Occupancy(), uuid4()
    occupancy.apply(track(TrackStarted, a, 0, zones=("porch",)))
    snapshots = {(DOOR, "person"): b"\xff\xd8jpeg"}
    state = retained_state(camera_states([row(zones=("porch",))], occupancy), discovery, snapshots)
    assert (
        state["ronin/available"] == b"online" and state["ronin/front_door/status"] == b"recording"
    )
    assert (
        state["ronin/front_door/person"] == b"1"
        and state["ronin/front_door/person/occupied"] == b"ON"
    )
    assert state["ronin/front_door/zones/porch/person/occupied"] == b"ON"
    assert state["ronin/front_door/detect/state"] == b"ON"
    assert state["ronin/front_door/person/snapshot"] == b"\xff\xd8jpeg"
    assert not [v for v in state.values() if b"secret" in v or b"rtsp://" in v]
    assert changes(state, state) == []
    gone = retained_state([], discovery, {})
    cleared = dict(changes(state, gone))
    assert set(cleared) == set(state) - {"ronin/available"} and set(cleared.values()) == {b""}


@given(st.lists(st.sampled_from(["Door", "door", "DOOR!", "Yard", "yard"]), max_size=6))
def test_camera_topics_never_clash(names: list[str]) -> None:
    rows = [row(name, uuid4()) for name in names]
    topics = camera_topics(rows)
    assert len(set(topics.values())) == len(rows)


def test_a_switch_command_is_the_whole_configuration_with_one_change() -> None:
    camera = row()
    off = switched(camera, Switch.DETECT, False)
    assert isinstance(off, CameraUpdated) and off.detection_enabled is False
    assert (
        off.enabled
        and off.sub_rtsp_url == "rtsp://cam/2"
        and off.credentials_ciphertext == "secret"
    )
    assert switched(camera, Switch.DETECT, True) is None  # already on: nothing to do
    stopped = switched(camera, Switch.RECORDINGS, False)
    assert stopped is not None and stopped.enabled is False and stopped.detection_enabled


def test_a_broker_url_gives_the_address_and_credentials() -> None:
    address = broker_address("mqtt://ronin:p%40ss@127.0.0.1:18830")
    assert (address.host, address.port, address.username, address.password) == (
        "127.0.0.1", 18830, "ronin", "p@ss")  # fmt: skip
    assert broker_address("mqtts://broker.lan").port == 8883
