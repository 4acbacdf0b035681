"""Footage lost per fault, as the timeline shows it, beside the limit for that fault.

    .venv/bin/python bench/faults_bench.py [--ffmpeg-kills 10] [--server-kills 3]

One `ronin up` (10-s segments) records three simulated cameras (640x360 H.264, 15 fps,
1-s GOP), and a fourth whose RTSP server is stopped for ``--outage-s``. Each
fault is injected several times, a quiet stretch apart, and measured on the recordings
read model (what the Playback timeline draws) in a window around it:

- lost: seconds of that window without footage, per camera, median and worst;
- recovery: for a server, until it answers again; for ffmpeg and the ingest worker,
  from the kill to the first footage after it; for an outage, from the camera's return
  to its first footage;
- limit: what no recorder can avoid: 0 s for a server crash (ingest records through
  it), one GOP for a kill (the restart waits for the next keyframe), the outage itself.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from statistics import median

import psycopg
import redis
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.timeline import Span
from ingest.simcam.launcher import SimCamera, start_sim_cameras
from tests.ingest_support import free_port
from tests.stack_support import Stack, missing_s, now, running_stack

CAMERAS = ("Cam0", "Cam1", "Cam2")
GOP_S = 1.0


@dataclass
class Fault:
    name: str
    limit_s: float
    injected: list[tuple[datetime, float]] = field(default_factory=list)
    """(when, recovery seconds) for each injection."""
    cameras: tuple[str, ...] = CAMERAS


def wait_for(check: Callable[[], bool], timeout_s: float = 60) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        try:
            if check():
                return time.monotonic() - start
        except (redis.RedisError, psycopg.Error, OSError, ValueError):
            pass
        time.sleep(0.05)
    return float("nan")


def first_footage_after(stack: Stack, camera: str, moment: datetime) -> float:
    """Seconds from ``moment`` to the first footage that starts after it (from the
    closed and open segments once they are on the timeline)."""
    later = [s.start for s in stack.spans(camera) if s.start > moment]
    return (min(later) - moment).total_seconds() if later else float("nan")


def kill_server(stack: Stack, name: str, fault: Fault) -> None:
    old = stack.server_pid(name)
    at = now()
    os.kill(old, signal.SIGKILL)
    if name == "redis":
        client = redis.Redis.from_url(stack.redis_url, socket_timeout=1)
        recovery = wait_for(lambda: stack.server_pid(name) != old and bool(client.ping()))
    else:
        recovery = wait_for(lambda: stack.server_pid(name) != old and _pg_answers(stack))
    fault.injected.append((at, recovery))


def _pg_answers(stack: Stack) -> bool:
    with psycopg.connect(stack.database_url, connect_timeout=1) as conn:
        return conn.execute("SELECT 1").fetchone() == (1,)


def kill_process(stack: Stack, pids: Callable[[], list[int]], fault: Fault) -> None:
    at = now()
    for pid in pids():
        os.kill(pid, signal.SIGKILL)
    fault.injected.append((at, float("nan")))  # recovery read off the timeline later


def camera_outage(stack: Stack, camera: SimCamera, outage_s: float, fault: Fault) -> None:
    server = start_sim_cameras([camera])
    stack.wait_recording(fault.cameras)
    time.sleep(5)
    server.kill()
    server.wait(10)
    time.sleep(outage_s)
    back = now()
    server = start_sim_cameras([camera])
    fault.injected.append((back - timedelta(seconds=outage_s), float("nan")))
    time.sleep(15)
    server.terminate()
    server.wait(10)


def measure(stack: Stack, fault: Fault, window_s: float) -> list[float]:
    """Seconds lost around each injection, for every camera: from a second before it
    (the unflushed fragment) until ``window_s`` after it or the next injection."""
    lost = []
    times = [at for at, _ in fault.injected]
    for at, following in zip(times, [*times[1:], None], strict=True):
        end = at + timedelta(seconds=window_s)
        if following is not None:
            end = min(end, following - timedelta(seconds=1))
        window = Span(at - timedelta(seconds=1), end)
        lost.extend(missing_s(stack.spans(c), window) for c in fault.cameras)
    return lost


def recoveries(stack: Stack, fault: Fault, offset_s: float = 0.0) -> list[float]:
    out = []
    for at, recovery in fault.injected:
        if recovery == recovery:  # measured at injection
            out.append(recovery)
        else:
            moment = at + timedelta(seconds=offset_s)
            out.append(max(first_footage_after(stack, c, moment) for c in fault.cameras))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ffmpeg-kills", type=int, default=10)
    parser.add_argument("--server-kills", type=int, default=3)
    parser.add_argument("--outage-s", type=float, default=20.0)
    args = parser.parse_args()
    rng = random.Random(7)
    sims = [SimCamera(port=free_port(), path=f"cam{i}", overlay=False) for i in range(3)]
    flaky = SimCamera(port=free_port(), path="flaky", overlay=False)
    server = start_sim_cameras(sims)
    faults = {
        "redis": Fault("kill -9 embedded Redis", 0.0),
        "postgres": Fault("kill -9 PostgreSQL postmaster", 0.0),
        "ffmpeg": Fault("kill -9 one camera's ffmpeg", GOP_S, cameras=("Cam0",)),
        "ingest": Fault("kill -9 the ingest worker", GOP_S),
        "outage": Fault(f"camera gone {args.outage_s:.0f} s", args.outage_s, cameras=("Flaky",)),
    }
    try:
        with running_stack("ronin-faults-bench-") as stack:
            for name, sim in zip(CAMERAS, sims, strict=True):
                stack.add_camera(name, sim.url)
            stack.wait_recording(CAMERAS)
            time.sleep(3)
            for server_name in ("redis", "postgres"):
                for _ in range(args.server_kills):
                    kill_server(stack, server_name, faults[server_name])
                    time.sleep(12)
            for _ in range(args.ffmpeg_kills):
                kill_process(stack, lambda: stack.ffmpeg_pids("Cam0"), faults["ffmpeg"])
                time.sleep(rng.uniform(5, 15))
            for _ in range(args.server_kills):
                kill_process(stack, lambda: stack.worker_pids("ingest"), faults["ingest"])
                time.sleep(12)
            stack.add_camera("Flaky", flaky.url)
            camera_outage(stack, flaky, args.outage_s, faults["outage"])
            time.sleep(3)
            stack.wait_covered(CAMERAS, now() - timedelta(seconds=1), timeout_s=60)
            report(stack, faults, args.outage_s)
    finally:
        server.terminate()


def report(stack: Stack, faults: dict[str, Fault], outage_s: float) -> None:
    table = Table(title="Footage lost per fault (timeline), ours beside the limit")
    for column in ("fault", "times", "lost median s", "lost worst s", "recovery median s",
                   "recovery worst s", "limit s", "worst / limit"):  # fmt: skip
        table.add_column(column, justify="left" if column == "fault" else "right")
    for key, fault in faults.items():
        window = outage_s + 8 if key == "outage" else 8.0
        lost = measure(stack, fault, window)
        recovered = recoveries(stack, fault, outage_s if key == "outage" else 0.0)
        worst = max(lost)
        ratio = "-" if fault.limit_s == 0 else f"{worst / fault.limit_s:.2f}x"
        table.add_row(
            fault.name, str(len(fault.injected)), f"{median(lost):.2f}", f"{worst:.2f}",
            f"{median(recovered):.2f}", f"{max(recovered):.2f}", f"{fault.limit_s:.1f}", ratio,
        )  # fmt: skip
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
