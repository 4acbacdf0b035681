"""Live tracks and the alerts they raise, on real Redis: one alert per tracked object,
a restarted detector that goes on with the same tracks, tracks ended when frames stop."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID, uuid4

from detector.alerts import AlertsConfig, AlertWorker
from detector.debounce import DebouncePolicy
from detector.live_tracking import LiveTracks
from events.catalogue import (
    AlertRaised,
    BoundingBox,
    ObjectDetected,
    Topic,
    TrackEnded,
    Zone,
    ZoneConfig,
)
from events.codec import decode
from events.store import ZERO, RedisEventStore
from tests.factories import T0

CAMERA = UUID(int=5)


def seen(at: datetime, label: str, x: float) -> ObjectDetected:
    return ObjectDetected(
        detection_id=uuid4(), camera_id=CAMERA, detected_at=at, label=label, class_id=2,
        confidence=0.8, box=BoundingBox(x1=x, y1=0.4, x2=x + 0.2, y2=0.7), frame_number=1,
        model_id="m",
    )  # fmt: skip


def alerts_for(
    store: RedisEventStore, frames: list[tuple[float, list[ObjectDetected]]], tmp_path
) -> list[AlertRaised]:  # type: ignore[no-untyped-def]
    worker = AlertWorker(store, tmp_path, "alerts", AlertsConfig(DebouncePolicy(30)))
    worker.step()  # the group starts at the stream's end
    tracks = LiveTracks(store.client, "m")
    for at_s, found in frames:
        at = T0 + timedelta(seconds=at_s)
        store.append_many([*found, *tracks.frame(CAMERA, at, found)])
    while worker.step():
        pass
    return [
        e for m in store.read_range(Topic.ALERTS, ZERO, 1000)
        if isinstance(e := decode(m.fields), AlertRaised)
    ]  # fmt: skip


def test_a_car_parked_for_five_minutes_alerts_once_not_ten_times(
    store: RedisEventStore, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    frames = [(t, [seen(T0 + timedelta(seconds=t), "car", 0.5)]) for t in range(0, 300)]
    [alert] = alerts_for(store, frames, tmp_path)
    assert alert.label == "car" and alert.track_id is not None
    assert alert.snapshot_path is None  # no still for these synthetic detections


def test_a_person_who_leaves_and_comes_back_after_a_minute_alerts_twice(
    store: RedisEventStore, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    visit = list(range(0, 20))
    frames = [(t, [seen(T0 + timedelta(seconds=t), "person", 0.2 + 0.01 * t)]) for t in visit]
    frames += [(t, []) for t in range(20, 80, 5)]  # the empty scene, looked at now and then
    frames += [(t, [seen(T0 + timedelta(seconds=t), "person", 0.2)]) for t in range(80, 90)]
    first, second = alerts_for(store, frames, tmp_path)
    assert first.track_id != second.track_id
    assert (second.detected_at - first.detected_at).total_seconds() == 80


def test_a_restarted_detector_goes_on_with_the_same_tracks(store: RedisEventStore) -> None:
    before = LiveTracks(store.client, "m")
    [started] = before.frame(CAMERA, T0, [seen(T0, "person", 0.3)])
    before.save()
    after = LiveTracks(store.client, "m")  # a new process: the state comes from Redis
    assert after.watching(CAMERA)
    later = T0 + timedelta(seconds=2)
    assert after.frame(CAMERA, later, [seen(later, "person", 0.31)]) == []
    [ended] = after.expire(T0 + timedelta(seconds=30))  # no frame came: it ended by time
    assert isinstance(ended, TrackEnded) and ended.track_id == started.track_id
    assert ended.last_seen == T0 + timedelta(seconds=2) and not after.watching(CAMERA)


def test_an_object_outside_every_required_zone_does_not_alert_until_it_enters_one(
    store: RedisEventStore, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    door = Zone(name="door", points=((0.5, 0.0), (1.0, 0.0), (1.0, 1.0), (0.5, 1.0)), inertia=2)
    zones = ZoneConfig(zones=(door,), required_zones=("door",))
    worker = AlertWorker(store, tmp_path, "alerts", AlertsConfig(DebouncePolicy(30)))
    worker.step()
    tracks = LiveTracks(store.client, "m")

    def visit(start_s: int, xs: list[float]) -> None:
        for i, x in enumerate(xs):
            at = T0 + timedelta(seconds=start_s + i)
            found = [seen(at, "person", x)]
            store.append_many([*found, *tracks.frame(CAMERA, at, found, zones)])
        while worker.step():
            pass

    def raised() -> list[AlertRaised]:
        return [
            e for m in store.read_range(Topic.ALERTS, ZERO, 1000)
            if isinstance(e := decode(m.fields), AlertRaised)
        ]  # fmt: skip

    visit(0, [0.1, 0.12, 0.14, 0.16, 0.18])  # on the street: its foot is left of the door
    assert raised() == []
    visit(5, [0.26, 0.34, 0.42, 0.5])  # walks up to the door (foot at x + 0.1)
    [alert] = raised()  # one person, one track: alerted once it entered the door zone
    assert alert.label == "person" and alert.track_id is not None
