"""Timeline and segment-list latency: the API on loopback beside a bare SQL query.

    .venv/bin/python bench/api_bench.py [--days 30] [--detections 100000] [--requests 300]

One camera with ``--days`` of 15-minute segments and ``--detections`` detections spread
over them as visits (10-80 detections half a second apart, at random times), written
straight into the read models as the projector would; the API served by uvicorn on
127.0.0.1, and a load generator (httpx, keep-alive, one request at
a time) asking for a day's timeline (segments, gaps, detection markers) and a day's
segment list. The limit is the bare SQL of the same rows, on a warm connection.
"""

from __future__ import annotations

import argparse
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import httpx
import numpy as np
import psycopg
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.auth import Users
from infra.embedded import stores_for, wait_until
from projector.migrations import migrate
from projector.postgres import PostgresReadModels
from projector.readmodels import detections_projection, recordings_projection
from projector.readmodels.detections import DETECTIONS
from projector.readmodels.jobs import JOBS
from projector.readmodels.segments import SEGMENTS

console = Console()
MODEL = "yolox_nano-bench"
SEGMENTS_SQL = (
    "SELECT segment_id, start_at, end_at, duration_s, bytes, video_codec, width, height,"
    " recovered FROM recordings.segments WHERE camera_id = %s AND end_at > %s"
    " AND start_at < %s ORDER BY start_at"
)
"""The rows the segment list returns (what the API's query reads)."""


def fill(url: str, days: int, detections: int) -> tuple[str, date]:
    camera, start = uuid4(), datetime(2026, 10, 1, tzinfo=UTC)
    sink = PostgresReadModels(psycopg.connect(url))
    for projection in (recordings_projection(), detections_projection()):
        sink.ensure(projection)
    segments = days * 96
    rng = random.Random(1)
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        columns = ", ".join(SEGMENTS.columns)
        with cur.copy(f"COPY recordings.segments ({columns}) FROM STDIN") as copy:
            for i in range(segments):
                at = start + timedelta(minutes=15 * i)
                copy.write_row((uuid4(), camera, f"Door/{at:%Y-%m-%d/%H-%M-%S}.mp4", at,
                                at + timedelta(minutes=15), 900.0, 200_000_000, "h264", 1920,
                                1080, 15.0, "aac", False, None))  # fmt: skip
        columns = ", ".join(DETECTIONS.columns)
        with cur.copy(f"COPY detections.detections ({columns}) FROM STDIN") as copy:
            written = 0
            while written < detections:  # visits: 10-80 detections 0.5 s apart
                offset = rng.uniform(0, days * 86400 - 60)
                label = rng.choice(("person", "person", "car", "dog"))
                for k in range(min(rng.randint(10, 80), detections - written)):
                    at = start + timedelta(seconds=offset + k / 2)
                    confidence = rng.uniform(0.5, 1)
                    copy.write_row((uuid4(), camera, uuid4(), MODEL, at, offset % 900, label,
                                    0, confidence, 0.1, 0.1, 0.5, 0.9, 0, False))  # fmt: skip
                    written += 1
        row: dict[str, object] = dict.fromkeys(JOBS.columns)
        row.update(job_id=uuid4(), segment_id=uuid4(), camera_id=camera, segment_start=start,
                   model_id=MODEL, reprocess=False, status="done", attempt=1,
                   started_at=start)  # fmt: skip
        marks = ", ".join(["%s"] * len(row))
        cur.execute(
            f"INSERT INTO detections.jobs ({', '.join(row)}) VALUES ({marks})", list(row.values())
        )
        cur.execute("ANALYZE")
        Users(conn).add("bench", "bench password 1", role="admin")
    return str(camera), (start + timedelta(days=days // 2)).date()


def percentiles(run: Callable[[], object], n: int) -> tuple[float, float]:
    for _ in range(10):
        run()
    times = []
    for _ in range(n):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return float(np.percentile(times, 50)) * 1000, float(np.percentile(times, 99)) * 1000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--detections", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="ronin-apibench-", dir="/tmp"))
    data.chmod(0o755)
    with stores_for(data, None, None) as (redis_url, database_url):
        measure(args, data, redis_url, database_url)


@contextmanager
def served_api(redis_url: str, database_url: str, data: Path, **env: str) -> Iterator[httpx.Client]:
    """``ronin api`` on a free loopback port, and a client logged in as ``bench``."""
    port = free_port()
    environment = {"REDIS_URL": redis_url, "DATABASE_URL": database_url,
                   "RONIN_DATA_DIR": str(data), "PATH": "/usr/bin:/bin", **env}  # fmt: skip
    api = subprocess.Popen(
        [sys.executable, "-m", "infra.cli", "api", "--port", str(port)],
        env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: server_up(base), 60, "api")
        client = httpx.Client(base_url=base, timeout=60)
        token = client.post(
            "/api/auth/login", json={"username": "bench", "password": "bench password 1"}
        ).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        yield client
    finally:
        api.terminate()
        api.wait()


def measure(args: argparse.Namespace, data: Path, redis_url: str, database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        migrate(conn)
    console.print(f"filling {args.days} days of segments and {args.detections:,} detections")
    camera, day = fill(database_url, args.days, args.detections)
    with served_api(redis_url, database_url, data) as client:
        day_start = datetime.combine(day, datetime.min.time(), UTC)
        day_end = day_start + timedelta(days=1)
        conn = psycopg.connect(database_url)

        def timeline() -> None:
            response = client.get(f"/api/cameras/{camera}/timeline", params={"day": str(day)})
            assert response.status_code == 200 and response.json()["markers"]

        def segments() -> None:
            response = client.get(
                f"/api/cameras/{camera}/segments",
                params={"start": day_start.isoformat(), "end": day_end.isoformat()},
            )
            assert len(response.json()) == 96

        def sql_segments() -> None:
            conn.execute(SEGMENTS_SQL, (camera, day_start, day_end)).fetchall()

        def sql_timeline() -> None:
            sql_segments()
            conn.execute(
                "SELECT label, detected_at, confidence FROM detections.detections"
                " WHERE camera_id = %s AND model_id = %s AND NOT live"
                " AND detected_at >= %s AND detected_at < %s",
                (camera, MODEL, day_start, day_end),
            ).fetchall()

        title = f"API latency, {args.days} days x 96 segments, {args.detections:,} detections"
        table = Table(title=f"{title}, {args.requests} requests")
        for column in ("endpoint", "ours p50 ms", "ours p99 ms", "SQL p50 ms", "SQL p99 ms",
                       "p50 ratio", "p99 ratio"):  # fmt: skip
            table.add_column(column, justify="right")
        for name, ours, bare in (("day timeline", timeline, sql_timeline),
                                 ("segment list", segments, sql_segments)):  # fmt: skip
            o50, o99 = percentiles(ours, args.requests)
            b50, b99 = percentiles(bare, args.requests)
            table.add_row(name, f"{o50:.2f}", f"{o99:.2f}", f"{b50:.2f}", f"{b99:.2f}",
                          f"{o50 / b50:.1f}x", f"{o99 / b99:.1f}x")  # fmt: skip
        console.print(table)


def server_up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/api/health", timeout=1).status_code in (200, 503)
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    main()
