"""The ingest worker with real simulated cameras, ffmpeg and Redis: several cameras at
once, clear errors, an RTSP outage, takeover when a worker dies, crash recovery."""

from __future__ import annotations

import dataclasses
import itertools
import os
import shutil
import signal
import subprocess
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from uuid import UUID, uuid4

import pytest
import redis

from events.catalogue import (
    CameraConnected,
    CameraDisconnected,
    Event,
    RecordingStarted,
    RecordingStopped,
    SegmentClosed,
    Topic,
)
from events.errors import StoreUnavailable
from events.store import RedisEventStore
from infra.embedded import EmbeddedRedis, start_service, stop_process, wait_until
from ingest.live.ring import STREAMS_DIR, LiveStreamKind, newest, ring_dir, running
from ingest.probe import probe
from ingest.recorder import CameraSource, RecorderSettings
from ingest.segment_store import CameraFolder, SegmentStore
from ingest.simcam.launcher import SimCamera, start_sim_cameras
from ingest.simcam.timecode import first_frame_time
from ingest.worker import RECONNECTS_KEY, IngestWorker
from tests.ingest_support import free_port


@dataclass
class ListCatalog:
    cameras: list[CameraSource] = field(default_factory=list)

    def enabled(self) -> list[CameraSource]:
        return list(self.cameras)

    def changed(self) -> bool:
        return True  # read at every step


@dataclass
class AnnouncingCatalog(ListCatalog):
    """Says whether the list changed the way the cameras read model announces it."""

    announced: bool = True
    reads: int = 0

    def enabled(self) -> list[CameraSource]:
        self.reads += 1
        return super().enabled()

    def changed(self) -> bool:
        told, self.announced = self.announced, False
        return told


def by_camera(events: list[Event]) -> dict[UUID, list[Event]]:
    out: dict[UUID, list[Event]] = defaultdict(list)
    for e in events:
        out[e.camera_id].append(e)  # type: ignore[attr-defined]
    return out


def make_worker(
    name: str,
    root: Path,
    catalog: ListCatalog,
    client: redis.Redis,
    events: list[Event],
    **settings: float,
) -> IngestWorker:
    config = {"segment_seconds": 10.0, "backoff_cap_s": 2.0, **settings}
    return IngestWorker(
        name, catalog, SegmentStore(root, events.append),
        RecorderSettings(log_dir=root / ".logs", **config),  # type: ignore[arg-type]
        client, events.append, lease_ttl_ms=1500,
    )  # fmt: skip


def step_for(workers: list[IngestWorker], seconds: float, until=lambda: False) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not until():
        for w in workers:
            w.step(time.monotonic())
        time.sleep(0.25)


def make_clip(folder: Path, seconds: int) -> Path:
    """A small fragmented MP4 made by ffmpeg (for closing and recovery without a camera)."""
    clip = folder / "clip.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10", "-t",
         str(seconds), "-c:v", "libx264", "-g", "10", "-movflags", "+frag_keyframe+empty_moov",
         str(clip)],
        check=True,
    )  # fmt: skip
    return clip


def staged_run(store: SegmentStore, folder: CameraFolder, clip: Path, seconds: int) -> Path:
    """A run folder as ffmpeg leaves it: one listed segment and the anchor."""
    run = store.new_run(folder.camera_id)
    shutil.copy(clip, run / "00000000.mp4")
    (run / "segments.csv").write_text(f"00000000.mp4,0.000000,{seconds}.000000\n")
    store.write_anchor(run, datetime.now().astimezone())
    return run


def source(name: str, url: str) -> CameraSource:
    return CameraSource(uuid4(), name, name, url)


def test_several_cameras_record_and_bad_ones_say_why(tmp_path: Path, redis_client) -> None:
    port = free_port()
    sims = [
        SimCamera(port=port, path="plain"),
        SimCamera(port=free_port(), path="hevc", codec="h265", audio="g711"),
        SimCamera(port=free_port(), path="aac", audio="aac", user="admin", password="pw"),
        SimCamera(port=free_port(), path="mute", video=False),
    ]
    server = start_sim_cameras(sims)
    closed_port = free_port()
    good = [
        source("Plain", sims[0].url),
        source("Hevc", sims[1].url),
        source("Aac", sims[2].url.replace("rtsp://", "rtsp://admin:pw@")),
    ]
    bad = {
        "401 Unauthorized": source("Wrong", sims[2].url.replace("rtsp://", "rtsp://admin:no@")),
        "connection refused": source("Refused", f"rtsp://127.0.0.1:{closed_port}/x"),
        "no video stream": source("Mute", sims[3].url),
        "404 Not Found": source("Nowhere", f"rtsp://127.0.0.1:{port}/nothing"),
    }
    events: list[Event] = []
    worker = make_worker(
        "ingest", tmp_path, ListCatalog([*good, *bad.values()]), redis_client, events
    )
    try:
        step_for([worker], 90, lambda: all(
            sum(isinstance(e, SegmentClosed) for e in by_camera(events)[c.camera_id]) >= 5
            for c in good
        ))  # fmt: skip
        stopped_at = datetime.now().astimezone()
        worker.shutdown("test over")
    finally:
        server.terminate()
    history = by_camera(events)
    expected_codecs = {"Plain": ("h264", None), "Hevc": ("hevc", "aac"), "Aac": ("h264", "aac")}
    for camera in good:
        mine = history[camera.camera_id]
        segs = [e for e in mine if isinstance(e, SegmentClosed)]
        assert len(segs) >= 5, camera.name  # about a minute (a last partial one may be empty)
        for a, b in itertools.pairwise(segs):
            assert b.start == a.end
        for seg in segs:
            info = probe(tmp_path / seg.path)
            assert (info.video_codec, info.audio_codec) == expected_codecs[camera.name]
            assert abs(info.duration_s - seg.duration_s) < 1.1  # within one GOP
            burned = first_frame_time(tmp_path / seg.path, 640, 360)
            assert abs((burned - seg.start).total_seconds()) < 1.5, (camera.name, seg.path)
        covered = sum(s.duration_s for s in segs)  # the first start is checked against the
        wall = (stopped_at - segs[0].start).total_seconds()  # burned-in clock elsewhere
        assert abs(covered - wall) < 2.5, (camera.name, covered, wall)
    for reason, camera in bad.items():
        reasons = [e.reason for e in history[camera.camera_id] if isinstance(e, CameraDisconnected)]
        assert reasons and reason in reasons[0], (camera.name, reasons)
        assert not [e for e in history[camera.camera_id] if isinstance(e, SegmentClosed)]


def test_a_sub_stream_is_relayed_to_a_ring_of_its_own_and_never_touches_recording(
    tmp_path: Path, redis_client
) -> None:
    main = SimCamera(port=free_port(), path="main", width=640, height=360)
    sub = SimCamera(port=free_port(), path="sub", width=320, height=180)
    server = start_sim_cameras([main, sub])
    camera = CameraSource(uuid4(), "Yard", "Yard", main.url, sub.url)
    catalog, events = ListCatalog([camera]), list[Event]()
    worker = make_worker("ingest", tmp_path, catalog, redis_client, events)
    sub_ring = ring_dir(tmp_path / STREAMS_DIR, camera.camera_id, LiveStreamKind.SUB)
    closed = lambda: [e for e in events if isinstance(e, SegmentClosed)]  # noqa: E731
    try:
        step_for([worker], 40, lambda: bool(closed()) and running(sub_ring))
        ring_file = newest(sub_ring)
        assert ring_file is not None
        assert (probe(ring_file[0]).width, probe(ring_file[0]).height) == (320, 180)
        recorder, relay = worker.recorders[camera.camera_id], worker.relays[camera.camera_id]
        killed = relay._run.proc.pid if relay._run else 0
        os.kill(killed, signal.SIGKILL)
        killed_at = time.monotonic()
        step_for([worker], 15, lambda: relay._run is not None
                 and relay._run.proc.pid != killed and relay.status == "running")  # fmt: skip
        assert relay.status == "running" and time.monotonic() - killed_at < 5
        catalog.cameras = [dataclasses.replace(camera, sub_url=None)]  # the sub-stream removed
        step_for([worker], 5, lambda: camera.camera_id not in worker.relays)
        assert not sub_ring.exists() and worker.recorders[camera.camera_id] is recorder
        step_for([worker], 30, lambda: len(closed()) >= 2)
        assert not [e for e in events if isinstance(e, RecordingStopped)]  # never interrupted
        worker.shutdown("test over")
    finally:
        server.terminate()
    for segment in closed():
        info = probe(tmp_path / segment.path)
        assert (info.width, info.height) == (640, 360)  # recording is the main stream's


def test_rtsp_outage_gives_disconnect_reconnect_and_a_gap_equal_to_it(
    tmp_path: Path, redis_client
) -> None:
    sim = SimCamera(port=free_port(), path="door")
    server = start_sim_cameras([sim])
    camera = source("Door", sim.url)
    events: list[Event] = []
    worker = make_worker(
        "ingest", tmp_path, ListCatalog([camera]), redis_client, events, backoff_cap_s=1.0
    )
    try:
        step_for([worker], 40, lambda: sum(isinstance(e, SegmentClosed) for e in events) >= 1)
        server.terminate()
        server.wait()
        down_at = datetime.now().astimezone()
        step_for([worker], 20)
        server = start_sim_cameras([sim])
        up_at = datetime.now().astimezone()
        connected_before = sum(isinstance(e, CameraConnected) for e in events)
        step_for([worker], 30, lambda: sum(isinstance(e, CameraConnected) for e in events)
                 > connected_before)  # fmt: skip
        step_for([worker], 3)
        worker.shutdown("test over")
    finally:
        server.terminate()
    kinds = [type(e).__name__ for e in events if not isinstance(e, SegmentClosed)]
    assert kinds.count("CameraConnected") == 2 and "CameraDisconnected" in kinds
    assert int(redis_client.hget(RECONNECTS_KEY, str(camera.camera_id)) or 0) >= 1  # a metric
    segs = sorted((e for e in events if isinstance(e, SegmentClosed)), key=lambda s: s.start)
    gaps = [(b.start - a.end).total_seconds() for a, b in itertools.pairwise(segs)]
    outage = (up_at - down_at).total_seconds()
    assert max(gaps) == pytest.approx(outage, abs=4.0), (gaps, outage)
    assert sorted(gaps)[-2] < 0.5 if len(gaps) > 1 else True  # only one gap


def test_a_dead_workers_camera_is_taken_over_within_seconds(tmp_path: Path, redis_client) -> None:
    sims = [SimCamera(port=free_port(), path="a"), SimCamera(port=free_port(), path="b")]
    server = start_sim_cameras(sims)
    catalog = ListCatalog([source("A", sims[0].url), source("B", sims[1].url)])
    events: list[Event] = []
    first = make_worker("ingest-1", tmp_path, catalog, redis_client, events, segment_seconds=60)
    second = make_worker("ingest-2", tmp_path, catalog, redis_client, events, segment_seconds=60)
    try:
        step_for(
            [first, second], 30, lambda: sum(isinstance(e, RecordingStarted) for e in events) >= 2
        )
        step_for([first, second], 5)  # the first worker hands the second its share
        assert len(first.recorders) == 1 and len(second.recorders) == 1
        [(lost_camera, dying)] = first.recorders.items()
        assert dying._run is not None
        dying._run.proc.kill()  # the worker dies with its ffmpeg
        died_at = time.monotonic()
        step_for([second], 15, lambda: len(second.recorders) == 2)
        took_over = time.monotonic() - died_at
        step_for(
            [second],
            15,
            lambda: (
                sum(isinstance(e, RecordingStarted) and e.camera_id == lost_camera for e in events)
                >= 2
            ),
        )
        second.shutdown("test over")
    finally:
        server.terminate()
    assert took_over < 5
    recovered = [e for e in events if isinstance(e, SegmentClosed) and e.camera_id == lost_camera
                 and e.recovered]  # fmt: skip
    assert len(recovered) == 1 and probe(tmp_path / recovered[0].path).duration_s > 1


def test_the_camera_list_is_read_when_announced_and_every_half_minute(
    tmp_path: Path, redis_client
) -> None:
    catalog = AnnouncingCatalog()
    worker = make_worker("w1", tmp_path, catalog, redis_client, [])
    try:
        worker.step(100.0)
        assert catalog.reads == 1  # the first step reads the list
        for t in (102.0, 104.0, 120.0):
            worker.step(t)
        assert catalog.reads == 1  # nothing announced
        catalog.announced = True
        worker.step(122.0)
        assert catalog.reads == 2
        worker.step(152.0)
        assert catalog.reads == 3  # due, announced or not
    finally:
        worker.shutdown("test over")


def test_crash_between_rename_and_append_is_finished_on_recovery(tmp_path: Path) -> None:
    clip = make_clip(tmp_path, 3)
    folder = CameraFolder(uuid4(), "Door")

    def broken_append(event: Event) -> None:
        raise StoreUnavailable("Redis is down")

    crashing = SegmentStore(tmp_path, broken_append)
    staged_run(crashing, folder, clip, 3)
    crashing.recover(folder)  # the segment is in place; its event waits in the intent
    [intent] = (crashing.staging(folder.camera_id) / "intents").glob("*.json")
    assert crashing.waiting(folder.camera_id) == 1

    appended: list[Event] = []
    report = SegmentStore(tmp_path, appended.append).recover(folder)
    [event] = appended
    assert isinstance(event, SegmentClosed) and report.announced == [event]
    assert intent.stem.endswith(str(event.segment_id)) and not intent.exists()
    assert (tmp_path / event.path).exists() and event.duration_s == pytest.approx(3.0)
    assert not list(crashing.staging(folder.camera_id).glob("run-*"))


def test_unreadable_leftover_is_reported_and_kept(tmp_path: Path) -> None:
    folder = CameraFolder(uuid4(), "Door")
    store = SegmentStore(tmp_path, lambda e: None)
    run = store.new_run(folder.camera_id)
    (run / "00000000.mp4").write_bytes(b"\x00garbage" * 1000)
    report = store.recover(folder)
    assert report.announced == [] and len(report.unreadable) == 1
    assert (run / "00000000.mp4.unreadable").exists()


def test_an_append_redis_refused_is_retried_from_its_intent(tmp_path: Path) -> None:
    clip = make_clip(tmp_path, 2)
    appended: list[Event] = []
    down = [True]

    def append(event: Event) -> None:
        if down[0]:
            raise StoreUnavailable("Redis is down")
        appended.append(event)

    store = SegmentStore(tmp_path, append)
    folder = CameraFolder(uuid4(), "Door")
    staged_run(store, folder, clip, 2)
    store.recover(folder)
    assert store.finish_intents(folder.camera_id) == []  # still down: the intent stays
    assert store.waiting(folder.camera_id) == 1
    down[0] = False
    [event] = store.finish_intents(folder.camera_id)
    assert appended == [event] and (tmp_path / event.path).exists()
    assert store.finish_intents(folder.camera_id) == []


def test_redis_restarted_without_its_data_no_camera_is_recorded_twice(tmp_path: Path) -> None:
    """Redis dies and comes back empty (its AOF lost): both workers record on through the
    outage, re-assert their own leases, and never take each other's cameras."""
    own_redis = EmbeddedRedis(tmp_path / "redis-data")
    server_proc = start_service(own_redis.prepare(), tmp_path / "logs")
    wait_until(own_redis.ready, 30, "redis")
    client = redis.Redis.from_url(own_redis.url, socket_timeout=2, socket_connect_timeout=2)
    sims = [SimCamera(port=free_port(), path="a"), SimCamera(port=free_port(), path="b")]
    cameras = start_sim_cameras(sims)
    catalog = ListCatalog([source("A", sims[0].url), source("B", sims[1].url)])
    events: list[Event] = []
    workers = [make_worker(n, tmp_path, catalog, client, events, segment_seconds=60)
               for n in ("ingest-1", "ingest-2")]  # fmt: skip

    def held() -> list[set[UUID]]:
        return [set(w.recorders) for w in workers]

    def step_checking(seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for w in workers:
                w.step(time.monotonic())
                first, second = held()
                assert not first & second, "a camera is recorded by two workers"
            time.sleep(0.25)

    try:
        step_for(workers, 30, lambda: all(len(h) == 1 for h in held()))
        before = held()
        server_proc.kill()
        server_proc.wait()
        step_checking(8)  # longer than a lease: Redis is down, recording goes on
        assert held() == before and all(r._run for w in workers for r in w.recorders.values())
        shutil.rmtree(own_redis.dir)  # it restarts with nothing: no lease, no heartbeat
        server_proc = start_service(own_redis.prepare(), tmp_path / "logs")
        wait_until(own_redis.ready, 30, "redis")
        step_checking(10)
        assert held() == before
        for w in workers:
            w.shutdown("test over")
    finally:
        cameras.terminate()
        stop_process(server_proc, signal.SIGTERM)


def test_a_segment_event_redis_lost_is_appended_again_and_only_once(
    tmp_path: Path, store: RedisEventStore
) -> None:
    clip = make_clip(tmp_path, 2)
    segments = SegmentStore(tmp_path, store.append_once, store.was_appended, confirm_after_s=0.2)
    folder = CameraFolder(uuid4(), "Door")
    staged_run(segments, folder, clip, 2)
    [event] = segments.recover(folder).announced
    assert store.length(Topic.RECORDINGS) == 1 and segments.waiting(folder.camera_id) == 1
    assert store.append_once(event) is None  # a retry appends nothing
    store.client.flushall()  # Redis restarted without its last second of writes
    time.sleep(0.3)
    assert segments.finish_intents(folder.camera_id) == [event]  # noticed, appended again
    assert store.length(Topic.RECORDINGS) == 1
    time.sleep(0.3)
    assert segments.finish_intents(folder.camera_id) == []
    assert segments.waiting(folder.camera_id) == 0 and store.length(Topic.RECORDINGS) == 1
