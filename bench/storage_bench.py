"""Storage: H.265 transcoding speed and size, and retention purge throughput.

    .venv/bin/python bench/storage_bench.py [--seconds 60] [--segments 2000]

1. Transcoding a 1080p H.264 segment (15 fps, 1-s GOP, a busy synthetic scene at the
   bitrate a camera uses, 4 Mb/s) with our settings (libx265, CRF 28, preset fast,
   one thread, nice 19), verification included: times real time, and the size ratio.
   Beside it the limit: the same encode alone (no verification), with all cores.
2. Purging ``--segments`` segments with the retention worker (RetentionPurged events,
   files deleted, then the projector's read-model updates until the rows are gone):
   segments per second, beside the limit of deleting the same files with ``os.unlink``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import psycopg
import redis
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from events.archive import EventArchive, EventLog
from events.catalogue import SegmentClosed
from events.store import RedisEventStore
from infra.embedded import stores_for
from ingest.lifecycle.retention import PostgresStorageCatalog, RetentionConfig, RetentionWorker
from ingest.lifecycle.retention_policy import Limits, RetentionPolicy
from ingest.lifecycle.transcode import Candidate, Transcoder, TranscodeSettings, transcode_command
from ingest.probe import probe
from projector.migrations import migrate
from projector.postgres import PostgresReadModels
from projector.readmodels import recordings_projection
from projector.runner import ProjectionRunner

console = Console()


def make_segment(path: Path, seconds: float) -> None:
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i",
         f"testsrc2=size=1920x1080:rate=15:duration={seconds}", "-vf", "noise=alls=12:allf=t",
         "-c:v", "libx264", "-preset", "veryfast", "-b:v", "4M", "-maxrate", "4M",
         "-bufsize", "8M", "-g", "15", "-y", str(path)],
        check=True,
    )  # fmt: skip


class _NoQueue:
    def due(self, older_than: datetime, limit: int = 20) -> list[Candidate]:
        return []


def transcode_table(work: Path, seconds: float) -> Table:
    source = work / "seg.mp4"
    make_segment(source, seconds)
    info = probe(source)
    size = source.stat().st_size
    table = Table(title=f"H.265 transcode of a {seconds:g}-s 1080p H.264 segment "
                        f"({size * 8 / seconds / 1e6:.1f} Mb/s)")  # fmt: skip
    for column in ("run", "x real time", "size ratio (new/old)", "ours/limit time"):
        table.add_column(column, justify="right")
    copy = work / "Cam/2026-01-01/00-00-00.mp4"
    copy.parent.mkdir(parents=True)
    shutil.copy(source, copy)
    ours = Transcoder(work, _NoQueue(), lambda e: None, TranscodeSettings())  # type: ignore[arg-type]
    candidate = Candidate(uuid4(), uuid4(), "Cam/2026-01-01/00-00-00.mp4", size, "h264",
                          info.duration_s, info.fps)  # fmt: skip
    started = time.perf_counter()
    ours.transcode(candidate)
    ours_s = time.perf_counter() - started
    new_size = copy.stat().st_size
    limit_target = work / "limit.mp4"
    settings = TranscodeSettings(threads=os.cpu_count() or 1)
    started = time.perf_counter()
    subprocess.run(transcode_command(source, limit_target, settings), check=True)
    limit_s = time.perf_counter() - started
    table.add_row("ours (1 thread, nice 19, verified)", f"{seconds / ours_s:.2f}x",
                  f"{new_size / size:.2f}", f"{ours_s / limit_s:.2f}x")  # fmt: skip
    table.add_row(f"limit (encode only, {settings.threads} threads)", f"{seconds / limit_s:.2f}x",
                  f"{limit_target.stat().st_size / size:.2f}", "1.00x")  # fmt: skip
    return table


def purge_table(work: Path, n: int) -> Table:
    data = work / "stack"
    data.mkdir()
    data.chmod(0o755)
    with stores_for(data, None, None) as (redis_url, database_url):
        return purge_measured(work, n, redis_url, database_url)


def purge_measured(work: Path, n: int, redis_url: str, database_url: str) -> Table:
    with psycopg.connect(database_url) as conn:
        migrate(conn)
    store = RedisEventStore(redis.Redis.from_url(redis_url))
    root = work / "recordings"
    camera, start = uuid4(), datetime(2026, 1, 1, tzinfo=UTC)

    def lay_out(folder: Path) -> list[SegmentClosed]:
        events = []
        for i in range(n):
            at = start + timedelta(minutes=15 * i)
            relative = f"Cam/{at:%Y-%m-%d}/{at:%H-%M-%S}.mp4"
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            (folder / relative).write_bytes(b"\0" * 4096)
            events.append(SegmentClosed(
                segment_id=uuid4(), camera_id=camera, path=relative, start=at,
                end=at + timedelta(minutes=15), duration_s=900.0, bytes=4096,
                video_codec="h264", width=1920, height=1080, fps=15.0, audio_codec=None,
            ))  # fmt: skip
        return events

    store.append_many(lay_out(root))
    sink = PostgresReadModels(psycopg.connect(database_url))
    log = EventLog(store, EventArchive(psycopg.connect(database_url)))
    runner = ProjectionRunner(recordings_projection(), store, log, sink, "bench")
    while runner.step():
        pass
    worker = RetentionWorker(
        store.append, PostgresStorageCatalog(psycopg.connect(database_url)), root,
        RetentionConfig(policy=RetentionPolicy(Limits(max_bytes=0))),
    )  # fmt: skip
    started = time.perf_counter()
    purged = len(worker.apply_policy())
    while runner.step():
        pass
    ours_s = time.perf_counter() - started
    with psycopg.connect(database_url) as conn:
        left = conn.execute("SELECT count(*) FROM recordings.segments").fetchone()
    assert purged == n and left == (0,), (purged, left)

    bare_root = work / "bare"
    paths = [bare_root / e.path for e in lay_out(bare_root)]
    started = time.perf_counter()
    for path in paths:
        path.unlink()
    bare_s = time.perf_counter() - started
    table = Table(title=f"retention purge of {n:,} segments")
    for column in ("run", "segments/s", "limit/ours"):
        table.add_column(column, justify="right")
    table.add_row("ours (event, delete, read models updated)", f"{n / ours_s:,.0f}",
                  f"{(n / bare_s) / (n / ours_s):.1f}x slower")  # fmt: skip
    table.add_row("limit (os.unlink only)", f"{n / bare_s:,.0f}", "")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--segments", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ronin-storagebench-", dir="/tmp") as tmp:
        work = Path(tmp)
        work.chmod(0o755)
        console.print(transcode_table(work, args.seconds))
        console.print(purge_table(work, args.segments))


if __name__ == "__main__":
    main()
