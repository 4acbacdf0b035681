"""Live view latency, glass to browser, in real headless Chromium: MSE beside HLS.

    .venv/bin/python bench/live_latency_bench.py [--samples 20] [--viewers 1,8]

One ``ronin up --demo`` (the demo camera: 720p H.264, 15 fps, 1-s GOP, the wall-clock
time burned into each frame as squares) is watched through the Live page by 1 and by 8
browsers at once (each its own browser context), first over the WebSocket (MSE), then
over HLS. For each sample ``ui/e2e/latency.mjs`` reads the time in the frame Chromium
presents and compares it with the wall clock at presentation: what a person looking at
the tile sees, not a proxy on disk. Aim: median <= 0.5 s, p95 <= 0.8 s. Beside it, the
API's CPU while the browsers watch (logins and page loads included: an upper bound of
what the live feed costs).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from statistics import median, quantiles

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest_bench import running_cpu

from tests.conftest import make_data_dir
from tests.test_up import free_port, stop_up, wait_healthy

ROOT = Path(__file__).resolve().parents[1]
UI = ROOT / "ui"
PASSWORD = "latency bench password 1"
AIM_MEDIAN_S, AIM_P95_S = 0.5, 0.8


def api_pids() -> list[int]:
    """The API processes ``ronin up`` started (``infra.cli api``)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            words = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"infra.cli" in words and b"api" in words:
            found.append(int(proc.name))
    return found


def p95(values: list[float]) -> float:
    return quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


def measure(base: str, path: str, viewers: int, samples: int) -> list[float]:
    run = subprocess.run(
        ["node", "e2e/latency.mjs"],
        cwd=UI,
        env={**os.environ, "BASE_URL": base, "PASSWORD": PASSWORD, "LIVE_PATH": path,
             "VIEWERS": str(viewers), "SAMPLES": str(samples)},
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    if run.returncode != 0:
        raise SystemExit(f"latency.mjs failed ({path}, {viewers}):\n{run.stdout}{run.stderr}")
    result = json.loads(run.stdout.strip().splitlines()[-1])
    if result["path"] != path:
        raise SystemExit(f"the tile played through {result['path']}, not {path}")
    return [float(v) for v in result["latencies"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--viewers", default="1,8")
    args = parser.parse_args()
    if not (UI / "dist" / "index.html").is_file() or shutil.which("node") is None:
        raise SystemExit("build the UI first: bash infra/bootstrap.sh setup")
    console = Console(width=140)
    data, port = make_data_dir("ronin-latency-"), free_port()
    env = {**os.environ, "RONIN_DATA_DIR": str(data), "API_PORT": str(port),
           "ADMIN_PASSWORD": PASSWORD, "UI_DIST": str(UI / "dist")}  # fmt: skip
    for name in ("REDIS_URL", "DATABASE_URL", "ML_MODEL_PATH"):
        env.pop(name, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "infra.cli", "up", "--demo"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    table = Table(title="Live view latency, glass to browser (headless Chromium, 720p demo)")
    for column in ("path", "viewers", "samples", "median s", "p95 s", "worst s", "aim",
                   "API CPU %"):  # fmt: skip
        table.add_column(column)
    try:
        wait_healthy(port, proc)
        for viewers in [int(v) for v in args.viewers.split(",")]:
            for path in ("mse", "hls"):
                console.print(f"{path}, {viewers} viewer(s)")
                pids, started = api_pids(), time.monotonic()
                before = running_cpu(pids)
                got = measure(f"http://127.0.0.1:{port}", path, viewers, args.samples)
                api = 100 * (running_cpu(pids) - before) / (time.monotonic() - started)
                met = median(got) <= AIM_MEDIAN_S and p95(got) <= AIM_P95_S
                aim = f"<= {AIM_MEDIAN_S} / {AIM_P95_S} " + ("met" if met else "missed")
                table.add_row(path, str(viewers), str(len(got)), f"{median(got):.2f}",
                              f"{p95(got):.2f}", f"{max(got):.2f}", aim, f"{api:.1f}")  # fmt: skip
    finally:
        stop_up(proc)
        shutil.rmtree(data, ignore_errors=True)
    console.print(table)


if __name__ == "__main__":
    main()
