"""The retention worker: applies the retention policy, and keeps disk and read models agreeing.

A purge is ``RetentionPurged`` first, then the file's deletion: the event is the audit
trail and the projectors drop the segment from the read models (PostgreSQL and DuckDB).
A crash between the two leaves a file whose segment is recorded as purged; a file
deleted behind Ronin's back (or a crash of an older order) leaves a row without a file.
:func:`plan_reconciliation` (pure) finds both, plus files no read model knows (a crash
before their SegmentClosed reached the projector, or a restored backup); the worker
mends them at start and every ``reconcile_every_s``, and says what it mended:

- file of a purged segment → delete the file (finish the purge);
- row whose file is gone → ``RetentionPurged`` (reason ``reconciled``, 0 bytes freed);
- file no row knows, untouched for ``grace_s`` and not purged → probed and announced as
  ``SegmentClosed`` (``recovered``), or set aside as ``.unreadable`` when it does not decode.

Snapshots (``.snapshots``) and exports (``.exports``) follow their own age limits;
exports also their own size budget, and on a short disk they go before any footage.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Protocol
from uuid import UUID

import psycopg

from events.catalogue import (
    DetectionsPurged,
    Event,
    PurgeReason,
    RetentionPurged,
    RetentionTier,
    RetentionTiers,
    SegmentClosed,
)
from ingest.lifecycle.retention_policy import (
    CoveredSpan,
    ExportFile,
    Limits,
    Purge,
    RetentionPolicy,
    StoredSegment,
    TierLimits,
    plan_export_removals,
    plan_purges,
    tiers_of,
)
from ingest.probe import ProbeFailed, probe
from ingest.segment_store import closed_event, segment_id_for
from projector.readmodels import cameras, purges, segments, tracks

log = logging.getLogger(__name__)

AUXILIARY = (".snapshots", ".exports")


class StorageCatalog(Protocol):
    """What the read models say is stored (contract: the PostgreSQL adapter)."""

    def segments(self) -> list[StoredSegment]: ...
    def purged_paths(self) -> set[str]: ...
    def camera_directories(self) -> dict[str, UUID]: ...
    def camera_limits(self) -> dict[UUID, Limits]: ...


class PostgresStorageCatalog:
    """``alert_labels``: the classes whose review items are alerts (ALERT_CLASSES)."""

    def __init__(self, conn: psycopg.Connection, alert_labels: Collection[str] = ()) -> None:
        self._conn, self._alert_labels = conn, alert_labels

    def segments(self) -> list[StoredSegment]:
        """Every recorded segment, each with its tier (from the review items over it)."""
        stored = [
            StoredSegment(r.segment_id, r.camera_id, r.start_at, r.end_at, r.bytes, r.path)
            for r in segments.all_segments(self._conn)
        ]
        items = tracks.review_items(self._conn, tracks.ReviewFilter(), self._alert_labels, None)
        spans = [CoveredSpan(i.camera_id, i.start, i.end, i.alert) for i in items]
        tier = tiers_of(stored, spans)
        return [replace(s, tier=tier[s.segment_id]) for s in stored]

    def purged_paths(self) -> set[str]:
        return purges.purged_paths(self._conn)

    def camera_directories(self) -> dict[str, UUID]:
        return {c.directory: c.camera_id for c in cameras.all_cameras(self._conn)}

    def camera_limits(self) -> dict[UUID, Limits]:
        return {
            c.camera_id: Limits(
                c.retention_days, gigabytes(c.retention_max_gb), tier_limits(c.tiers())
            )
            for c in cameras.all_cameras(self._conn)
            if c.retention_days is not None
            or c.retention_max_gb is not None
            or c.retention_tiers is not None
        }


def gigabytes(value: float | None) -> int | None:
    return None if value is None else int(value * 1e9)


def tier_limits(tiers: RetentionTiers) -> dict[RetentionTier, TierLimits]:
    """The policy's per-tier limits from a camera's (or the settings') configuration."""
    t = tiers
    return {
        RetentionTier.ALERT: TierLimits(t.alert_days, gigabytes(t.alert_max_gb)),
        RetentionTier.DETECTION: TierLimits(t.detection_days, gigabytes(t.detection_max_gb)),
        RetentionTier.CONTINUOUS: TierLimits(None, gigabytes(t.continuous_max_gb)),
    }


@dataclass(frozen=True, slots=True)
class DiskFile:
    path: str
    bytes: int
    mtime: float


def recorded_files(root: Path) -> dict[str, DiskFile]:
    """Every recording under the storage root (``{camera}/{day}/*.mp4``), hidden folders
    (live streams, staging, snapshots, exports) left out."""
    files: dict[str, DiskFile] = {}
    if not root.is_dir():
        return files
    for camera in root.iterdir():
        if camera.name.startswith(".") or not camera.is_dir():
            continue
        for path in camera.glob("*/*.mp4"):
            try:
                stat = path.stat()
            except OSError:
                continue
            relative = str(path.relative_to(root))
            files[relative] = DiskFile(relative, stat.st_size, stat.st_mtime)
    return files


def open_segments(root: Path) -> list[StoredSegment]:
    """Segments still being written (ingest's staging), counted but never purged."""
    out = []
    for path in (root / ".incoming").glob("*/run-*/*.mp4"):
        try:
            stat = path.stat()
            camera = UUID(path.parent.parent.name)
        except (OSError, ValueError):
            continue
        moment = datetime.fromtimestamp(stat.st_mtime, UTC)
        out.append(
            StoredSegment(
                segment_id=segment_id_for(camera, str(path)), camera_id=camera, start=moment,
                end=moment, bytes=stat.st_size, path=str(path.relative_to(root)), closed=False,
            )
        )  # fmt: skip
    return out


@dataclass(frozen=True, slots=True)
class ReconcilePlan:
    finish_purges: list[str] = field(default_factory=list)
    """Files of segments already purged: delete them."""
    missing_files: list[StoredSegment] = field(default_factory=list)
    """Rows whose file is gone: purge the rows."""
    orphans: list[DiskFile] = field(default_factory=list)
    """Files no read model knows: announce them."""
    storage_missing: bool = False
    """No recording at all on disk while the read model has some: an unmounted disk, not
    a deletion; rows are then left alone."""

    @property
    def empty(self) -> bool:
        return not (self.finish_purges or self.missing_files or self.orphans)


def plan_reconciliation(
    rows: Sequence[StoredSegment],
    files: Mapping[str, DiskFile],
    purged: set[str],
    now: float,
    grace_s: float,
) -> ReconcilePlan:
    """Compare the read model with the disk (pure)."""
    known = {s.path for s in rows}
    plan = ReconcilePlan()
    for path, disk in sorted(files.items()):
        if path in known:
            continue
        if path in purged:
            plan.finish_purges.append(path)
        elif now - disk.mtime >= grace_s:
            plan.orphans.append(disk)
    if rows and not files:
        return replace(plan, storage_missing=True)
    plan.missing_files.extend(s for s in rows if s.path not in files)
    return plan


def start_from_path(relative: str) -> datetime | None:
    """The local start time a segment's path spells (``{camera}/{day}/HH-MM-SS[-n].mp4``)."""
    parts = PurePosixPath(relative).parts
    if len(parts) != 3:
        return None
    stem = parts[2].removesuffix(".mp4").split("-")
    try:
        naive = datetime.strptime(f"{parts[1]} {':'.join(stem[:3])}", "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    return naive.astimezone()


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    files_deleted: list[str] = field(default_factory=list)
    rows_purged: list[str] = field(default_factory=list)
    files_announced: list[str] = field(default_factory=list)
    files_unreadable: list[str] = field(default_factory=list)
    files_unowned: list[str] = field(default_factory=list)

    def summary(self) -> str:
        counts = {
            "files of purged segments deleted": self.files_deleted,
            "rows without a file purged": self.rows_purged,
            "unknown files announced": self.files_announced,
            "unreadable files set aside": self.files_unreadable,
            "files of no known camera left alone": self.files_unowned,
        }
        return ", ".join(f"{len(v)} {k}" for k, v in counts.items() if v) or "nothing to mend"


@dataclass(frozen=True, slots=True)
class RetentionConfig:
    policy: RetentionPolicy = field(default_factory=RetentionPolicy)
    interval_s: float = 60.0
    emergency_check_s: float = 5.0
    reconcile_every_s: float = 3600.0
    grace_s: float = 300.0
    snapshot_days: float = 30.0
    export_days: float = 1.0
    export_max_bytes: int | None = None


def free_bytes(path: Path) -> int:
    """Free space on the filesystem that holds ``path`` (or would: its nearest parent)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


class RetentionWorker:
    """``run()`` calls the named steps: reconcile, then apply the policy periodically."""

    def __init__(
        self,
        append: Callable[[Event], object],
        catalog: StorageCatalog,
        root: Path,
        config: RetentionConfig | None = None,
        disk_free: Callable[[Path], int] = free_bytes,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._append, self._catalog, self.root = append, catalog, root
        self.config = config or RetentionConfig()
        self._disk_free, self._clock = disk_free, clock
        self._purged: set[UUID] = set()
        self.purged_total = 0

    # --- named steps -------------------------------------------------------------------

    def run(self, stop: threading.Event, beat: Callable[[], None] = lambda: None) -> None:
        beat()
        self.root.mkdir(parents=True, exist_ok=True)
        report = self.reconcile()
        log.info("retention: reconciliation at start: %s", report.summary())
        last_policy = last_reconcile = time.monotonic()
        self.apply_policy()
        while not stop.wait(self.config.emergency_check_s):
            beat()
            now = time.monotonic()
            if now - last_reconcile >= self.config.reconcile_every_s:
                log.info("retention: reconciliation: %s", self.reconcile().summary())
                last_reconcile = now
            if now - last_policy >= self.config.interval_s or self._disk_is_short():
                self.apply_policy()
                last_policy = now

    def apply_policy(self) -> list[Purge]:
        """Purge what the policy chooses, oldest first; also age out snapshots and exports.
        Exports beyond their budget go first, and on a short disk before any footage."""
        self._trim_exports()
        segments = [s for s in self._catalog.segments() if s.segment_id not in self._purged]
        segments += open_segments(self.root)
        policy = replace(self.config.policy, per_camera=self._catalog.camera_limits())
        purges = plan_purges(segments, policy, self._clock(), self._disk_free(self.root))
        for purge in purges:
            self.purge(purge.segment, purge.reason, tier=purge.segment.tier)
        self._age_out_auxiliary()
        if purges:
            freed = sum(p.segment.bytes for p in purges)
            log.info("retention: purged %d segments, %.1f MB", len(purges), freed / 1e6)
        return purges

    def purge(
        self,
        segment: StoredSegment,
        reason: PurgeReason,
        bytes_freed: int | None = None,
        tier: RetentionTier | None = None,
    ) -> None:
        """The event, then the file (see the module docstring for why in this order)."""
        self._append(
            RetentionPurged(
                segment_id=segment.segment_id,
                camera_id=segment.camera_id,
                path=segment.path,
                bytes_freed=segment.bytes if bytes_freed is None else bytes_freed,
                reason=reason,
                tier=tier,
            )
        )
        self._append(DetectionsPurged(segment_id=segment.segment_id, camera_id=segment.camera_id))
        self._purged.add(segment.segment_id)
        self.purged_total += 1
        self._delete(segment.path)

    def reconcile(self) -> ReconcileReport:
        rows = self._catalog.segments()
        plan = plan_reconciliation(
            rows,
            recorded_files(self.root),
            self._catalog.purged_paths(),
            time.time(),
            self.config.grace_s,
        )
        report = ReconcileReport()
        if plan.storage_missing:
            log.error(
                "retention: no recording under %s but %d in the read model: is the disk "
                "mounted? Leaving the read model alone",
                self.root,
                len(rows),
            )
        for path in plan.finish_purges:
            self._delete(path)
            report.files_deleted.append(path)
        for segment in plan.missing_files:
            self.purge(segment, PurgeReason.RECONCILED, bytes_freed=0)
            report.rows_purged.append(segment.path)
        if plan.orphans:
            self._announce(plan.orphans, report)
        return report

    # --- helpers -----------------------------------------------------------------------

    def _disk_is_short(self) -> bool:
        floor = self.config.policy.min_free_bytes
        return floor is not None and self._disk_free(self.root) < floor

    def _delete(self, relative: str) -> None:
        """Delete a segment's file: only under the storage root, whatever the path says
        (an event or a row that names ``../`` or holds a NUL deletes nothing)."""
        path = self.root / relative
        try:
            if not path.resolve().is_relative_to(self.root.resolve()):
                log.error("retention: %r is not under the storage root: left alone", relative)
                return
            path.unlink(missing_ok=True)
            day = path.parent
            if day != self.root and not any(day.iterdir()):
                day.rmdir()
        except (OSError, ValueError) as e:  # ValueError: a NUL in the path
            log.warning("retention: cannot delete %r: %s", relative, e)

    def _announce(self, orphans: Sequence[DiskFile], report: ReconcileReport) -> None:
        directories = self._catalog.camera_directories()
        for disk in orphans:
            camera = directories.get(PurePosixPath(disk.path).parts[0])
            if camera is None:
                report.files_unowned.append(disk.path)
                continue
            event = orphan_event(self.root, disk, camera)
            if event is None:
                target = self.root / disk.path
                target.rename(target.with_suffix(".mp4.unreadable"))
                report.files_unreadable.append(disk.path)
                continue
            self._append(event)
            report.files_announced.append(disk.path)

    def _trim_exports(self) -> None:
        base = self.root / ".exports"
        if not base.is_dir():
            return
        files = []
        for path in base.glob("*.mp4"):
            try:
                stat = path.stat()
            except OSError:
                continue
            files.append(ExportFile(path.name, stat.st_mtime, stat.st_size))
        removals = plan_export_removals(
            files,
            self.config.export_max_bytes,
            self.config.policy.min_free_bytes,
            self._disk_free(self.root),
        )
        for export in removals:
            (base / export.path).unlink(missing_ok=True)
        if removals:
            log.info("retention: removed %d exports (budget or free space)", len(removals))

    def _age_out_auxiliary(self) -> None:
        now = time.time()
        limits = {".snapshots": self.config.snapshot_days, ".exports": self.config.export_days}
        for folder, days in limits.items():
            base = self.root / folder
            if not base.is_dir():
                continue
            cutoff = now - days * 86400
            for dirpath, _dirs, names in os.walk(base):
                for name in names:
                    path = Path(dirpath, name)
                    try:
                        if path.stat().st_mtime < cutoff:
                            path.unlink()
                    except OSError:
                        continue


def orphan_event(root: Path, disk: DiskFile, camera_id: UUID) -> SegmentClosed | None:
    """SegmentClosed for a file found on disk, or None when it does not decode."""
    try:
        info = probe(root / disk.path)
    except ProbeFailed:
        return None
    media = timedelta(seconds=info.duration_s)
    start = start_from_path(disk.path) or datetime.fromtimestamp(disk.mtime, UTC) - media
    return closed_event(camera_id, disk.path, start, start + media, disk.bytes, info, True)
