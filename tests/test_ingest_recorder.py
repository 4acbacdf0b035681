"""A camera recorder against a real RTSP server and real ffmpeg."""

from __future__ import annotations

import itertools
import math
import os
import signal
import subprocess
import time
from pathlib import Path

from events.catalogue import (
    CameraConnected,
    CameraDisconnected,
    RecordingStarted,
    SegmentOpened,
)
from ingest.probe import probe
from ingest.simcam.timecode import first_frame_time
from tests.ingest_support import free_port, recorder, run_until, segments, sim


def test_records_contiguous_playable_segments_with_true_times(tmp_path: Path) -> None:
    camera, server = sim(audio="g711")
    try:
        rec, events = recorder(tmp_path, camera.url)
        run_until(rec, lambda: len(segments(events)) >= 2, 60)
        rec.stop("test over")
    finally:
        server.terminate()
    closed = segments(events)
    assert len(closed) >= 2
    assert isinstance(events[0], CameraConnected) and isinstance(events[1], RecordingStarted)
    for previous, current in itertools.pairwise(closed):
        assert current.start == previous.end  # no gap, no overlap
    for seg in closed:
        info = probe(tmp_path / seg.path)
        assert info.video_codec == "h264" and info.audio_codec == "aac"
        assert abs(info.duration_s - seg.duration_s) < 1.1  # within one GOP
        assert seg.path.startswith("Door/") and seg.path.endswith(".mp4")
    first = closed[0]
    burned = first_frame_time(tmp_path / first.path, camera.width, camera.height)
    assert abs((burned - first.start).total_seconds()) < 2.0, (burned, first.start)
    assert not list((tmp_path / ".incoming").rglob("*.mp4"))


def test_killed_ffmpeg_leaves_a_playable_partial_segment_and_recording_resumes(
    tmp_path: Path,
) -> None:
    camera, server = sim()
    try:
        rec, events = recorder(tmp_path, camera.url, segment_seconds=30, backoff_base_s=0.5)
        run_until(rec, lambda: any(isinstance(e, RecordingStarted) for e in events), 30)
        time.sleep(6)  # mid-segment
        assert rec._run is not None
        os.kill(rec._run.proc.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        run_until(rec, lambda: any(isinstance(e, CameraDisconnected) for e in events), 10)
        partial = segments(events)
        assert len(partial) == 1 and partial[0].recovered
        assert probe(tmp_path / partial[0].path).duration_s > 3
        started = sum(isinstance(e, RecordingStarted) for e in events)
        run_until(rec, lambda: sum(isinstance(e, RecordingStarted) for e in events) > started, 20)
        assert time.monotonic() - killed_at < 8  # resumed within a few seconds
        rec.stop("test over")
    finally:
        server.terminate()


def test_wrong_password_is_reported_clearly(tmp_path: Path) -> None:
    camera, server = sim(user="admin", password="secret")
    try:
        bad = camera.url.replace("rtsp://", "rtsp://admin:not-this-one@")
        rec, events = recorder(tmp_path, bad)
        run_until(rec, lambda: any(isinstance(e, CameraDisconnected) for e in events), 20)
        rec.stop("test over")
    finally:
        server.terminate()
    [event] = [e for e in events if isinstance(e, CameraDisconnected)]
    assert "401 Unauthorized" in event.reason
    log_text = "".join(p.read_text() for p in (tmp_path / ".logs").glob("*.log"))
    assert "not-this-one" not in log_text and "***@" in log_text


def test_a_recorder_waiting_to_start_ffmpeg_says_when_to_wake_it(tmp_path: Path) -> None:
    rec, events = recorder(tmp_path, f"rtsp://127.0.0.1:{free_port()}/gone", backoff_cap_s=2.0)
    now = time.monotonic()
    assert rec.wake_at(now) == now  # due to start
    rec.tick(now)  # first asks the camera for its codec
    assert now < rec.wake_at(now) <= now + 0.25
    run_until(rec, lambda: any(isinstance(e, CameraDisconnected) for e in events), 20)
    now = time.monotonic()
    retry = rec.wake_at(now)  # refused: the retry's time, not the worker's next step
    assert now < retry <= now + 2.0
    run_until(rec, lambda: rec.wake_at(time.monotonic()) == math.inf, 5)  # ffmpeg runs
    rec.stop("test over")


def test_h265_is_hvc1_from_the_first_segment_and_the_open_one_is_announced(
    tmp_path: Path,
) -> None:
    camera, server = sim(codec="h265")
    try:
        rec, events = recorder(tmp_path, camera.url, segment_seconds=10)
        run_until(rec, lambda: any(isinstance(e, SegmentOpened) for e in events), 30)
        [opened] = [e for e in events if isinstance(e, SegmentOpened)]
        growing = tmp_path / opened.path
        assert growing.exists() and opened.video_codec == "hevc"
        time.sleep(3)
        assert probe(growing).duration_s > 1  # the segment being written already plays
        run_until(rec, lambda: len(segments(events)) >= 1, 30)
        rec.stop("test over")
    finally:
        server.terminate()
    first = segments(events)[0]
    assert first.opened_as == opened.segment_id
    tag = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "stream=codec_tag_string", "-of", "csv=p=0", str(tmp_path / first.path)],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert tag == "hvc1"


def _command_lines() -> list[str]:
    out = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            out.append(cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            continue
    return out


def test_a_password_never_reaches_a_command_line(tmp_path: Path) -> None:
    camera, server = sim(codec="h265", user="admin", password="s3cret-on-no-cmdline")
    try:
        url = camera.url.replace("rtsp://", "rtsp://admin:s3cret-on-no-cmdline@")
        rec, events = recorder(tmp_path, url, segment_seconds=10)
        seen: list[str] = []
        run_until(rec, lambda: seen.extend(_command_lines()) or len(segments(events)) >= 1, 40)
        script = tmp_path / ".logs" / "sources" / f"{rec.source.camera_id}.ffconcat"
        assert script.stat().st_mode & 0o777 == 0o600
        assert script.parent.stat().st_mode & 0o777 == 0o700
        rec.stop("test over")
        assert not script.exists()
    finally:
        server.terminate()
    assert any("ffmpeg" in line and ".ffconcat" in line for line in seen)
    camera_side = "rtsp_server.py"  # the simulated camera knows its own password
    assert not [line for line in seen if "s3cret-on-no-cmdline" in line and camera_side not in line]
    first = segments(events)[0]
    assert first.video_codec == "hevc" and probe(tmp_path / first.path).duration_s > 5
