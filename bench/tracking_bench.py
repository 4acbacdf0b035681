"""Tracking cost beside detection alone, and Review query latency, in one run.

    .venv/bin/python bench/tracking_bench.py [--model PATH] [--tracks 100000] [--requests 200]

1. Per analysed frame of a 640x360 clip made from real photographs (two people and a
   car walking through three zones, one object mask): detection alone
   (``OnnxDetector.detect`` at batch 1, letterbox and NMS included) beside detection
   plus what tracking adds (detection events, the object mask, the IoU tracker with
   its zone checks, track events): the overhead in percent.
2. Review page queries over ``--tracks`` tracked objects (4 cameras, 30 days, a tenth
   of them in two pieces): ``GET /api/review`` through the API on loopback (newest
   first; one day; one day, one camera, one label) beside the bare indexed SQL that
   reads the same tracks (the limit: no grouping, no item building), p50 and p99.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import psycopg
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api_bench import percentiles, served_api

from api.auth import Users
from detector.analysis import SegmentTracks, detection_events, unmasked
from detector.frames import SamplePlan, read_frames
from detector.model import DetectorConfig, OnnxDetector
from detector.tracking import TrackerConfig, TrackerState
from events.catalogue import Zone, ZoneConfig
from infra.embedded import stores_for
from projector.migrations import migrate
from projector.postgres import PostgresReadModels
from projector.readmodels import detections_projection
from projector.readmodels.jobs import JOBS
from projector.readmodels.tracks import TRACKS
from tests.detection_support import MODEL_PATH, Scene, scene_clip, segment_for

console = Console()
MODEL = "yolox_nano-bench"
START = datetime(2026, 10, 1, tzinfo=UTC)
ZONES = ZoneConfig(
    zones=(
        Zone(name="porch", points=((0.3, 0.7), (0.7, 0.7), (0.7, 1.0), (0.3, 1.0))),
        Zone(name="drive", points=((0.0, 0.5), (0.3, 0.5), (0.3, 1.0), (0.0, 1.0)),
             labels=("car",), loitering_s=5),
        Zone(name="lawn", points=((0.7, 0.5), (1.0, 0.5), (1.0, 1.0), (0.7, 1.0)), inertia=5),
    ),
    required_zones=("porch",),
    object_masks=(((0.9, 0.0), (1.0, 0.0), (1.0, 0.1)),),
)  # fmt: skip


def tracking_overhead(model: Path, seconds: float) -> tuple[float, float, int]:
    """(detection ms per frame, tracking ms per frame, frames), best of three passes."""
    detector = OnnxDetector(model, DetectorConfig(confidence_threshold=0.5))
    root = Path(tempfile.mkdtemp(prefix="ronin-trackbench-"))
    scenes = [Scene("astronaut", 1.0, seconds - 2, 0.05, 0.1, 0.85),
              Scene("coffee", 3.0, seconds - 1, 0.55, 0.3, 0.5),
              Scene("chelsea", 5.0, seconds, 0.75, 0.5, 0.45)]  # fmt: skip
    scene_clip(root / "Door/a.mp4", scenes, seconds)
    segment = segment_for(root, "Door/a.mp4", seconds)
    frames = list(read_frames(root / segment.path, SamplePlan(fps=5, width=640, height=360)))
    best_detect = best_track = float("inf")
    for _ in range(3):
        tracks = SegmentTracks(segment, detector.model_id, TrackerConfig(), TrackerState(), ZONES)
        detect_s = track_s = 0.0
        for frame in frames:
            started = time.perf_counter()
            [objects] = detector.detect([frame.image])
            detected = time.perf_counter()
            events = unmasked(detection_events(segment, detector.model_id, frame, objects), ZONES)
            tracks.frame(events, frame.offset_s)
            track_s += time.perf_counter() - detected
            detect_s += detected - started
        tracks.end()
        best_detect = min(best_detect, detect_s / len(frames) * 1000)
        best_track = min(best_track, track_s / len(frames) * 1000)
    return best_detect, best_track, len(frames)


def fill_tracks(url: str, n: int) -> list[UUID]:
    """``n`` tracks as the projector writes them: 4 cameras, 30 days, visits at random."""
    cameras = [uuid4() for _ in range(4)]
    sink = PostgresReadModels(psycopg.connect(url))
    sink.ensure(detections_projection())
    rng = random.Random(1)
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY detections.tracks ({', '.join(TRACKS.columns)}) FROM STDIN") as copy:
            for _ in range(n):
                camera = rng.choice(cameras)
                start = START + timedelta(seconds=rng.uniform(0, 30 * 86400))
                seen = start + timedelta(seconds=rng.expovariate(1 / 20))
                label = rng.choice(("person", "person", "car", "dog", "bicycle"))
                zones = rng.choice(("", "porch", "drive", "porch,lawn"))
                track_id, pieces = uuid4(), 2 if rng.random() < 0.1 else 1
                for k in range(pieces):
                    piece = str(uuid4())
                    copy.write_row((
                        track_id, piece, camera, MODEL, label, start, seen, uuid4(), start,
                        rng.uniform(0.5, 1), 0.1, 0.1, 0.3, 0.9, rng.random() < 0.2, 10,
                        k == pieces - 1, zones, "porch" in zones, f"{MODEL}/{piece}",
                    ))  # fmt: skip
        row: dict[str, object] = dict.fromkeys(JOBS.columns)
        row.update(job_id=uuid4(), segment_id=uuid4(), camera_id=cameras[0], segment_start=START,
                   model_id=MODEL, reprocess=False, status="done", attempt=1,
                   started_at=START)  # fmt: skip
        marks = ", ".join(["%s"] * len(row))
        cur.execute(f"INSERT INTO detections.jobs ({', '.join(row)}) VALUES ({marks})",
                    list(row.values()))  # fmt: skip
        cur.execute("ANALYZE")
        Users(conn).add("bench", "bench password 1", role="admin")
    return cameras


BARE_SQL = (
    "SELECT track_id, camera_id, label, start, last_seen FROM detections.tracks"
    " WHERE model_id = %s AND (camera_id = %s OR %s::uuid IS NULL)"
    " AND (last_seen >= %s OR %s::timestamptz IS NULL) AND (start < %s OR %s::timestamptz IS NULL)"
    " AND (label = %s OR %s::text IS NULL) ORDER BY start DESC LIMIT 100"
)
"""The tracks a Review page shows, read bare (what the grouping starts from)."""


def review_latency(args: argparse.Namespace, data: Path, redis_url: str, url: str) -> Table:
    with psycopg.connect(url) as conn:
        migrate(conn)
    console.print(f"filling {args.tracks:,} tracks")
    cameras = fill_tracks(url, args.tracks)
    with served_api(redis_url, url, data, ALERT_CLASSES="person,car") as client:
        conn = psycopg.connect(url)
        day = START + timedelta(days=15)
        cases = {
            "newest 100": {},
            "one day": {"start": day, "end": day + timedelta(days=1)},
            "day, camera, label": {"start": day, "end": day + timedelta(days=1),
                                   "camera_id": cameras[0], "label": "person"},
        }  # fmt: skip
        table = Table(title=f"Review page, {args.tracks:,} tracks, {args.requests} requests")
        for column in ("query", "ours p50 ms", "ours p99 ms", "SQL p50 ms", "SQL p99 ms",
                       "p50 ratio", "p99 ratio"):  # fmt: skip
            table.add_column(column, justify="right")
        for name, where in cases.items():
            params = {k: v.isoformat() if isinstance(v, datetime) else str(v)
                      for k, v in where.items()}  # fmt: skip

            def ours(params: dict[str, str] = params) -> None:
                response = client.get("/api/review", params=params)
                assert response.status_code == 200 and response.json(), response.text

            def bare(where: dict[str, object] = where) -> None:
                camera, s, e, label = (where.get(k) for k in ("camera_id", "start", "end", "label"))
                conn.execute(BARE_SQL, (MODEL, camera, camera, s, s, e, e, label, label)).fetchall()

            o50, o99 = percentiles(ours, args.requests)
            b50, b99 = percentiles(bare, args.requests)
            table.add_row(name, f"{o50:.1f}", f"{o99:.1f}", f"{b50:.2f}", f"{b99:.2f}",
                          f"{o50 / b50:.0f}x", f"{o99 / b99:.0f}x")  # fmt: skip
        return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=MODEL_PATH)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--tracks", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    if args.model.is_file():
        detect_ms, track_ms, frames = tracking_overhead(args.model, args.seconds)
        table = Table(title=f"Per analysed frame, 640x360, {frames} frames, 3 zones, 1 mask")
        for column in ("detection alone ms", "tracking + zones ms", "overhead", "aim"):
            table.add_column(column, justify="right")
        table.add_row(f"{detect_ms:.2f}", f"{track_ms:.3f}",
                      f"{track_ms / detect_ms:.1%}", "<= 5 %")  # fmt: skip
        console.print(table)
    else:
        console.print(f"[yellow]no model at {args.model}: tracking overhead skipped")
    data = Path(tempfile.mkdtemp(prefix="ronin-trackbench-", dir="/tmp"))
    data.chmod(0o755)
    with stores_for(data, None, None) as (redis_url, database_url):
        console.print(review_latency(args, data, redis_url, database_url))


if __name__ == "__main__":
    main()
