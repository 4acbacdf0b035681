"""The compose stack beside the embedded default, on the same cameras in the same run.

    .venv/bin/python bench/compose_bench.py [--cameras 4] [--seconds 120] [--cold]

Simulated 720p cameras (the wall-clock time burned in) are recorded first by
``ronin up``, then by the compose stack as shipped (images built here from the
debootstrap base). For each: CPU seconds per camera-minute over the same steady window
(every process of ``ronin up``; every container of the project, from its cgroup), and
the live view's latency glass to browser through the Live page in headless Chromium
(``ui/e2e/latency.mjs``; compose: through nginx and the WebSocket). Detection is off in
both (ML_ENABLED=false): this measures recording, live and the platform around them.
Aim: containers <= 1.05x the embedded default. Also the images' build time (``--cold``
empties Docker's build cache first) and the rebuild from the cache.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from statistics import median

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest.simcam.launcher import SimCamera, start_sim_cameras
from tests.compose_support import (
    ADMIN_PASSWORD,
    ROOT,
    Compose,
    build,
    configure,
    copy_project,
    docker,
    docker_engine,
    signed_in,
    wait_answering,
)
from tests.conftest import make_data_dir
from tests.test_up import free_port, stop_up, wait_healthy

AIM = 1.05


def cgroup_cpu(folder: Path) -> float:
    """CPU seconds a cgroup's processes used so far, those that exited included
    (cgroup v1 cpuacct, or v2 cpu.stat)."""
    if (folder / "cpuacct.usage").exists():
        return int((folder / "cpuacct.usage").read_text()) / 1e9
    usage = dict(line.split() for line in (folder / "cpu.stat").read_text().splitlines())
    return int(usage["usage_usec"]) / 1e6


def container_cpu(ids: list[str]) -> float:
    folders = [Path(f"/sys/fs/cgroup/cpuacct/docker/{cid}") for cid in ids]
    if not folders or not folders[0].exists():
        folders = [Path(f"/sys/fs/cgroup/system.slice/docker-{cid}.scope") for cid in ids]
    return sum(cgroup_cpu(f) for f in folders)


@contextlib.contextmanager
def own_cgroup() -> Iterator[Path]:
    """A cgroup for ``ronin up`` and everything it starts, measured as Docker measures a
    container (a process tree read from /proc misses the processes that came and went)."""
    v1 = Path("/sys/fs/cgroup/cpuacct")
    folder = (v1 if v1.is_dir() else Path("/sys/fs/cgroup")) / f"ronin-bench-{os.getpid()}"
    folder.mkdir()
    try:
        yield folder
    finally:
        for pid in (folder / "cgroup.procs").read_text().split():
            with contextlib.suppress(OSError):
                (folder.parent / "cgroup.procs").write_text(pid)
        folder.rmdir()


def latency(base_url: str, password: str) -> float:
    run = subprocess.run(
        ["node", "e2e/latency.mjs"], cwd=ROOT / "ui", capture_output=True, text=True,
        env={"PATH": os.environ["PATH"], "BASE_URL": base_url, "PASSWORD": password,
             "LIVE_PATH": "mse", "SAMPLES": "20"}, timeout=300, check=True,
    )  # fmt: skip
    measured = json.loads(run.stdout.strip().splitlines()[-1])
    assert measured["path"] == "mse", measured
    return float(median(measured["latencies"]))


def add_cameras(base_url: str, urls: list[str]) -> None:
    client = signed_in(base_url)
    for i, url in enumerate(urls):
        answer = client.post("/api/cameras", json={"name": f"Cam{i}", "rtsp_url": url})
        assert answer.status_code == 202, answer.text


def embedded(urls: list[str], seconds: float) -> tuple[float, float]:
    data, port = make_data_dir("ronin-compose-bench-"), free_port()
    env = {**os.environ, "RONIN_DATA_DIR": str(data), "API_PORT": str(port),
           "ADMIN_PASSWORD": ADMIN_PASSWORD, "ML_ENABLED": "false",
           "SEGMENT_SECONDS": "60"}  # fmt: skip
    for name in ("REDIS_URL", "DATABASE_URL", "ML_MODEL_PATH"):
        env.pop(name, None)
    with own_cgroup() as cgroup:
        join = cgroup / "cgroup.procs"
        proc = subprocess.Popen([sys.executable, "-m", "infra.cli", "up"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                start_new_session=True,
                                preexec_fn=lambda: join.write_text(str(os.getpid())))  # fmt: skip
        try:
            wait_healthy(port, proc)
            base = f"http://127.0.0.1:{port}"
            add_cameras(base, urls)
            time.sleep(20)  # past the start
            before = cgroup_cpu(cgroup)
            time.sleep(seconds)
            used = cgroup_cpu(cgroup) - before
            return used, latency(base, ADMIN_PASSWORD)
        finally:
            stop_up(proc)


def containers(compose: Compose, urls: list[str], seconds: float) -> tuple[float, float]:
    compose.run("up", "-d")
    try:
        wait_answering(compose.base_url)
        add_cameras(compose.base_url, urls)
        time.sleep(20)
        ids = [line for line in docker("ps", "-q", "--no-trunc", "--filter",
               f"label=com.docker.compose.project={compose.name}").split()]  # fmt: skip
        before = container_cpu(ids)
        time.sleep(seconds)
        used = container_cpu(ids) - before
        return used, latency(compose.base_url, ADMIN_PASSWORD)
    finally:
        compose.run("down", "-v", timeout=300)


@contextlib.contextmanager
def cameras(count: int) -> Iterator[list[SimCamera]]:
    """Listening on every address: the host reaches them on loopback, the containers on
    their network's gateway."""
    chosen = [SimCamera(port=free_port(), path=f"cam{i}", width=1280, height=720,
                        host="0.0.0.0") for i in range(count)]  # fmt: skip
    server = start_sim_cameras(chosen)
    try:
        yield chosen
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--cold", action="store_true", help="build without Docker's cache")
    args = parser.parse_args()
    console = Console()
    with docker_engine() as missing, tempfile.TemporaryDirectory() as tmp:
        if missing:
            raise SystemExit(missing)
        compose = Compose(copy_project(Path(tmp) / "ronin"), "roninbench", free_port(), free_port())
        configure(compose, Path(tmp), ML_ENABLED="false", SEGMENT_SECONDS="60")
        built, cached = build(compose, cold=args.cold)
        with cameras(args.cameras) as sims:
            gateway = "172.30.80.1"  # compose.yaml's network
            ours = embedded([c.url.replace("0.0.0.0", "127.0.0.1") for c in sims], args.seconds)
            theirs = containers(compose, [c.url.replace("0.0.0.0", gateway) for c in sims],
                                args.seconds)  # fmt: skip
    minutes = args.cameras * args.seconds / 60
    table = Table(title=f"{args.cameras} cameras (720p H.264, 15 fps), {args.seconds:.0f} s")
    for column in ("", "embedded (ronin up)", "compose", "compose / embedded"):
        table.add_column(column, justify="right")
    table.add_row(
        "CPU s per camera-minute",
        f"{ours[0] / minutes:.3f}",
        f"{theirs[0] / minutes:.3f}",
        f"{theirs[0] / ours[0]:.2f}x (aim <= {AIM})",
    )
    table.add_row("live latency, median s", f"{ours[1]:.3f}", f"{theirs[1]:.3f}",
                  f"{theirs[1] / ours[1]:.2f}x")  # fmt: skip
    console.print(table)
    console.print(f"images built in {built:.0f} s ({'cold' if args.cold else 'as cached'}),"
                  f" rebuilt with nothing changed in {cached:.0f} s")  # fmt: skip


if __name__ == "__main__":
    main()
