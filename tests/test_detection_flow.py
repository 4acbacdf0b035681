"""Detection through real Redis Streams and PostgreSQL: jobs, read models, API, takeover,
reprocessing with a second model, and live frames → debounced alert with a snapshot."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from uuid import UUID

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import ApiConfig, create_app
from api.auth import Users
from detector.alerts import AlertsConfig, AlertWorker
from detector.debounce import DebouncePolicy
from detector.historical import HistoricalConfig, HistoricalDetector, reprocess_group
from detector.live import LiveDetector, RingTap
from detector.model import DetectorConfig, OnnxDetector
from events.archive import EventArchive, EventLog
from events.catalogue import AlertRaised, CameraAdded, DetectionJobFailed, Topic
from events.codec import decode
from events.progress import JobBoard
from events.store import ZERO, RedisEventStore
from projector.postgres import PostgresReadModels
from projector.readmodels import (
    alerts_projection,
    cameras_projection,
    detections_projection,
    recordings_projection,
    tracks,
)
from projector.runner import ProjectionRunner
from tests.conftest import Servers
from tests.detection_support import (
    PERSON_AND_MOTORCYCLE,
    Scene,
    require_model,
    scene_clip,
    segment_for,
)

SECRET = "test-secret-" + "y" * 40


@pytest.fixture(scope="module")
def model() -> Path:
    return require_model()


@pytest.fixture(scope="module")
def detector(model: Path) -> OnnxDetector:
    return OnnxDetector(model, DetectorConfig(confidence_threshold=0.5))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    scene_clip(tmp_path / "Door/2026-11-24/08-00-00.mp4", PERSON_AND_MOTORCYCLE, 30)
    return tmp_path


def project(store: RedisEventStore, database_url: str, archive: EventArchive) -> None:
    """Apply everything appended so far to the PostgreSQL read models."""
    sink = PostgresReadModels(psycopg.connect(database_url))
    log = EventLog(store, archive)
    for projection in (
        cameras_projection(),
        recordings_projection(),
        detections_projection(),
        alerts_projection(),
    ):
        runner = ProjectionRunner(projection, store, log, sink, "test")
        while runner.step():
            pass
        runner.release()


def historical(
    store: RedisEventStore,
    event_log: EventLog,
    detector: OnnxDetector,
    root: Path,
    consumer: str = "w1",
    **config: object,
) -> HistoricalDetector:
    return HistoricalDetector(
        store,
        event_log,
        detector,
        root,
        consumer,
        HistoricalConfig(**config),  # type: ignore[arg-type]
    )


def login(client: TestClient) -> dict[str, str]:
    token = client.post(
        "/api/auth/login", json={"username": "alice", "password": "correct horse battery"}
    ).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def camera_for(store: RedisEventStore, camera_id: UUID) -> None:
    store.append(
        CameraAdded(camera_id=camera_id, name="Door", directory="Door", rtsp_url="rtsp://x/door")
    )


def test_a_closed_segment_becomes_a_job_detections_and_timeline_markers(
    servers: Servers,
    store: RedisEventStore,
    event_log: EventLog,
    archive: EventArchive,
    database_url: str,
    detector: OnnxDetector,
    root: Path,
) -> None:
    segment = segment_for(root, "Door/2026-11-24/08-00-00.mp4", 30)
    camera_for(store, segment.camera_id)
    store.append(segment)
    worker = historical(store, event_log, detector, root)
    assert worker.backlog() == 0  # the group does not exist yet
    assert worker.step() == 1 and worker.step() == 0
    project(store, database_url, archive)
    with psycopg.connect(database_url) as conn:
        job = conn.execute(
            "SELECT status, attempt, frames_sampled, frames_analysed, frames_skipped, detections"
            " FROM detections.jobs"
        ).fetchone()
        labels = conn.execute(
            "SELECT label, count(*) FROM detections.detections GROUP BY label ORDER BY label"
        ).fetchall()
        Users(conn).add("alice", "correct horse battery", role="admin")
    # the empty wall is skipped; while something is tracked a frame a second is looked at
    assert job is not None and job[:3] == ("done", 1, 60) and job[4] > 20
    assert [label for label, _ in labels] == ["motorcycle", "person"]
    assert job[5] == sum(n for _, n in labels)

    config = ApiConfig(servers.redis_url, database_url, root / "none.duckdb", [],
                       jwt_secret=SECRET, storage_root=root)  # fmt: skip
    with TestClient(create_app(config)) as client:
        headers = login(client)
        timeline = client.get(
            f"/api/cameras/{segment.camera_id}/timeline",
            params={"day": "2026-11-24"},
            headers=headers,
        ).json()
        assert timeline["model_id"] == detector.model_id
        marks = {m["label"]: m for m in timeline["markers"]}
        assert set(marks) == {"person", "motorcycle"}
        assert marks["person"]["start"].startswith("2026-11-24T08:00:06")
        assert marks["motorcycle"]["start"].startswith("2026-11-24T08:00:18")
        found = client.get("/api/detections", params={"label": "person"}, headers=headers).json()
        assert found and all(d["label"] == "person" and not d["live"] for d in found)
        models = client.get("/api/detections/models", headers=headers).json()
        assert [(m["model_id"], m["primary"]) for m in models] == [(detector.model_id, True)]
        status = client.get("/api/ml/status", headers=headers).json()
        assert status["jobs"]["done"] == 1 and status["frames_analysed"] == job[3]
        assert status["frames_skipped"] == job[4]
        assert status["inference_ms_per_frame"] > 0


def test_a_job_whose_file_is_gone_fails_once_with_the_reason(
    store: RedisEventStore, event_log: EventLog, detector: OnnxDetector, tmp_path: Path
) -> None:
    (tmp_path / "Door").mkdir()
    (tmp_path / "Door/x.mp4").write_bytes(b"x")
    segment = segment_for(tmp_path, "Door/x.mp4", 10).model_copy(update={"path": "Door/gone.mp4"})
    store.append(segment)
    worker = historical(store, event_log, detector, tmp_path)
    worker.step()
    failed = [
        e
        for m in store.read_range(Topic.DETECTIONS, ZERO, 100)
        if isinstance(e := decode(m.fields), DetectionJobFailed)
    ]
    assert len(failed) == 1 and failed[0].final and "missing" in failed[0].reason
    assert store.dead_letters(Topic.RECORDINGS)[0].reason == failed[0].reason
    assert worker.backlog() == 0


def _detections(database_url: str, model_id: str) -> dict[UUID, tuple[str, float]]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT detection_id, label, confidence FROM detections.detections WHERE model_id = %s",
            (model_id,),
        ).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def test_reprocessing_with_a_second_model_keeps_the_first_models_results(
    store: RedisEventStore,
    event_log: EventLog,
    archive: EventArchive,
    database_url: str,
    detector: OnnxDetector,
    model: Path,
    root: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    import onnx

    store.append(segment_for(root, "Door/2026-11-24/08-00-00.mp4", 30))
    historical(store, event_log, detector, root).step()
    project(store, database_url, archive)
    first = _detections(database_url, detector.model_id)
    first_tracks = _tracks(database_url, detector.model_id)
    assert first_tracks

    second_path = tmp_path_factory.mktemp("models") / "yolox_nano_v2.onnx"
    proto = onnx.load(str(model))
    proto.doc_string = "the same weights, another file: another model id"
    onnx.save(proto, str(second_path))
    second = OnnxDetector(second_path, DetectorConfig(confidence_threshold=0.5))
    assert second.model_id != detector.model_id
    group = reprocess_group(second.model_id)
    for _ in range(2):  # re-running is idempotent
        worker = historical(store, event_log, second, root, "r1", group=group, reprocess=True)
        while worker.step():
            pass
        project(store, database_url, archive)
    again = _detections(database_url, second.model_id)
    assert _detections(database_url, detector.model_id) == first
    assert sorted(v for v in again.values()) == sorted(v for v in first.values())
    with psycopg.connect(database_url) as conn:
        jobs = conn.execute(
            "SELECT model_id, reprocess, status FROM detections.jobs ORDER BY reprocess"
        ).fetchall()
    assert jobs == [(detector.model_id, False, "done"), (second.model_id, True, "done")]
    assert _tracks(database_url, detector.model_id) == first_tracks  # the first model's stay
    again_tracks = _tracks(database_url, second.model_id)
    assert sorted(again_tracks.values()) == sorted(first_tracks.values())
    assert not set(again_tracks) & set(first_tracks)  # the second model's own tracks
    with psycopg.connect(database_url) as conn:
        items = {
            m: tracks.review_items(conn, tracks.ReviewFilter(model_id=m), {"person"}, None)
            for m in (detector.model_id, second.model_id)
        }
    assert [(i.start, i.labels) for i in items[detector.model_id]] == [
        (i.start, i.labels) for i in items[second.model_id]
    ]


def _tracks(database_url: str, model_id: str) -> dict[UUID, tuple[str, float]]:
    with psycopg.connect(database_url) as conn:
        found = tracks.search(conn, tracks.TrackFilter(model_id=model_id), 1000)
    return {t.track_id: (t.label, round(t.duration_s, 3)) for t in found}


KILLABLE_WORKER = """
import sys, time
from pathlib import Path
from detector.historical import HistoricalConfig, HistoricalDetector
from detector.model import DetectorConfig, OnnxDetector
from events.archive import EventArchive, EventLog
from events.store import RedisEventStore
import psycopg

redis_url, database_url, model, root = sys.argv[1:5]
store = RedisEventStore.from_url(redis_url)

class Slow(OnnxDetector):
    def detect(self, frames):
        time.sleep(0.2)
        return super().detect(frames)

detector = Slow(Path(model), DetectorConfig(confidence_threshold=0.5, max_batch=2))
log = EventLog(store, EventArchive(psycopg.connect(database_url)))
worker = HistoricalDetector(store, log, detector, Path(root), "doomed",
                            HistoricalConfig(analysis=__import__("detector.analysis").analysis.AnalysisConfig(batch=2)))
worker.step()
"""


def test_a_worker_killed_mid_job_is_taken_over_without_duplicate_detections(
    servers: Servers,
    store: RedisEventStore,
    event_log: EventLog,
    archive: EventArchive,
    database_url: str,
    detector: OnnxDetector,
    model: Path,
    tmp_path: Path,
) -> None:
    walk = [Scene("astronaut", t / 2, t / 2 + 0.5, 0.02 + t / 80, 0.1, 0.8) for t in range(40)]
    scene_clip(tmp_path / "Door/walk.mp4", walk, 20)
    store.append(segment_for(tmp_path, "Door/walk.mp4", 20))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    doomed = subprocess.Popen(
        [sys.executable, "-c", KILLABLE_WORKER, servers.redis_url, database_url, str(model),
         str(tmp_path)],
        env=env,
    )  # fmt: skip
    board = JobBoard(store.client)
    deadline = time.monotonic() + 60
    while not board.running() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert board.running(), "the job never started"
    doomed.send_signal(signal.SIGKILL)
    doomed.wait()

    survivor = historical(store, event_log, detector, tmp_path, "survivor", claim_idle_ms=500)
    time.sleep(0.6)  # the dead worker's job is now idle longer than claim_idle_ms
    assert survivor.step() == 1
    project(store, database_url, archive)
    rows = _detections(database_url, detector.model_id)
    with psycopg.connect(database_url) as conn:
        job = conn.execute("SELECT status, attempt, detections FROM detections.jobs").fetchone()
    assert job is not None and job[0] == "done" and job[1] == 2
    assert len(rows) == job[2] >= 30  # one row per detection, none twice
    assert store.groups(Topic.RECORDINGS)[0].pending == 0


def make_ring(source: Path, target: Path) -> None:
    """A live ring file as the camera's ffmpeg writes it: one fragment per frame."""
    target.mkdir(parents=True)
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-i", str(source), "-c", "copy", "-movflags",
         "+empty_moov+default_base_moof+frag_every_frame+skip_trailer", str(target / "live0.mp4")],
        check=True,
    )  # fmt: skip


def test_live_frames_become_a_debounced_alert_with_a_snapshot(
    servers: Servers,
    store: RedisEventStore,
    archive: EventArchive,
    database_url: str,
    detector: OnnxDetector,
    tmp_path: Path,
) -> None:
    scene_clip(tmp_path / "clip.mp4", [Scene("astronaut", 0, 10, 0.3, 0.1, 0.85)], 10)
    ring = tmp_path / "rec/.streams/cam"
    make_ring(tmp_path / "clip.mp4", ring)
    camera = UUID(int=7)
    camera_for(store, camera)
    tap = RingTap(camera, ring, tmp_path / "rec", fps=1.0)
    live = LiveDetector(store, detector, tmp_path / "rec", "live")
    alerts = AlertWorker(store, tmp_path / "rec", "alerts", AlertsConfig(DebouncePolicy(30)))
    live.step()
    alerts.step()  # groups start at the stream's end: only new frames and detections count
    frames = tap.poll()
    assert len(frames) == 1 and (tmp_path / "rec" / frames[0].source_path).is_file()
    assert tap.poll() == []  # nothing new in the ring
    store.append_many(frames * 3)  # redelivered frames: same detections, no new alert
    while live.step():
        pass
    while alerts.step():
        pass
    raised = [
        e
        for m in store.read_range(Topic.ALERTS, ZERO, 100)
        if isinstance(e := decode(m.fields), AlertRaised)
    ]
    assert len(raised) == 1 and raised[0].label == "person"
    assert raised[0].snapshot_path is not None
    snapshot = tmp_path / "rec" / raised[0].snapshot_path
    assert snapshot.read_bytes()[:2] == b"\xff\xd8"

    project(store, database_url, archive)
    with psycopg.connect(database_url) as conn:
        Users(conn).add("alice", "correct horse battery", role="admin")
    config = ApiConfig(servers.redis_url, database_url, tmp_path / "none.duckdb", [],
                       jwt_secret=SECRET, storage_root=tmp_path / "rec")  # fmt: skip
    with TestClient(create_app(config)) as client:
        headers = login(client)
        [alert] = client.get("/api/alerts", headers=headers).json()
        assert alert["label"] == "person" and alert["snapshot_url"] and alert["track_id"]
        assert client.get(alert["snapshot_url"]).status_code == 401
        path = {"path": alert["snapshot_url"]}
        media = client.post("/api/auth/media-token", headers=headers, json=path).json()
        media = media["access_token"]
        image = client.get(alert["snapshot_url"], params={"token": media})
        assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
        live_rows = client.get("/api/detections", params={"live": True}, headers=headers).json()
        assert live_rows and all(d["segment_id"] is None for d in live_rows)
    shutil.rmtree(tmp_path / "rec")


def test_timeline_markers_in_sql_agree_with_the_pure_definition(database_url: str) -> None:
    import random
    from datetime import timedelta

    from api.timeline import Sighting, markers
    from projector.readmodels import detections
    from projector.readmodels.detections import DETECTIONS, DetectionRow
    from tests.factories import T0, insert_row

    sink = PostgresReadModels(psycopg.connect(database_url))
    sink.ensure(detections_projection())
    rng, camera = random.Random(5), UUID(int=9)
    rows = []
    for i in range(400):
        at = T0 + timedelta(seconds=rng.choice([rng.uniform(0, 3600), 1800 + i * 0.5]))
        label = rng.choice(["person", "car", "dog"])
        rows.append((UUID(int=1000 + i), camera, label, at, round(rng.uniform(0.5, 1), 3)))
    with psycopg.connect(database_url) as conn:
        for detection_id, cam, label, at, conf in rows:
            row = DetectionRow(detection_id, cam, None, "m", at, None, label, 0, conf, 0, 0, 1, 1,
                               0, False)  # fmt: skip
            insert_row(conn, "detections", DETECTIONS, row)
        in_sql = detections.markers(conn, camera, "m", T0, T0 + timedelta(hours=2))
    pure = markers([Sighting(label, at, conf) for _, _, label, at, conf in rows])
    assert [(m.label, m.start, m.end, m.count, round(m.max_confidence, 3)) for m in in_sql] == [
        (m.label, m.start, m.end, m.count, round(m.max_confidence, 3)) for m in pure
    ]


class BrokenModel:
    """A backend whose inference always fails (a driver crash, say)."""

    model_id = "broken-1"

    def detect(self, frames: object) -> list[list[object]]:
        raise RuntimeError("CUDA error: an illegal memory access was encountered")


def test_a_job_that_keeps_failing_is_retried_then_failed_for_good(
    store: RedisEventStore, event_log: EventLog, root: Path
) -> None:
    store.append(segment_for(root, "Door/2026-11-24/08-00-00.mp4", 30))
    worker = HistoricalDetector(
        store,
        event_log,
        BrokenModel(),
        root,
        "w",
        HistoricalConfig(max_attempts=3),  # type: ignore[arg-type]
    )
    while worker.step():
        pass
    failures = [
        e
        for m in store.read_range(Topic.DETECTIONS, ZERO, 100)
        if isinstance(e := decode(m.fields), DetectionJobFailed)
    ]
    assert [(f.attempt, f.final) for f in failures] == [(1, False), (2, False), (3, True)]
    assert "illegal memory access" in failures[-1].reason
    assert len(store.dead_letters(Topic.RECORDINGS)) == 1 and worker.backlog() == 0


def test_ronin_reprocess_runs_from_the_command_line(
    servers: Servers,
    store: RedisEventStore,
    event_log: EventLog,
    archive: EventArchive,
    database_url: str,
    model: Path,
    root: Path,
) -> None:
    segment = segment_for(root, "Door/2026-11-24/08-00-00.mp4", 30)
    camera_for(store, segment.camera_id)
    store.append(segment)
    project(store, database_url, archive)
    env = {**os.environ, "REDIS_URL": servers.redis_url, "DATABASE_URL": database_url,
           "STORAGE_ROOT": str(root), "RONIN_DATA_DIR": str(root / "data")}  # fmt: skip
    command = [sys.executable, "-m", "infra.cli", "reprocess", "--model", str(model),
               "--camera", "Door"]  # fmt: skip
    for _ in range(2):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    assert "0 segments analysed" in done.stderr  # the second run: nothing left to do
    project(store, database_url, archive)
    with psycopg.connect(database_url) as conn:
        jobs = conn.execute("SELECT reprocess, status FROM detections.jobs").fetchall()
    assert jobs == [(True, "done")]
    wrong = subprocess.run([*command[:-1], "Nobody"], env=env, capture_output=True, text=True)
    assert wrong.returncode != 0 and "no camera named Nobody" in wrong.stderr


def test_detections_reach_the_duckdb_analytics(tmp_path: Path) -> None:
    from events.catalogue import BoundingBox, ObjectDetected
    from projector.analytics import DuckDBReadModels
    from projector.readmodels import analytics_projections
    from projector.rows import fold
    from tests.factories import T0

    [projection] = [p for p in analytics_projections() if p.name == "analytics_detections"]
    sink = DuckDBReadModels(tmp_path / "a.duckdb")
    sink.ensure(projection)
    detection = ObjectDetected(
        detection_id=UUID(int=1), camera_id=UUID(int=2), detected_at=T0, label="person",
        class_id=0, confidence=0.9, box=BoundingBox(x1=0, y1=0, x2=1, y2=1), frame_number=3,
        model_id="m",
    )  # fmt: skip
    from events.store import StreamId

    with sink.batch(projection) as batch:
        batch.write(fold(list(projection.project(detection))))
        batch.set_position(StreamId(1, 0))
    sink.close()
    import duckdb

    rows = (
        duckdb.connect(str(tmp_path / "a.duckdb"))
        .execute("SELECT label, live, model_id FROM analytics_detections.detections")
        .fetchall()
    )
    assert rows == [("person", True, "m")]


def test_reprocessing_reaches_footage_only_left_in_the_archive(
    store: RedisEventStore,
    event_log: EventLog,
    archive: EventArchive,
    database_url: str,
    detector: OnnxDetector,
    root: Path,
) -> None:
    from events.archive import Archiver

    last = store.append(segment_for(root, "Door/2026-11-24/08-00-00.mp4", 30))
    Archiver(store, archive).run_once(Topic.RECORDINGS)
    store.trim_below(Topic.RECORDINGS, last.next())
    assert store.length(Topic.RECORDINGS) == 0  # only the archive has it now
    worker = historical(
        store, event_log, detector, root, "r", group=reprocess_group("x"), reprocess=True
    )
    while worker.step():
        pass
    assert worker.jobs_done == 1


def test_a_camera_with_detection_off_is_skipped(
    store: RedisEventStore, event_log: EventLog, detector: OnnxDetector, root: Path
) -> None:
    store.append(segment_for(root, "Door/2026-11-24/08-00-00.mp4", 30))
    worker = HistoricalDetector(
        store, event_log, detector, root, "w", HistoricalConfig(), detection_cameras=lambda: []
    )
    while worker.step():
        pass
    assert worker.jobs_done == 0 and worker.backlog() == 0
