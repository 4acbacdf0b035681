"""The shell of ``ronin check``: gather the three inventories, report, and repair."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
from rich.console import Console
from rich.table import Table

from events.archive import EventArchive, EventLog
from events.catalogue import Topic
from events.codec import decode
from events.errors import CodecError
from events.store import ZERO, RedisEventStore
from ingest.lifecycle.integrity import (
    EventInventory,
    SegmentRow,
    find_disagreements,
    plan_repairs,
    probe_durations,
)
from ingest.lifecycle.retention import recorded_files
from projector.migrations import migrate
from projector.postgres import PostgresReadModels
from projector.readmodels import cameras, cameras_projection, recordings_projection, segments
from projector.replay import Replayer
from projector.runner import ProjectionRunner


def _rows(conn: psycopg.Connection) -> list[SegmentRow]:
    return [
        SegmentRow(r.segment_id, r.camera_id, r.path, r.bytes, r.duration_s)
        for r in segments.all_segments(conn)
    ]


def _inventory(event_log: EventLog) -> EventInventory:
    inventory = EventInventory()
    for batch in event_log.read_after(Topic.RECORDINGS, ZERO):
        for message in batch:
            try:
                inventory.apply(decode(message.fields))
            except CodecError:
                continue
    return inventory


def run_check(
    root: Path,
    redis_url: str,
    database_url: str,
    repair: bool,
    probe_files: bool,
    console: Console,
) -> int:
    """Print every disagreement (and mend them with ``repair``); returns how many."""
    store = RedisEventStore.from_url(redis_url)
    conn = psycopg.connect(database_url)
    migrate(conn)
    sink = PostgresReadModels(psycopg.connect(database_url))
    for projection in (cameras_projection(), recordings_projection()):
        sink.ensure(projection)
    event_log = EventLog(store, EventArchive(psycopg.connect(database_url)))
    files = recorded_files(root)
    durations = probe_durations(root, files) if probe_files else None
    found = find_disagreements(
        files, _rows(conn), _inventory(event_log), durations, now=time.time()
    )
    table = Table(title=f"ronin check: {len(files)} files under {root}")
    for column in ("problem", "path", "detail"):
        table.add_column(column)
    for d in found:
        table.add_row(d.problem.value, d.path, d.detail)
    console.print(table if found else f"ronin check: {len(files)} files, all in agreement")
    if not repair or not found:
        return len(found)
    directories = {c.directory: c.camera_id for c in cameras.all_cameras(conn)}
    outcome = plan_repairs(root, found, files, directories)
    if outcome.events:
        store.append_many(outcome.events)
    for path in outcome.files_deleted:
        (root / path).unlink(missing_ok=True)
    for path in outcome.files_set_aside:
        (root / path).rename((root / path).with_suffix(".mp4.unreadable"))
    runner = ProjectionRunner(recordings_projection(), store, event_log, sink, "ronin-check")
    while runner.step():  # applied now (or by the running projector, whichever holds it)
        pass
    runner.release()
    if outcome.replay_needed:
        Replayer(event_log, sink).replay(recordings_projection())
    console.print(
        f"repaired: {len(outcome.events)} events, {len(outcome.files_deleted)} files deleted, "
        f"{len(outcome.files_set_aside)} set aside"
        + (", recordings read model replayed" if outcome.replay_needed else "")
    )
    for d in outcome.left:
        console.print(f"left alone: {d.problem.value} {d.path} (no camera owns it)")
    return len(found)
