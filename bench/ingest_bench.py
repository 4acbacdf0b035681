"""Ingest cost and live latency: ours beside a bare ``ffmpeg -c copy``, in the same run.

    .venv/bin/python bench/ingest_bench.py [--cameras 1,4,8,16] [--seconds 30]
                                           [--segment-seconds 900]

For each camera count, simulated 1080p H.264 cameras (15 fps, 1-second GOP, a still
picture so that the simulator's own encoding stays cheap) are recorded for ``--seconds``:

- ours: one ``CameraRecorder`` per camera (ffmpeg with recording segments + the live ring,
  segment closing with fsync and rename, the Python loop stepping once a second as the
  worker does), segments of ``--segment-seconds`` (the product's default: 900);
- ours, whole worker: the ingest worker as ``ronin up`` runs it (leases, heartbeats and
  the camera list over Redis and PostgreSQL, the outbox), its process and its ffmpegs;
- limit: a bare ``ffmpeg -rtsp_transport tcp -i URL -c copy out.mp4`` per camera (two
  for one camera: identical ffmpegs differ by up to 15 % on a busy machine, lastingly,
  so one copy alone is too much luck), counted per copy,

each pair at the same time, ours and the bare copies each on their own simulated
cameras, identical ones (a still picture: the same bitrate). Not on shared streams: the
simulator restarts a shared stream's timestamps for every client whenever another one
connects, and the clients already there then spend seconds fixing and reporting every
packet's timestamp (a real camera does not do that).

CPU is counted for ingest's processes only (this process and its ffmpeg/ffprobe
children), never the simulator's. Live ring latency: for a 720p camera with the
burned-in clock, the clock in each keyframe against the wall clock when its fragment is
read from the live ring.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from uuid import uuid4

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest.live.fmp4 import InitSegment
from ingest.live.ring import RingFollower
from ingest.recorder import CameraRecorder, CameraSource, RecorderSettings, pump_until
from ingest.segment_store import SegmentStore
from ingest.simcam.launcher import SimCamera, start_sim_cameras
from ingest.simcam.timecode import decode_timecode
from tests.ingest_support import free_port
from tests.stack_support import running_stack
from tests.test_up import descendants


def cpu_seconds() -> float:
    """CPU used by this process and its finished children so far."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def running_cpu(pids: list[int]) -> float:
    """CPU seconds used so far by processes still running (read from /proc)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Costs:
    """CPU seconds: the steady state (after the warm-up) and the whole run."""

    steady: float
    whole: float
    ffmpeg_steady: float = 0.0
    """Of ``steady``, what the ffmpeg processes used (the rest: the Python recorder)."""
    written: int = 0
    """Bytes the processes wrote to storage in the steady state (not those overwritten
    in the page cache before they reached it)."""


def written_bytes(pids: list[int]) -> int:
    """Bytes sent towards storage so far by running processes (``/proc/{pid}/io``)."""
    total = 0
    for pid in pids:
        try:
            fields = dict(
                line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines()
            )
        except OSError:
            continue
        total += int(fields["write_bytes"]) - int(fields["cancelled_write_bytes"])
    return total


def side_by_side(
    cameras: list[SimCamera], twins: list[SimCamera], seconds: float, root: Path,
    warm_up_s: float, segment_s: float,
) -> tuple[Costs, Costs]:  # fmt: skip
    """(ours, bare), recording ``cameras`` and identical ``twins`` at the same time, so
    both get the same packets under the same load on the machine (run one after the
    other, the load differs between them by more than the difference measured).

    Ours: this process and its ffmpeg/ffprobe children; whole run from the first start
    to the last file closed, steady from ``warm_up_s`` on (the running ffmpegs read from
    /proc). Bare: a ``ffmpeg -c copy`` per camera, measured from /proc the same way.
    """
    before = cpu_seconds()
    store = SegmentStore(root, lambda e: None)
    settings = RecorderSettings(log_dir=root / ".logs", segment_seconds=segment_s)
    recorders = [
        CameraRecorder(CameraSource(uuid4(), f"c{i}", f"c{i}", c.url), store, settings,
                       lambda e: None, "bench")
        for i, c in enumerate(cameras)
    ]  # fmt: skip
    bare = bare_copies(twins, root / "bare")
    bare_pids = [p.pid for p in bare]
    start = time.monotonic()
    steady_from: tuple[float, float, float] | None = None
    pids: list[int] = []
    while time.monotonic() < start + warm_up_s + seconds:
        for r in recorders:
            r.tick(time.monotonic())
        if steady_from is None and time.monotonic() >= start + warm_up_s:
            pids = [r._run.proc.pid for r in recorders if r._run is not None]
            steady_from = (cpu_seconds(), running_cpu(pids), running_cpu(bare_pids))
        pump_until(recorders, time.monotonic() + 1.0)  # the worker's step
    assert steady_from is not None
    ours_at, ffmpeg_at, bare_at = steady_from
    ours_steady = cpu_seconds() - ours_at + running_cpu(pids) - ffmpeg_at
    ffmpeg_steady = running_cpu(pids) - ffmpeg_at
    bare_steady = running_cpu(bare_pids) - bare_at
    assert pids == [r._run.proc.pid for r in recorders if r._run], "an ffmpeg restarted"
    bare_whole = running_cpu(bare_pids)
    for r in recorders:
        r.stop("bench over")
    ours_whole = cpu_seconds() - before
    for p in bare:
        p.terminate()
    for p in bare:
        p.wait()
    scale = len(cameras) / len(twins)
    return (
        Costs(ours_steady, ours_whole, ffmpeg_steady),
        Costs(bare_steady * scale, bare_whole * scale),
    )


def bare_copies(cameras: list[SimCamera], root: Path) -> list[subprocess.Popen[bytes]]:
    root.mkdir(parents=True, exist_ok=True)
    return [
        subprocess.Popen(
            ["ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", "tcp", "-i", c.url,
             "-c", "copy", "-y", str(root / f"bare{i}.mp4")],
            stdin=subprocess.DEVNULL,
        )
        for i, c in enumerate(cameras)
    ]  # fmt: skip


def worker_side_by_side(
    cameras: list[SimCamera], twins: list[SimCamera], seconds: float, root: Path,
    warm_up_s: float, segment_s: float,
) -> tuple[Costs, Costs]:  # fmt: skip
    """(ours, bare) in the steady state: the ingest worker of a real ``ronin up`` (its
    process and its ffmpegs, from /proc) beside a bare copy per camera."""
    names = [f"Cam{i}" for i in range(len(cameras))]
    with running_stack("ronin-ingest-bench-", SEGMENT_SECONDS=f"{segment_s:g}") as stack:
        for name, camera in zip(names, cameras, strict=True):
            stack.add_camera(name, camera.url)
        bare = bare_copies(twins, root)
        try:
            stack.wait_recording(names)
            time.sleep(warm_up_s)
            (worker,) = stack.worker_pids("ingest")
            ours = [worker, *descendants(worker)]
            bare_pids = [p.pid for p in bare]
            ours_at, ffmpeg_at = running_cpu(ours), running_cpu(ours[1:])
            bare_at = running_cpu(bare_pids)
            wrote_at, bare_wrote_at = written_bytes(ours), written_bytes(bare_pids)
            time.sleep(seconds)
            assert ours == [worker, *descendants(worker)], "an ffmpeg restarted"
            ffmpeg = running_cpu(ours[1:]) - ffmpeg_at
            wrote = written_bytes(ours) - wrote_at
            steady = Costs(running_cpu(ours) - ours_at, 0.0, ffmpeg, wrote)
            bare_wrote = written_bytes(bare_pids) - bare_wrote_at
            scale = len(cameras) / len(twins)
            bare_cpu = running_cpu(bare_pids) - bare_at
            return steady, Costs(bare_cpu * scale, 0.0, 0.0, int(bare_wrote * scale))
        finally:
            for p in bare:
                p.terminate()
                p.wait()


def live_latency(seconds: float, root: Path) -> list[float]:
    """Seconds from a keyframe's capture (its burned-in clock) to its fragment being
    readable in the live ring, where the API's live feed picks it up."""
    camera = SimCamera(port=free_port(), path="live", width=1280, height=720, gop=15)
    server = start_sim_cameras([camera])
    store = SegmentStore(root, lambda e: None)
    recorder = CameraRecorder(
        CameraSource(uuid4(), "live", "live", camera.url), store,
        RecorderSettings(log_dir=root / ".logs", segment_seconds=60), lambda e: None, "bench",
    )  # fmt: skip
    latencies: list[float] = []
    follower: RingFollower | None = None
    init: InitSegment | None = None
    keyframes = 0
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            recorder.tick(time.monotonic())
            pump_until([recorder], time.monotonic() + 0.02)
            if follower is None and recorder.live_dir.is_dir():
                follower = RingFollower(recorder.live_dir)
            for piece in follower.read() if follower else []:
                read_at = datetime.now(UTC)
                if isinstance(piece, InitSegment):
                    init = piece
                elif piece.keyframe and init is not None:
                    keyframes += 1
                    frame = None if keyframes <= 2 else first_frame(init.data + piece.data, camera)
                    if frame is not None:  # (the first ones carry the connection's start-up)
                        latencies.append((read_at - decode_timecode(frame)).total_seconds())
    finally:
        if follower:
            follower.close()
        recorder.stop("bench over")
        server.terminate()
    return latencies


def first_frame(data: bytes, camera: SimCamera):  # type: ignore[no-untyped-def]
    import numpy as np

    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", "-", "-frames:v", "1", "-f", "rawvideo", "-pix_fmt",
         "gray", "-"], input=data, capture_output=True, check=False,
    ).stdout  # fmt: skip
    size = camera.width * camera.height
    if len(raw) < size:
        return None
    return np.frombuffer(raw[:size], np.uint8).reshape(camera.height, camera.width)


def cameras_1080p(n: int) -> list[SimCamera]:
    return [
        SimCamera(port=free_port(), path=f"c{i}", width=1920, height=1080, fps=15, gop=15,
                  overlay=False)
        for i in range(n)
    ]  # fmt: skip


def measured_table(seconds: float, segment_s: float) -> Table:
    table = Table(title=f"ingest, 1080p H.264 cameras, {segment_s:g}-s segments, {seconds:.0f} s "
                  "each run, CPU s per camera-minute: steady state (after a warm-up), and the "
                  "whole run with start and stop (recorders alone)")  # fmt: skip
    for column in ("cameras", "what", "ours steady", "of which ffmpeg", "bare steady",
                   "ratio steady", "ffmpeg / bare", "ours whole run", "bare whole run",
                   "ratio whole", "disk writes / bare", "aim"):  # fmt: skip
        table.add_column(column, justify="right")
    return table


def add_rows(table: Table, n: int, seconds: float, recorders: tuple[Costs, Costs],
             worker: tuple[Costs, Costs]) -> None:  # fmt: skip
    per, whole = 60 / (seconds * n), 60 / ((seconds + 15) * n)
    for what, (ours, bare) in (("recorders", recorders), ("ingest worker", worker)):
        wholes = (
            [f"{ours.whole * whole:.2f}", f"{bare.whole * whole:.2f}",
             f"{ours.whole / bare.whole:.2f}x"]
            if ours.whole else ["", "", ""]
        )  # fmt: skip
        table.add_row(str(n), what, f"{ours.steady * per:.2f}", f"{ours.ffmpeg_steady * per:.2f}",
                      f"{bare.steady * per:.2f}", f"{ours.steady / bare.steady:.2f}x",
                      f"{ours.ffmpeg_steady / bare.steady:.2f}x", *wholes,
                      f"{ours.written / bare.written:.2f}x" if bare.written else "",
                      "≤ 1.3x")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", default="1,4,8,16")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--segment-seconds", type=float, default=900)
    args = parser.parse_args()
    console = Console(width=180)
    segment_s = args.segment_seconds
    table = measured_table(args.seconds, segment_s)
    root = Path(tempfile.mkdtemp(prefix="ronin-ingest-bench-"))
    try:
        for n in [int(x) for x in args.cameras.split(",")]:
            cameras = cameras_1080p(n)
            twins = cameras_1080p(max(2, n))  # the bare copies'
            server = start_sim_cameras(cameras + twins)
            try:
                time.sleep(2)
                console.print(f"{n} camera(s): ours and a bare copy side by side")
                recorders = side_by_side(
                    cameras, twins, args.seconds, root / f"run{n}", 15, segment_s
                )
                console.print(f"{n} camera(s): the ingest worker of `ronin up` and a bare copy")
                worker = worker_side_by_side(
                    cameras, twins, args.seconds, root / f"worker{n}", 15, segment_s
                )
            finally:
                server.terminate()
                server.wait()
            add_rows(table, n, args.seconds, recorders, worker)
        console.print("live latency (720p, 1-second GOP)")
        latencies = live_latency(max(30.0, args.seconds), root / "live")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    console.print(table)
    if latencies:
        console.print(
            f"live ring latency (capture to readable): median {median(latencies):.2f} s, worst "
            f"{max(latencies):.2f} s over {len(latencies)} keyframes (glass to browser: "
            "bench/live_latency_bench.py)"
        )


if __name__ == "__main__":
    main()
