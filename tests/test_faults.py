"""Fault injection through `ronin up` (real Redis, PostgreSQL, ffmpeg, RTSP servers):
whatever dies, recording goes on, and the timeline shows what a user would miss.

One stack records three simulated cameras (1-s GOP, 10-s segments) for the whole
module; each test injects its fault into it and measures its own window.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from api.timeline import Span
from events.catalogue import CameraDisconnected, Topic
from ingest.probe import probe
from ingest.simcam.launcher import SimCamera, start_sim_cameras
from tests.ingest_support import free_port
from tests.stack_support import Stack, holes, missing_s, now, running_stack
from tests.test_up import wait_healthy

pytestmark = pytest.mark.slow

NAMES = ("Cam0", "Cam1", "Cam2")


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    cameras = [SimCamera(port=free_port(), path=f"cam{i}", overlay=False) for i in range(3)]
    server = start_sim_cameras(cameras)
    try:
        with running_stack("ronin-faults-") as running:
            for name, camera in zip(NAMES, cameras, strict=True):
                running.add_camera(name, camera.url)
            running.wait_recording(NAMES)
            time.sleep(2)
            yield running
    finally:
        server.terminate()
        server.wait(10)


def assert_no_duplicates(stack: Stack, name: str) -> None:
    rows = stack.segment_rows(name)
    assert len({path for path, _, _ in rows}) == len(rows)
    for (_, _, end), (_, start, _) in itertools.pairwise(rows):
        assert (start - end).total_seconds() > -0.2, f"{name}: segments overlap: {rows}"


def record_through(stack: Stack, fault: object, before_s: float, after_s: float) -> Span:
    """A window of recording with ``fault()`` called ``before_s`` into it; returns the
    window once every camera's timeline covers it."""
    start = now()
    time.sleep(before_s)
    assert callable(fault)
    fault()
    time.sleep(after_s)
    window = Span(start, now())
    stack.wait_covered(NAMES, window.end, timeout_s=90)
    assert stack.proc.poll() is None, "ronin up stopped"
    wait_healthy(stack.port, stack.proc, timeout=30)  # every worker heartbeats again
    return window


def restarted(stack: Stack) -> list[str]:
    """What the supervisor had to restart so far (its log says so)."""
    log = (stack.data / "up.log").read_text()
    return [line.split()[0] for line in log.splitlines() if " exited (code " in line]


def test_redis_killed_recording_goes_on_and_nothing_is_lost(stack: Stack) -> None:
    old = stack.server_pid("redis")
    window = record_through(stack, lambda: os.kill(old, signal.SIGKILL), 15, 45)
    assert stack.server_pid("redis") != old  # restarted by the supervisor
    assert restarted(stack) == ["redis"]  # every worker waited for it and went on
    for name in NAMES:
        lost = missing_s(stack.spans(name), window)
        assert lost <= 0.01 * (window.end - window.start).total_seconds(), (name, lost)
        assert_no_duplicates(stack, name)


def test_postgres_killed_recording_goes_on_and_nothing_is_lost(stack: Stack) -> None:
    old = stack.server_pid("postgres")
    window = record_through(stack, lambda: os.kill(old, signal.SIGKILL), 15, 45)
    assert stack.server_pid("postgres") != old
    assert restarted(stack) == ["redis", "postgres"]
    for name in NAMES:
        lost = missing_s(stack.spans(name), window)
        assert lost <= 0.01 * (window.end - window.start).total_seconds(), (name, lost)
        assert_no_duplicates(stack, name)


def test_killed_ffmpeg_loses_at_most_a_second_or_two_each_time(stack: Stack) -> None:
    rng = random.Random(12)
    start = now()
    killed_at: list[datetime] = []
    for _ in range(10):
        time.sleep(rng.uniform(5, 15))
        [pid] = stack.ffmpeg_pids("Cam0")
        os.kill(pid, signal.SIGKILL)
        killed_at.append(now())
    time.sleep(5)
    window = Span(start, now())
    stack.wait_covered(NAMES, window.end, timeout_s=60)
    found = holes(stack.spans("Cam0"), window)
    lost = sorted(round((h.end - h.start).total_seconds(), 2) for h in found) or [0.0]
    # the unflushed fragment (<= 0.5 s) and the restart, which records the keyframe the
    # camera sends first (0.45-0.7 s seen; 1.4-1.7 s when it waited for the next one);
    # the worst two of ten also carry the scheduling of a loaded 2-core machine (2.69 s
    # and, once, 4.24 s seen in full runs in CI)
    seen = [(h.start.time(), h.end.time()) for h in found]
    assert len(lost) <= 10 and lost[len(lost) // 2] <= 1.2, (lost, seen, killed_at)
    worst_two = lost[-2:]
    assert worst_two[0] <= 3.0 and worst_two[-1] <= 6.0, (lost, seen, killed_at)
    for path, seg_start, _ in stack.segment_rows("Cam0"):
        if seg_start >= start - timedelta(seconds=10):
            assert probe(stack.data / "recordings" / path).duration_s > 0  # every part plays
    assert_no_duplicates(stack, "Cam0")


def test_killed_ingest_worker_is_restarted_and_recording_resumes(stack: Stack) -> None:
    [worker] = stack.worker_pids("ingest")
    orphans = [p for name in NAMES for p in stack.ffmpeg_pids(name)]
    killed_at: list[datetime] = []

    def kill() -> None:
        killed_at.append(now())
        os.kill(worker, signal.SIGKILL)

    window = record_through(stack, kill, 5, 20)
    assert not [p for p in orphans if os.path.exists(f"/proc/{p}")]  # gone with the worker
    assert stack.worker_pids("ingest") not in ([], [worker])
    for name in NAMES:
        resumed = min(s.start for s in stack.spans(name) if s.start > killed_at[0])
        assert (resumed - killed_at[0]).total_seconds() <= 3.0, (name, resumed)
        lost = [
            round((h.end - h.start).total_seconds(), 2) for h in holes(stack.spans(name), window)
        ]
        assert all(s <= 3.5 for s in lost), (name, lost)
        assert_no_duplicates(stack, name)


def test_camera_outage_hole_is_the_outage_and_the_reason_is_clear(stack: Stack) -> None:
    camera = SimCamera(port=free_port(), path="gone", overlay=False)
    server = start_sim_cameras([camera])
    stack.add_camera("Flaky", camera.url)
    stack.wait_recording(["Flaky"])
    time.sleep(5)
    start = now()
    server.kill()
    server.wait(10)
    outage_start = time.monotonic()
    time.sleep(20)
    server = start_sim_cameras([camera])
    outage = time.monotonic() - outage_start
    try:
        time.sleep(15)
        window = Span(start, now())
        stack.wait_covered(["Flaky"], window.end, timeout_s=60)
        found = holes(stack.spans("Flaky"), window)
        assert len(found) == 1 and (found[0].end - found[0].start).total_seconds() <= outage + 3
        flaky = stack.cameras["Flaky"]
        reasons = [e.reason for e in stack.events(Topic.CAMERAS)
                   if isinstance(e, CameraDisconnected) and e.camera_id == flaky]  # fmt: skip
        assert "the camera ended the stream (it closed the connection)" in reasons, reasons
    finally:
        server.terminate()
