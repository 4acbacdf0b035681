"""``ronin check``: compare the disk, the read model and the event archive.

:func:`find_disagreements` is pure over three inventories: the files under the storage
root, the ``recordings.segments`` rows, and the segments the archived events say exist
(SegmentClosed, minus RetentionPurged, updated by SegmentTranscoded). Probing each file
(duration, decodability) is the shell's job. With ``--repair`` every disagreement is
mended through events, never by writing the read model behind the projector's back:

| found | repair |
|---|---|
| file without a row (segment purged) | delete the file |
| file without a row (unknown) | SegmentClosed (recovered) from a probe of the file |
| row without a file | RetentionPurged (reconciled) |
| size or duration mismatch | SegmentClosed again with what the file says (same id) |
| unreadable file | set aside as ``.unreadable``, RetentionPurged (reconciled) |
| read model differs from the events | replay the ``recordings`` projection |
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from uuid import UUID

from events.catalogue import (
    DetectionsPurged,
    Event,
    PurgeReason,
    RetentionPurged,
    SegmentClosed,
    SegmentTranscoded,
)
from ingest.lifecycle.retention import DiskFile, orphan_event
from ingest.probe import ProbeFailed, probe


class Problem(StrEnum):
    FILE_WITHOUT_ROW = "file without a row"
    PURGED_FILE_LEFT = "file of a purged segment"
    ROW_WITHOUT_FILE = "row without a file"
    SIZE_MISMATCH = "size mismatch"
    DURATION_MISMATCH = "duration mismatch"
    UNREADABLE = "unreadable file"
    ROW_NOT_IN_EVENTS = "row the events do not explain"
    EVENT_NOT_IN_ROWS = "segment the read model lacks"


@dataclass(frozen=True, slots=True)
class SegmentRow:
    segment_id: UUID
    camera_id: UUID
    path: str
    bytes: int
    duration_s: float


@dataclass(frozen=True, slots=True)
class Disagreement:
    problem: Problem
    path: str
    detail: str = ""
    row: SegmentRow | None = None


@dataclass(slots=True)
class EventInventory:
    """The segments the recordings events say exist, by id."""

    segments: dict[UUID, SegmentRow] = field(default_factory=dict)
    purged_paths: set[str] = field(default_factory=set)

    def apply(self, event: Event) -> None:
        if isinstance(event, SegmentClosed):
            self.segments[event.segment_id] = SegmentRow(
                event.segment_id, event.camera_id, event.path, event.bytes, event.duration_s
            )
        elif isinstance(event, RetentionPurged):
            self.segments.pop(event.segment_id, None)
            self.purged_paths.add(event.path)
        elif isinstance(event, SegmentTranscoded) and event.segment_id in self.segments:
            old = self.segments[event.segment_id]
            self.segments[event.segment_id] = SegmentRow(
                old.segment_id, old.camera_id, event.path, event.new_bytes, old.duration_s
            )


def find_disagreements(
    files: Mapping[str, DiskFile],
    rows: Iterable[SegmentRow],
    events: EventInventory,
    durations: Mapping[str, float | None] | None = None,
    tolerance_s: float = 1.0,
    now: float | None = None,
    settle_s: float = 60.0,
) -> list[Disagreement]:
    """Every disagreement between the three; ``durations`` (probed, None = unreadable).
    A file written in the last ``settle_s`` before ``now`` is a segment closing at this
    moment (its event and row follow within moments): not yet a disagreement."""
    found: list[Disagreement] = []
    by_path = {r.path: r for r in rows}

    def settling(path: str) -> bool:
        disk = files.get(path)
        return now is not None and disk is not None and disk.mtime > now - settle_s

    for path, disk in sorted(files.items()):
        row = by_path.get(path)
        if row is None and settling(path):
            continue
        if row is None:
            problem = (
                Problem.PURGED_FILE_LEFT
                if path in events.purged_paths
                else Problem.FILE_WITHOUT_ROW
            )
            found.append(Disagreement(problem, path, f"{disk.bytes} bytes"))
            continue
        if durations is not None and path in durations and durations[path] is None:
            found.append(Disagreement(Problem.UNREADABLE, path, "does not decode", row))
            continue
        if row.bytes != disk.bytes:
            detail = f"row {row.bytes} bytes, file {disk.bytes}"
            found.append(Disagreement(Problem.SIZE_MISMATCH, path, detail, row))
        probed = durations.get(path) if durations is not None else None
        if probed is not None and abs(probed - row.duration_s) > tolerance_s:
            detail = f"row {row.duration_s:.1f} s, file {probed:.1f} s"
            found.append(Disagreement(Problem.DURATION_MISMATCH, path, detail, row))
    for row in sorted(by_path.values(), key=lambda r: r.path):
        if row.path not in files:
            found.append(Disagreement(Problem.ROW_WITHOUT_FILE, row.path, "", row))
    row_ids = {r.segment_id for r in by_path.values()}
    for row in by_path.values():
        if row.segment_id not in events.segments:
            found.append(Disagreement(Problem.ROW_NOT_IN_EVENTS, row.path, str(row.segment_id)))
    for segment_id, expected in events.segments.items():
        if segment_id not in row_ids and not settling(expected.path):
            found.append(Disagreement(Problem.EVENT_NOT_IN_ROWS, expected.path, str(segment_id)))
    return found


def probe_durations(root: Path, paths: Iterable[str]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for path in paths:
        try:
            out[path] = probe(root / path).duration_s
        except ProbeFailed:
            out[path] = None
    return out


@dataclass(slots=True)
class RepairOutcome:
    events: list[Event] = field(default_factory=list)
    files_deleted: list[str] = field(default_factory=list)
    files_set_aside: list[str] = field(default_factory=list)
    replay_needed: bool = False
    left: list[Disagreement] = field(default_factory=list)


def plan_repairs(
    root: Path,
    found: Iterable[Disagreement],
    files: Mapping[str, DiskFile],
    camera_directories: Mapping[str, UUID],
) -> RepairOutcome:
    """Decide each repair (probing files where it must); the caller applies the outcome."""
    outcome = RepairOutcome()
    for d in found:
        if d.problem is Problem.PURGED_FILE_LEFT:
            outcome.files_deleted.append(d.path)
        elif d.problem is Problem.FILE_WITHOUT_ROW:
            camera = camera_directories.get(Path(d.path).parts[0])
            event = orphan_event(root, files[d.path], camera) if camera else None
            if event is None:
                outcome.left.append(d)
            else:
                outcome.events.append(event)
        elif d.problem in (Problem.ROW_WITHOUT_FILE, Problem.UNREADABLE):
            assert d.row is not None
            outcome.events.append(
                RetentionPurged(
                    segment_id=d.row.segment_id, camera_id=d.row.camera_id, path=d.path,
                    bytes_freed=0, reason=PurgeReason.RECONCILED,
                )
            )  # fmt: skip
            outcome.events.append(
                DetectionsPurged(segment_id=d.row.segment_id, camera_id=d.row.camera_id)
            )
            if d.problem is Problem.UNREADABLE:
                outcome.files_set_aside.append(d.path)
        elif d.problem in (Problem.SIZE_MISMATCH, Problem.DURATION_MISMATCH):
            assert d.row is not None
            event = orphan_event(root, files[d.path], d.row.camera_id)
            if event is None:
                outcome.left.append(d)
            else:
                outcome.events.append(event.model_copy(update={"segment_id": d.row.segment_id}))
        else:
            outcome.replay_needed = True
    return outcome
