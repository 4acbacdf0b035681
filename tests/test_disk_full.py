"""A full disk while a camera records, on a small tmpfs the test mounts (as root).

1. The emergency rule frees the oldest footage before ffmpeg runs out of space.
2. When ffmpeg does meet ENOSPC, the camera says so, and recording resumes by itself once
   space is back; no segment closed before is lost.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import psycopg
import pytest

from events.archive import EventArchive
from events.catalogue import (
    CameraAdded,
    CameraDisconnected,
    PurgeReason,
    RetentionPurged,
    SegmentClosed,
    Topic,
)
from events.codec import decode
from events.store import ZERO, RedisEventStore
from ingest.lifecycle.retention import PostgresStorageCatalog, RetentionConfig, RetentionWorker
from ingest.lifecycle.retention_policy import RetentionPolicy
from tests.factories import T0
from tests.ingest_support import copies_of, recorder, segments, sim
from tests.test_retention import project

pytestmark = pytest.mark.slow
MB = 1_000_000


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not allowed here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill_to(path: Path, ballast: Path, free_bytes: int) -> None:
    """Write a ballast file until only about ``free_bytes`` are left."""
    left = shutil.disk_usage(path).free - free_bytes
    try:  # unbuffered: a write that meets a full disk fails then, never at the close
        f = open(ballast, "ab", buffering=0)  # noqa: SIM115 (closed below)
    except OSError:  # already full: as wanted (the caller's later steps say what is there)
        return
    with f:
        while left > 0:
            try:
                written = f.write(b"\0" * min(left, 1 << 20))
            except OSError:  # full (ffmpeg writes beside it): as wanted
                break
            if not written:
                break
            left -= written


def old_footage(root: Path, store: RedisEventStore, camera: UUID, n: int) -> list[SegmentClosed]:
    template = root.parent / "old.mp4"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=15:"
         "duration=8", "-c:v", "libx264", "-b:v", "1M", "-y", str(template)],
        check=True,
    )  # fmt: skip
    starts = [T0 - timedelta(days=1, minutes=10 * (n - i)) for i in range(n)]
    events = copies_of(template, root, "Old", camera, starts, (8.0, 640, 360, 15.0))
    store.append_many(events)
    return events


def test_the_emergency_rule_frees_the_oldest_footage_before_ffmpeg_fails(
    small_disk: Path,
    store: RedisEventStore,
    archive: EventArchive,
    database_url: str,
) -> None:
    camera = UUID(int=77)
    store.append(CameraAdded(camera_id=camera, name="Old", directory="Old",
                             rtsp_url="rtsp://127.0.0.1:1/x"))  # fmt: skip
    old = old_footage(small_disk, store, camera, 8)
    project(store, database_url, archive)
    fill_to(small_disk, small_disk / ".ballast", 3 * MB)
    worker = RetentionWorker(
        store.append,
        PostgresStorageCatalog(psycopg.connect(database_url)),
        small_disk,
        RetentionConfig(policy=RetentionPolicy(min_free_bytes=5 * MB), emergency_check_s=0.3,
                        interval_s=3600, grace_s=3600),
    )  # fmt: skip
    stop = threading.Event()
    retention = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    retention.start()
    cam, server = sim(width=640, height=360)
    rec, events = recorder(small_disk, cam.url, segment_seconds=3)
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and len(segments(events)) < 6:
            rec.tick(time.monotonic())
            store.append_many([e for e in events if isinstance(e, SegmentClosed)])
            project(store, database_url, archive)
            time.sleep(0.3)
    finally:
        rec.stop("test over")
        stop.set()
        retention.join(10)
        server.terminate()
        server.wait()
    recorded = segments(events)
    assert len(recorded) >= 6
    assert not [e for e in events if isinstance(e, CameraDisconnected)]  # never ran out
    assert all((small_disk / s.path).exists() for s in recorded)  # nothing new was lost
    purged = [
        e
        for m in store.read_range(Topic.RECORDINGS, ZERO, 10_000)
        if isinstance(e := decode(m.fields), RetentionPurged)
    ]
    assert purged and all(p.reason is PurgeReason.EMERGENCY for p in purged)
    assert [p.path for p in purged] == [s.path for s in old[: len(purged)]]  # oldest first


def test_enospc_is_reported_and_recording_resumes_once_space_is_back(small_disk: Path) -> None:
    cam, server = sim(width=640, height=360)
    rec, events = recorder(small_disk, cam.url, segment_seconds=3)
    ballast = small_disk / ".ballast"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not segments(events):
            rec.tick(time.monotonic())
            time.sleep(0.2)
        before = segments(events)
        assert before, "nothing recorded before the disk filled"
        fill_to(small_disk, ballast, 0)
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and not [
            e for e in events if isinstance(e, CameraDisconnected)
        ]:
            rec.tick(time.monotonic())
            time.sleep(0.2)
        [down, *_] = [e for e in events if isinstance(e, CameraDisconnected)]
        assert "disk full" in down.reason
        assert "disk full" in rec.status
        ballast.unlink(missing_ok=True)
        count = len(segments(events))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(segments(events)) < count + 2:
            rec.tick(time.monotonic())
            time.sleep(0.2)
        assert len(segments(events)) >= count + 2, (rec.status, shutil.disk_usage(small_disk))
    finally:
        rec.stop("test over")
        server.terminate()
        server.wait()
    assert all((small_disk / s.path).exists() for s in before)
