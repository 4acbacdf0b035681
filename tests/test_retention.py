"""Retention: the pure policy (hypothesis), and the worker against real files, Redis and
PostgreSQL: size limit, crash between event and delete (both ways), orphans, audit."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.archive import EventArchive, EventLog
from events.catalogue import (
    BoundingBox,
    CameraAdded,
    ObjectDetected,
    PurgeReason,
    RetentionTier,
    SegmentClosed,
    TrackEnded,
)
from events.store import RedisEventStore
from ingest.lifecycle.integrity import EventInventory, Problem, SegmentRow, find_disagreements
from ingest.lifecycle.retention import (
    DiskFile,
    PostgresStorageCatalog,
    RetentionConfig,
    RetentionWorker,
    plan_reconciliation,
    recorded_files,
    start_from_path,
)
from ingest.lifecycle.retention_policy import (
    TIERS_LOW_TO_HIGH,
    CoveredSpan,
    ExportFile,
    Limits,
    RetentionPolicy,
    StoredSegment,
    TierLimits,
    plan_export_removals,
    plan_purges,
    tiers_of,
)
from projector.postgres import PostgresReadModels
from projector.readmodels import (
    cameras_projection,
    detections_projection,
    recordings_projection,
)
from projector.runner import ProjectionRunner
from tests.conftest import Servers
from tests.ingest_support import copies_of

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
CAMERAS = [UUID(int=1), UUID(int=2), UUID(int=3)]

segment_strategy = st.builds(
    lambda i, camera, age_h, size, closed, tier: StoredSegment(
        segment_id=UUID(int=1000 + i),
        camera_id=camera,
        start=NOW - timedelta(hours=age_h),
        end=NOW - timedelta(hours=age_h) + timedelta(minutes=15),
        bytes=size,
        closed=closed,
        tier=tier,
    ),
    st.integers(0, 10_000),
    st.sampled_from(CAMERAS),
    st.integers(0, 24 * 60),
    st.integers(1, 1000),
    st.sampled_from([True, True, True, False]),
    st.sampled_from(list(RetentionTier)),
)
tiers_strategy = st.dictionaries(
    st.sampled_from(list(RetentionTier)),
    st.builds(
        TierLimits,
        max_age_days=st.none() | st.floats(0.5, 60),
        max_bytes=st.none() | st.integers(0, 8_000),
    ),
    max_size=3,
)
segments_strategy = st.lists(segment_strategy, max_size=40, unique_by=lambda s: s.segment_id)
policy_strategy = st.builds(
    RetentionPolicy,
    limits=st.builds(
        Limits,
        max_age_days=st.none() | st.floats(0.5, 60),
        max_bytes=st.none() | st.integers(0, 20_000),
        tiers=tiers_strategy,
    ),
    per_camera=st.dictionaries(
        st.sampled_from(CAMERAS),
        st.builds(
            Limits,
            max_age_days=st.none() | st.floats(0.5, 60),
            max_bytes=st.none() | st.integers(0, 5_000),
            tiers=tiers_strategy,
        ),
        max_size=2,
    ),
    min_free_bytes=st.none() | st.integers(0, 20_000),
)


def newest_first(items: list[StoredSegment]) -> list[StoredSegment]:
    return sorted(items, key=lambda s: (s.start, s.end, str(s.segment_id)), reverse=True)


@settings(max_examples=300, deadline=None)
@given(segments_strategy, policy_strategy, st.none() | st.integers(0, 20_000))
def test_the_policy_keeps_exactly_the_newest_footage_under_the_limits(
    segments: list[StoredSegment], policy: RetentionPolicy, free: int | None
) -> None:
    purges = plan_purges(segments, policy, NOW, free)
    gone = {p.segment.segment_id for p in purges}
    kept = [s for s in segments if s.segment_id not in gone and s.closed]
    opened = [s for s in segments if not s.closed]
    assert not gone & {s.segment_id for s in opened}  # a segment in progress: never
    assert [p.segment.start for p in purges] == sorted(p.segment.start for p in purges)

    def over(items: list[StoredSegment], limit: int, charged: list[StoredSegment]) -> bool:
        return sum(s.bytes for s in items) > max(0, limit - sum(s.bytes for s in charged))

    for camera in CAMERAS:
        own = [s for s in kept if s.camera_id == camera]
        for s in own:
            days = policy.age_limit(camera, s.tier)
            assert days is None or s.end > NOW - timedelta(days=days)
        limit = policy.per_camera.get(camera, Limits()).max_bytes
        if limit is not None:
            assert not over(own, limit, [s for s in opened if s.camera_id == camera])
        for tier in RetentionTier:
            budget = policy.tier_budget(camera, tier)
            if budget is not None:
                charged = [s for s in opened if s.camera_id == camera and s.tier == tier]
                assert not over([s for s in own if s.tier == tier], budget, charged)
    for tier in RetentionTier:
        budget = policy.tier_budget(None, tier)
        if budget is not None:
            charged = [s for s in opened if s.tier == tier]
            assert not over([s for s in kept if s.tier == tier], budget, charged)
    if policy.limits.max_bytes is not None:
        assert not over(kept, policy.limits.max_bytes, opened)
    for p in purges:
        rank = TIERS_LOW_TO_HIGH.index(p.segment.tier)
        if p.reason is PurgeReason.SIZE:  # oldest first within the camera's tier
            assert all(
                s.start >= p.segment.start
                for s in kept
                if s.camera_id == p.segment.camera_id and s.tier == p.segment.tier
            )
        if p.reason is PurgeReason.EMERGENCY:  # lowest tier, oldest first, everywhere
            assert all(
                TIERS_LOW_TO_HIGH.index(s.tier) > rank
                or (s.tier == p.segment.tier and s.start >= p.segment.start)
                for s in kept
            )
        if p.reason is PurgeReason.AGE:  # chosen by age only when too old
            days = policy.age_limit(p.segment.camera_id, p.segment.tier)
            assert days is not None and p.segment.end <= NOW - timedelta(days=days)
    if policy.min_free_bytes is not None and free is not None:
        freed = free + sum(p.segment.bytes for p in purges)
        assert freed >= policy.min_free_bytes or not kept
    if policy == RetentionPolicy(policy.limits) and policy.limits == Limits() and free is None:
        assert purges == []  # no limits: nothing goes


def test_size_limit_takes_oldest_first_across_cameras() -> None:
    segments = [
        StoredSegment(UUID(int=i), CAMERAS[i % 2], NOW - timedelta(hours=10 - i),
                      NOW - timedelta(hours=9 - i), 100)
        for i in range(10)
    ]  # fmt: skip
    purges = plan_purges(segments, RetentionPolicy(Limits(max_bytes=450)), NOW)
    assert [p.segment.segment_id.int for p in purges] == [0, 1, 2, 3, 4, 5]
    assert {p.reason for p in purges} == {PurgeReason.SIZE}
    aged = plan_purges(segments, RetentionPolicy(Limits(max_age_days=5 / 24)), NOW)
    assert [p.segment.segment_id.int for p in aged] == [0, 1, 2, 3, 4]  # ended 5 h+ ago
    open_now = StoredSegment(uuid4(), CAMERAS[0], NOW, NOW, 400, closed=False)
    squeezed = plan_purges([*segments, open_now], RetentionPolicy(Limits(max_bytes=450)), NOW)
    assert len(squeezed) == 10  # the open segment takes the budget (and is kept)
    emergency = plan_purges(segments, RetentionPolicy(min_free_bytes=1000), NOW, free_bytes=750)
    assert [(p.segment.segment_id.int, p.reason) for p in emergency] == [
        (0, PurgeReason.EMERGENCY),
        (1, PurgeReason.EMERGENCY),
        (2, PurgeReason.EMERGENCY),
    ]


def test_a_higher_tier_is_kept_at_least_as_long_as_the_tiers_below_it() -> None:
    alert, detection, continuous = (
        RetentionTier.ALERT,
        RetentionTier.DETECTION,
        RetentionTier.CONTINUOUS,
    )
    policy = RetentionPolicy(Limits(max_age_days=7, tiers={alert: TierLimits(30)}))
    assert [policy.age_limit(CAMERAS[0], t) for t in (continuous, detection, alert)] == [7, 7, 30]
    shorter = RetentionPolicy(Limits(max_age_days=7, tiers={alert: TierLimits(1)}))
    assert shorter.age_limit(CAMERAS[0], alert) == 7  # never less than continuous footage
    own = RetentionPolicy(
        Limits(max_age_days=7, tiers={alert: TierLimits(30)}),
        per_camera={CAMERAS[1]: Limits(max_age_days=2, tiers={detection: TierLimits(10)})},
    )
    assert [own.age_limit(CAMERAS[1], t) for t in (continuous, detection, alert)] == [2, 10, 30]
    forever = RetentionPolicy(Limits(max_age_days=None, tiers={alert: TierLimits(3)}))
    assert forever.age_limit(CAMERAS[0], alert) is None


def test_each_segment_takes_the_highest_tier_of_the_items_over_it() -> None:
    def at(minutes: float) -> datetime:
        return NOW + timedelta(minutes=minutes)

    segments = [
        StoredSegment(UUID(int=i), CAMERAS[0], at(10 * i), at(10 * i + 10), 1) for i in range(4)
    ]
    spans = [
        CoveredSpan(CAMERAS[0], at(12), at(13), alert=False),
        CoveredSpan(CAMERAS[0], at(15), at(21), alert=True),  # over segments 1 and 2
        CoveredSpan(CAMERAS[0], at(29), at(30), alert=False),  # ends where segment 3 starts
        CoveredSpan(CAMERAS[1], at(0), at(40), alert=True),  # another camera
    ]
    tiers = tiers_of(segments, spans)
    assert [tiers[s.segment_id] for s in segments] == [
        RetentionTier.CONTINUOUS, RetentionTier.ALERT, RetentionTier.ALERT,
        RetentionTier.CONTINUOUS,
    ]  # fmt: skip
    budget = RetentionPolicy(Limits(tiers={RetentionTier.CONTINUOUS: TierLimits(max_bytes=0)}))
    tiered = [StoredSegment(**{**_fields(s), "tier": tiers[s.segment_id]}) for s in segments]
    assert [p.segment.segment_id.int for p in plan_purges(tiered, budget, NOW)] == [0, 3]
    squeezed = plan_purges(tiered, RetentionPolicy(min_free_bytes=3), NOW, free_bytes=0)
    assert [p.segment.segment_id.int for p in squeezed] == [0, 1, 3]  # continuous first


def _fields(s: StoredSegment) -> dict[str, object]:
    return {name: getattr(s, name) for name in s.__slots__}


def test_reconciliation_plan_and_paths() -> None:
    seg = StoredSegment(uuid4(), CAMERAS[0], NOW, NOW, 10, path="Door/2026-11-24/08-00-00.mp4")
    from ingest.lifecycle.retention import DiskFile

    files = {
        "Door/2026-11-24/09-00-00.mp4": DiskFile("Door/2026-11-24/09-00-00.mp4", 5, 0.0),
        "Door/2026-11-24/10-00-00.mp4": DiskFile("Door/2026-11-24/10-00-00.mp4", 5, 995.0),
        "Door/2026-11-24/11-00-00.mp4": DiskFile("Door/2026-11-24/11-00-00.mp4", 5, 0.0),
    }
    plan = plan_reconciliation([seg], files, {"Door/2026-11-24/11-00-00.mp4"}, 1000.0, 60)
    assert plan.finish_purges == ["Door/2026-11-24/11-00-00.mp4"]
    assert [o.path for o in plan.orphans] == ["Door/2026-11-24/09-00-00.mp4"]  # 10-00 is new
    assert plan.missing_files == [seg]
    unmounted = plan_reconciliation([seg], {}, set(), 1000.0, 60)
    assert unmounted.storage_missing and unmounted.missing_files == []
    start = start_from_path("Door/2026-11-24/08-30-05-1.mp4")
    assert start is not None and start.astimezone().strftime("%H:%M:%S") == "08:30:05"
    assert start_from_path("nonsense.mp4") is None


# --- the worker against real files, Redis and PostgreSQL ---------------------------------


def make_segment_file(path: Path, seconds: int = 2) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i",
         f"testsrc2=size=320x180:rate=10:duration={seconds}", "-c:v", "libx264", "-preset",
         "ultrafast", "-g", "10", "-y", str(path)],
        check=True,
    )  # fmt: skip


def project(store: RedisEventStore, database_url: str, archive: EventArchive) -> None:
    sink = PostgresReadModels(psycopg.connect(database_url))
    for projection in (cameras_projection(), recordings_projection(), detections_projection()):
        runner = ProjectionRunner(projection, store, EventLog(store, archive), sink, "t")
        while runner.step():
            pass
        runner.release()


def record(root: Path, store: RedisEventStore, camera: UUID, n: int) -> list[SegmentClosed]:
    """``n`` real 2-s segments of camera Door, announced as ingest would."""
    template = root / "template.mp4"
    if not template.exists():
        make_segment_file(template)
    starts = [NOW - timedelta(minutes=10 * (n - i)) for i in range(n)]
    events = copies_of(template, root, "Door", camera, starts, (2.0, 320, 180, 10.0))
    store.append_many(events)
    return events


def disk_and_rows_agree(root: Path, database_url: str) -> tuple[set[str], set[str]]:
    with psycopg.connect(database_url) as conn:
        rows = {r[0] for r in conn.execute("SELECT path FROM recordings.segments").fetchall()}
    return rows, set(recorded_files(root))


@pytest.fixture
def camera(store: RedisEventStore) -> UUID:
    camera_id = uuid4()
    store.append(CameraAdded(camera_id=camera_id, name="Door", directory="Door",
                             rtsp_url="rtsp://127.0.0.1:1/x"))  # fmt: skip
    return camera_id


def worker_for(
    store: RedisEventStore, database_url: str, root: Path, policy: RetentionPolicy
) -> RetentionWorker:
    return RetentionWorker(
        store.append,
        PostgresStorageCatalog(psycopg.connect(database_url)),
        root,
        RetentionConfig(policy=policy, grace_s=0),
        clock=lambda: NOW,
    )


def test_the_worker_brings_storage_under_the_limit_and_read_models_match(
    store: RedisEventStore, archive: EventArchive, database_url: str, camera: UUID, tmp_path: Path
) -> None:
    events = record(tmp_path, store, camera, 10)
    store.append_many([detection_in(events[0]), detection_in(events[9])])
    project(store, database_url, archive)
    size = events[0].bytes
    worker = worker_for(store, database_url, tmp_path, RetentionPolicy(Limits(max_bytes=4 * size)))
    purges = worker.apply_policy()
    assert [p.segment.path for p in purges] == [e.path for e in events[:6]]
    project(store, database_url, archive)
    rows, files = disk_and_rows_agree(tmp_path, database_url)
    assert rows == files == {e.path for e in events[6:]}
    assert sum((tmp_path / f).stat().st_size for f in files) <= 4 * size
    assert worker.apply_policy() == []  # applied: nothing more to do
    with psycopg.connect(database_url) as conn:
        audit = conn.execute(
            "SELECT reason, bytes_freed FROM recordings.purges ORDER BY purged_at"
        ).fetchall()
    assert audit == [("size", size)] * 6
    with psycopg.connect(database_url) as conn:  # detections go with their footage
        left = conn.execute("SELECT segment_id FROM detections.detections").fetchall()
    assert left == [(events[9].segment_id,)]


def track_in(segment: SegmentClosed, label: str) -> TrackEnded:
    return TrackEnded(
        track_id=uuid4(), camera_id=segment.camera_id, segment_id=segment.segment_id,
        model_id="m", label=label, start=segment.start, last_seen=segment.end,
        best_detection_id=uuid4(), best_at=segment.start, best_confidence=0.8,
        best_box=BoundingBox(x1=0.1, y1=0.1, x2=0.2, y2=0.2), sightings=3,
    )  # fmt: skip


def test_alert_footage_outlives_continuous_footage_and_the_audit_names_the_tier(
    store: RedisEventStore, archive: EventArchive, database_url: str, camera: UUID, tmp_path: Path
) -> None:
    template = tmp_path / "template.mp4"
    make_segment_file(template)
    two_days_ago = NOW - timedelta(days=2)
    starts = [two_days_ago + timedelta(minutes=10 * i) for i in range(3)] + [NOW]
    plain, seen, alerted, fresh = copies_of(
        template, tmp_path, "Door", camera, starts, (2.0, 320, 180, 10.0)
    )
    store.append_many([plain, seen, alerted, fresh])
    store.append_many([track_in(seen, "dog"), track_in(alerted, "person")])
    project(store, database_url, archive)
    policy = RetentionPolicy(
        Limits(max_age_days=1, tiers={RetentionTier.ALERT: TierLimits(max_age_days=30)})
    )
    worker = RetentionWorker(
        store.append,
        PostgresStorageCatalog(psycopg.connect(database_url), alert_labels={"person"}),
        tmp_path,
        RetentionConfig(policy=policy, grace_s=0),
        clock=lambda: NOW,
    )
    purges = worker.apply_policy()
    assert [p.segment.path for p in purges] == [plain.path, seen.path]
    project(store, database_url, archive)
    rows, files = disk_and_rows_agree(tmp_path, database_url)
    assert rows == files == {alerted.path, fresh.path}
    with psycopg.connect(database_url) as conn:
        audit = conn.execute(
            "SELECT path, reason, tier FROM recordings.purges ORDER BY path"
        ).fetchall()
    assert audit == [(plain.path, "age", "continuous"), (seen.path, "age", "detection")]


def detection_in(segment: SegmentClosed) -> ObjectDetected:
    return ObjectDetected(
        detection_id=uuid4(), camera_id=segment.camera_id, segment_id=segment.segment_id,
        offset_s=1.0, detected_at=segment.start, label="person", class_id=0, confidence=0.9,
        box=BoundingBox(x1=0, y1=0, x2=1, y2=1), frame_number=10, model_id="m",
    )  # fmt: skip


def test_a_crash_between_event_and_delete_either_way_is_mended(
    store: RedisEventStore, archive: EventArchive, database_url: str, camera: UUID, tmp_path: Path
) -> None:
    events = record(tmp_path, store, camera, 4)
    project(store, database_url, archive)
    worker = worker_for(store, database_url, tmp_path, RetentionPolicy())
    # 1. the event was appended, then the worker died before deleting the file
    worker._append(  # what purge() does first
        __import__("events.catalogue", fromlist=["RetentionPurged"]).RetentionPurged(
            segment_id=events[0].segment_id, camera_id=camera, path=events[0].path,
            bytes_freed=events[0].bytes, reason=PurgeReason.AGE,
        )
    )  # fmt: skip
    # 2. the file was deleted, and no event followed (the other order, or an fsck)
    (tmp_path / events[1].path).unlink()
    # 3. a file whose SegmentClosed never made it
    orphan = f"Door/{NOW.astimezone():%Y-%m-%d}/23-59-58.mp4"
    shutil.copy(tmp_path / events[2].path, tmp_path / orphan)
    project(store, database_url, archive)

    restarted = worker_for(store, database_url, tmp_path, RetentionPolicy())
    report = restarted.reconcile()
    assert report.files_deleted == [events[0].path]
    assert report.rows_purged == [events[1].path]
    assert report.files_announced == [orphan]
    assert "1 files of purged segments deleted" in report.summary()
    project(store, database_url, archive)
    rows, files = disk_and_rows_agree(tmp_path, database_url)
    assert rows == files == {events[2].path, events[3].path, orphan}
    assert restarted.reconcile().summary() == "nothing to mend"


def test_an_unmounted_storage_root_is_not_taken_for_deleted_footage(
    store: RedisEventStore, archive: EventArchive, database_url: str, camera: UUID, tmp_path: Path
) -> None:
    record(tmp_path, store, camera, 2)
    project(store, database_url, archive)
    shutil.rmtree(tmp_path / "Door")
    report = worker_for(store, database_url, tmp_path, RetentionPolicy()).reconcile()
    assert report.rows_purged == []


def test_snapshots_and_exports_follow_their_own_age(
    store: RedisEventStore, database_url: str, tmp_path: Path
) -> None:
    old = tmp_path / ".snapshots/cam/2026-01-01/a.jpg"
    new = tmp_path / ".exports/b.mp4"
    for path in (old, new):
        path.parent.mkdir(parents=True)
        path.write_bytes(b"x")
    os.utime(old, (0, 0))
    worker = RetentionWorker(
        store.append, PostgresStorageCatalog(psycopg.connect(database_url)), tmp_path,
        RetentionConfig(snapshot_days=30, export_days=1),
    )  # fmt: skip
    worker.apply_policy()
    assert not old.exists() and new.exists()


def test_ronin_check_lists_every_disagreement_and_repairs_them_through_events(
    servers: Servers,
    store: RedisEventStore,
    archive: EventArchive,
    database_url: str,
    camera: UUID,
    tmp_path: Path,
) -> None:
    events = record(tmp_path, store, camera, 5)
    project(store, database_url, archive)
    (tmp_path / events[0].path).unlink()  # row without a file
    (tmp_path / events[1].path).write_bytes(b"garbage")  # unreadable (and the wrong size)
    with open(tmp_path / events[2].path, "ab") as f:  # the wrong size
        f.write(b"\0" * 10)
    orphan = f"Door/{NOW.astimezone():%Y-%m-%d}/23-59-58.mp4"
    shutil.copy(tmp_path / events[3].path, tmp_path / orphan)  # file without a row
    old = time.time() - 120  # (a minute old: not a segment closing at this moment)
    os.utime(tmp_path / orphan, (old, old))
    env = {**os.environ, "REDIS_URL": servers.redis_url, "DATABASE_URL": database_url,
           "STORAGE_ROOT": str(tmp_path), "RONIN_DATA_DIR": str(tmp_path / "data"),
           "COLUMNS": "200"}  # fmt: skip
    command = [sys.executable, "-m", "infra.cli", "check"]
    listed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 1, listed.stderr
    for problem in ("row without a file", "unreadable file", "size mismatch",
                    "file without a row"):  # fmt: skip
        assert problem in listed.stderr, listed.stderr
    repaired = subprocess.run([*command, "--repair"], env=env, capture_output=True, text=True,
                              timeout=120)  # fmt: skip
    assert repaired.returncode == 0, repaired.stderr
    assert "repaired: 6 events" in repaired.stderr, repaired.stderr  # 2 purges count twice
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "all in agreement" in again.stderr, again.stderr
    rows, files = disk_and_rows_agree(tmp_path, database_url)
    assert rows == files and orphan in rows and events[0].path not in rows
    assert (tmp_path / (events[1].path + ".unreadable")).exists()


exports = st.lists(
    st.builds(
        ExportFile, st.uuids().map(lambda u: f"{u}.mp4"), st.floats(0, 1e6), st.integers(0, 10_000)
    ),
    max_size=8,
    unique_by=lambda e: e.path,
)


@given(exports, st.none() | st.integers(0, 40_000), st.none() | st.integers(0, 40_000),
       st.integers(0, 40_000))  # fmt: skip
def test_exports_go_oldest_first_and_only_as_many_as_needed(
    files: list[ExportFile], max_bytes: int | None, floor: int | None, free: int
) -> None:
    removed = plan_export_removals(files, max_bytes, floor, free)
    oldest_first = sorted(files, key=lambda e: (e.mtime, e.path))
    assert removed == oldest_first[: len(removed)]

    def satisfied(gone: list[ExportFile]) -> bool:
        left = sum(e.bytes for e in files) - sum(e.bytes for e in gone)
        freed = free + sum(e.bytes for e in gone)
        return (max_bytes is None or left <= max_bytes) and (floor is None or freed >= floor)

    assert satisfied(removed) or removed == oldest_first  # all of them when not enough
    assert not removed or not satisfied(removed[:-1])  # none more than needed


def test_a_short_disk_loses_exports_before_any_footage(
    store: RedisEventStore, archive: EventArchive, database_url: str, camera: UUID, tmp_path: Path
) -> None:
    record(tmp_path, store, camera, 3)
    project(store, database_url, archive)
    made = []
    for i in range(3):
        path = tmp_path / ".exports" / f"e{i}.mp4"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"x" * 1000)
        recent = time.time() - 100 + i  # (young enough to outlive EXPORT_RETENTION_DAYS)
        os.utime(path, (recent, recent))
        made.append(path)
    floor = 10**9

    def disk_free(_: Path) -> int:  # 1500 bytes short, until exports go
        return floor - 1500 + 1000 * sum(not p.exists() for p in made)

    worker = RetentionWorker(
        store.append, PostgresStorageCatalog(psycopg.connect(database_url)), tmp_path,
        RetentionConfig(policy=RetentionPolicy(min_free_bytes=floor)), disk_free=disk_free,
        clock=lambda: NOW,
    )  # fmt: skip
    assert worker.apply_policy() == []  # no footage purged
    assert [p.exists() for p in made] == [False, False, True]


def test_a_segment_closing_at_this_moment_is_no_disagreement() -> None:
    camera, segment = uuid4(), uuid4()
    files = {"Door/a.mp4": DiskFile("Door/a.mp4", 100, mtime=1000.0)}
    row = SegmentRow(segment, camera, "Door/a.mp4", 100, 10)
    closing = EventInventory(segments={segment: row})
    for events in (EventInventory(), closing):  # renamed into place; appended, not projected
        assert find_disagreements(files, [], events, now=1010.0) == []
        later = find_disagreements(files, [], events, now=1100.0)
        assert Problem.FILE_WITHOUT_ROW in {d.problem for d in later}


@pytest.mark.parametrize("path", ["../outside.mp4", "Door/../../outside.mp4", "Door/a\x00b.mp4",
                                  "/ABSOLUTE/outside.mp4", ""])  # fmt: skip
def test_a_segment_whose_path_leaves_the_root_deletes_nothing_and_the_others_go(
    store: RedisEventStore, archive: EventArchive, database_url: str, camera: UUID,
    tmp_path: Path, path: str,
) -> None:  # fmt: skip
    """A damaged row or a hostile event: the purge is recorded, no file outside the
    storage root is touched, the worker does not stop, the good segment goes."""
    root = tmp_path / "storage"
    root.mkdir()
    events = record(root, store, camera, 2)
    project(store, database_url, archive)
    outside = tmp_path / "outside.mp4"
    outside.write_bytes(b"not ours")
    worker = worker_for(store, database_url, root, RetentionPolicy(Limits()))
    path = path.replace("/ABSOLUTE", str(tmp_path))  # an absolute path outside the root
    bad = StoredSegment(uuid4(), camera, NOW, NOW, 1, path=path)
    worker.purge(bad, PurgeReason.AGE)
    good = StoredSegment(events[0].segment_id, camera, NOW, NOW, 1, path=events[0].path)
    worker.purge(good, PurgeReason.AGE)
    assert outside.read_bytes() == b"not ours"
    assert not (root / events[0].path).exists() and (root / events[1].path).exists()
