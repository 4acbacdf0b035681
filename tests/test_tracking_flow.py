"""Tracking through the real pipeline: clips made from real photographs, the real model,
the historical worker on real Redis, the tracks read model on real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import numpy as np
import psycopg
import pytest

from detector.alerts import AlertsConfig, AlertWorker
from detector.analysis import AnalysisConfig, analyse_segment
from detector.debounce import DebouncePolicy
from detector.historical import HistoricalConfig, HistoricalDetector
from detector.live import LiveConfig, LiveDetector
from detector.model import DetectorConfig, OnnxDetector
from detector.track_carry import TrackCarry
from detector.tracking import Sighting, TrackerState, step
from events.archive import EventArchive, EventLog
from events.catalogue import (
    AlertRaised,
    BoundingBox,
    FrameSampled,
    Topic,
    TrackEnded,
    TrackEvent,
    Zone,
    ZoneConfig,
)
from events.codec import decode
from events.store import ZERO, RedisEventStore
from projector.postgres import PostgresReadModels
from projector.readmodels import detections_projection, motion
from projector.readmodels.tracks import ReviewFilter, TrackFilter, review_items, search
from projector.runner import ProjectionRunner
from tests.detection_support import (
    Scene,
    empty_scene,
    encode_clip,
    render,
    require_model,
    scene_clip,
    segment_for,
)
from tests.factories import T0


@pytest.fixture(scope="module")
def detector() -> OnnxDetector:
    return OnnxDetector(require_model(), DetectorConfig(confidence_threshold=0.5))


def analysed(
    store: RedisEventStore, event_log: EventLog, detector: OnnxDetector, root: Path, n: int,
    zones: ZoneConfig | None = None,
) -> None:  # fmt: skip
    worker = HistoricalDetector(store, event_log, detector, root, "w1", HistoricalConfig(),
                                camera_zones=lambda camera_id: zones or ZoneConfig())  # fmt: skip
    for _ in range(n):
        assert worker.step() == 1


def projected(store: RedisEventStore, event_log: EventLog, database_url: str) -> None:
    sink = PostgresReadModels(psycopg.connect(database_url))
    runner = ProjectionRunner(detections_projection(), store, event_log, sink, "test")
    while runner.step():
        pass
    runner.release()


def test_a_person_standing_still_for_20_s_is_one_track_of_20_s(
    tmp_path: Path,
    store: RedisEventStore,
    event_log: EventLog,
    archive: EventArchive,
    database_url: str,
    detector: OnnxDetector,
) -> None:
    """The motion gate sees the person arrive and leave and nothing in between; the
    tracker's re-checks keep them tracked, and they become stationary."""
    scene_clip(tmp_path / "Door/a.mp4", [Scene("astronaut", 5.0, 25.0, 0.3, 0.1, 0.85)], 35)
    segment = segment_for(tmp_path, "Door/a.mp4", 35)
    store.append(segment)
    porch = Zone(name="porch", points=((0.3, 0.8), (0.7, 0.8), (0.7, 1.0), (0.3, 1.0)))
    lawn = Zone(name="lawn", points=((0.0, 0.0), (0.2, 0.0), (0.2, 0.2)))
    zones = ZoneConfig(zones=(porch, lawn), required_zones=("porch",))
    analysed(store, event_log, detector, tmp_path, 1, zones)
    projected(store, event_log, database_url)
    with psycopg.connect(database_url) as conn:
        [track] = search(conn, TrackFilter(camera_id=segment.camera_id), 10)
    assert track.label == "person" and track.ended and track.stationary
    assert track.start - T0 == timedelta(seconds=5)
    assert 19.0 <= track.duration_s <= 21.0, track
    assert 0.3 <= track.best_x1 <= 0.35 and track.best_confidence >= 0.5
    assert track.zones == "porch" and track.in_required_zone  # it stood on the porch
    with psycopg.connect(database_url) as conn:
        assert search(conn, TrackFilter(zone="porch"), 10)
        assert not search(conn, TrackFilter(zone="lawn"), 10)
        moved = motion.between(conn, segment.camera_id, T0, T0 + timedelta(seconds=35))
    # the motion strip shows the arrival, not the stillness (the departure uncovers a
    # background the gate still remembers, so it may not count as motion)
    spans = [((m.start_at - T0).total_seconds(), (m.end_at - T0).total_seconds()) for m in moved]
    assert spans and 4.5 <= spans[0][0] <= 5.5 and spans[0][1] <= 7.0, spans
    assert not [s for s in spans if s[1] > 7.0 and s[0] < 24.0], spans


def test_a_track_goes_on_across_a_segment_boundary(
    tmp_path: Path,
    store: RedisEventStore,
    event_log: EventLog,
    archive: EventArchive,
    database_url: str,
    detector: OnnxDetector,
) -> None:
    """Two consecutive segments of one run (sharing their boundary exactly): the person
    in view from 20 s to 40 s is one track with a piece in each segment."""
    person = Scene("astronaut", 20.0, 40.0, 0.3, 0.1, 0.85)
    scene_clip(tmp_path / "Door/a.mp4", [person], 30)
    scene_clip(tmp_path / "Door/b.mp4", [replace(person, start_s=0.0, end_s=10.0)], 30)
    first = segment_for(tmp_path, "Door/a.mp4", 30)
    second = segment_for(tmp_path, "Door/b.mp4", 30, camera_id=first.camera_id)
    second = second.model_copy(
        update={"start": first.end, "end": first.end + timedelta(seconds=30)}
    )
    store.append_many([first, second])
    analysed(store, event_log, detector, tmp_path, 2)
    projected(store, event_log, database_url)
    with psycopg.connect(database_url) as conn:
        [track] = search(conn, TrackFilter(camera_id=first.camera_id), 10)
        pieces = conn.execute("SELECT count(*) FROM detections.tracks").fetchone()
    assert track.start - T0 == timedelta(seconds=20) and track.ended
    assert 19.0 <= track.duration_s <= 21.0, track
    assert pieces == (2,)
    with psycopg.connect(database_url) as conn:  # a search by duration finds it, or not
        assert search(conn, TrackFilter(min_duration_s=15), 10)
        assert not search(conn, TrackFilter(min_duration_s=25), 10)
        assert not search(conn, TrackFilter(label="car"), 10)


def test_a_carried_state_comes_back_exactly(store: RedisEventStore, tmp_path: Path) -> None:
    box = BoundingBox(x1=0.1, y1=0.1, x2=0.3, y2=0.5)
    seen = Sighting(uuid4(), T0, "person", 0.9, box)
    state, _ = step(TrackerState(), T0, [seen], AnalysisConfig().tracking, lambda n, s: uuid4())
    (tmp_path / "a.mp4").write_bytes(b"x")
    segment = segment_for(tmp_path, "a.mp4", 10)
    carry = TrackCarry(store.client)
    carry.save(segment, "m", state)
    following = segment.model_copy(update={"segment_id": uuid4(), "start": segment.end})
    assert carry.before(following, "m", 6.0) == state
    assert carry.before(following, "other model", 6.0) == TrackerState()
    late = following.model_copy(update={"start": segment.end + timedelta(seconds=7)})
    assert carry.before(late, "m", 6.0) == TrackerState()


def test_an_object_mask_over_a_spot_leaves_no_track_there(
    tmp_path: Path,
    store: RedisEventStore,
    event_log: EventLog,
    archive: EventArchive,
    database_url: str,
    detector: OnnxDetector,
) -> None:
    """The person stands (bottom centre of the box) inside the object mask: ignored."""
    scene_clip(tmp_path / "Door/a.mp4", [Scene("astronaut", 2.0, 12.0, 0.3, 0.1, 0.85)], 20)
    segment = segment_for(tmp_path, "Door/a.mp4", 20)
    store.append(segment)
    spot = ((0.2, 0.7), (0.8, 0.7), (0.8, 1.0), (0.2, 1.0))
    analysed(store, event_log, detector, tmp_path, 1, ZoneConfig(object_masks=(spot,)))
    projected(store, event_log, database_url)
    with psycopg.connect(database_url) as conn:
        assert search(conn, TrackFilter(camera_id=segment.camera_id), 10) == []
        people = conn.execute("SELECT count(*) FROM detections.detections").fetchone()
    assert people == (0,)


def test_a_motion_mask_over_a_flickering_corner_causes_no_inference(
    tmp_path: Path, detector: OnnxDetector
) -> None:
    """A corner that never keeps still (a ticker, the camera's clock): without a mask
    most sampled frames go to the model; masked, only the first one does."""

    def flickering() -> Iterator[np.ndarray]:
        for n in range(200):  # 20 s at 10 fps; a bright bar runs through the corner
            frame = empty_scene(640, 360)
            x = 480 + (n * 37) % 110
            frame[10:70, x : x + 40] = 255
            yield frame

    encode_clip(tmp_path / "Door/a.mp4", flickering(), 640, 360, 10)
    segment = segment_for(tmp_path, "Door/a.mp4", 20)
    clock = ((0.7, 0.0), (1.0, 0.0), (1.0, 0.25), (0.7, 0.25))
    bare = analyse_segment(segment, tmp_path, detector, AnalysisConfig())
    masked = analyse_segment(
        segment, tmp_path, detector, AnalysisConfig(), zones=ZoneConfig(motion_masks=(clock,))
    )
    assert bare.frames_sampled == masked.frames_sampled >= 38
    assert bare.frames_analysed >= bare.frames_sampled * 3 // 4  # the flicker opens the gate
    assert masked.frames_analysed == 1 and masked.events == []  # the first frame only


def live_run(
    store: RedisEventStore, detector: OnnxDetector, root: Path, scenes: list[Scene],
    times: list[float],
) -> tuple[list[AlertRaised], dict[UUID, list[TrackEvent]]]:  # fmt: skip
    """Stills rendered from real photographs at ``times`` (seconds), sampled live as the
    HLS tap would, through the live detector and the alerts worker: the alerts raised
    and each track's reports."""
    import cv2

    camera = uuid4()
    live = LiveDetector(store, detector, root, "live", LiveConfig(max_age_s=3600))
    alerts = AlertWorker(store, root, "alerts", AlertsConfig(DebouncePolicy(30)))
    live.step()
    alerts.step()  # both groups start at their stream's end
    base = datetime.now(UTC) - timedelta(seconds=max(times) + 30)
    (root / ".frames").mkdir(parents=True, exist_ok=True)
    for t in times:
        relative = f".frames/{t:08.2f}.jpg"
        cv2.imwrite(str(root / relative), render(scenes, t, 640, 360))
        store.append(FrameSampled(camera_id=camera, source_path=relative, offset_s=0,
                                  captured_at=base + timedelta(seconds=t),
                                  frame_number=int(t * 10)))  # fmt: skip
    while live.step():
        pass
    live.step()  # nothing new: what has not been seen for a while ends
    while alerts.step():
        pass
    raised = [e for m in store.read_range(Topic.ALERTS, ZERO, 1000)
              if isinstance(e := decode(m.fields), AlertRaised)]  # fmt: skip
    reports: dict[UUID, list[TrackEvent]] = {}
    for m in store.read_range(Topic.DETECTIONS, ZERO, 100_000):
        if isinstance(e := decode(m.fields), TrackEvent) and e.camera_id == camera:
            reports.setdefault(e.track_id, []).append(e)
    return raised, reports


def test_a_person_who_leaves_and_returns_after_a_minute_is_two_tracks_and_two_alerts(
    tmp_path: Path, store: RedisEventStore, detector: OnnxDetector
) -> None:
    scenes = [Scene("astronaut", 0.0, 20.0, 0.3, 0.1, 0.85),
              Scene("astronaut", 80.0, 90.0, 0.4, 0.1, 0.85)]  # fmt: skip
    times = [*range(0, 20), *range(20, 80, 5), *range(80, 90)]  # the empty scene now and then
    raised, reports = live_run(store, detector, tmp_path, scenes, [float(t) for t in times])
    assert [a.label for a in raised] == ["person", "person"]
    assert raised[0].track_id != raised[1].track_id
    assert len(reports) == 2 and all(isinstance(r[-1], TrackEnded) for r in reports.values())


def test_a_vehicle_parked_for_five_minutes_alerts_once_and_its_track_is_stationary(
    tmp_path: Path, store: RedisEventStore, detector: OnnxDetector
) -> None:
    """The live tap passes a still every second while something is tracked: 300 looks
    at a parked motorcycle with a 30-s cooldown are one alert, not ten."""
    scenes = [Scene("motorcycle_left", 0.0, 400.0, 0.2, 0.2, 0.6)]
    raised, reports = live_run(store, detector, tmp_path, scenes, [float(t) for t in range(300)])
    assert [a.label for a in raised] == ["motorcycle"]
    [track] = reports.values()
    assert track[-1].stationary and (track[-1].last_seen - track[0].start).total_seconds() >= 295


def test_two_people_at_once_are_two_tracks_in_one_review_item(
    tmp_path: Path,
    store: RedisEventStore,
    event_log: EventLog,
    database_url: str,
    detector: OnnxDetector,
) -> None:
    scenes = [Scene("astronaut", 5.0, 15.0, 0.02, 0.1, 0.85),
              Scene("astronaut", 5.0, 15.0, 0.55, 0.1, 0.85)]  # fmt: skip
    scene_clip(tmp_path / "Door/a.mp4", scenes, 20)
    segment = segment_for(tmp_path, "Door/a.mp4", 20)
    store.append(segment)
    analysed(store, event_log, detector, tmp_path, 1)
    projected(store, event_log, database_url)
    with psycopg.connect(database_url) as conn:
        found = search(conn, TrackFilter(camera_id=segment.camera_id), 10)
        [item] = review_items(conn, ReviewFilter(camera_id=segment.camera_id), {"person"}, 10)
    assert [t.label for t in found] == ["person", "person"]
    assert sorted(round(t.best_x1, 1) for t in found) == [0.0, 0.6]
    assert item.tracks == 2 and item.alert
