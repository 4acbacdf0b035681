"""Small builders of realistic events for tests and benchmarks."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from psycopg import sql

from events.catalogue import (
    CameraAdded,
    CameraConnected,
    CameraDisconnected,
    CameraRemoved,
    CameraUpdated,
    Event,
    PurgeReason,
    RetentionPurged,
    SegmentClosed,
    SegmentTranscoded,
)
from projector.rows import TableSpec

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def segment_closed(
    camera_id: UUID | None = None, index: int = 0, seconds: float = 10.0
) -> SegmentClosed:
    start = T0 + timedelta(seconds=seconds * index)
    return SegmentClosed(
        segment_id=uuid4(),
        camera_id=camera_id or uuid4(),
        path=f"Door/{start:%Y-%m-%d}/{start:%H-%M-%S}.mp4",
        start=start,
        end=start + timedelta(seconds=seconds),
        duration_s=seconds,
        bytes=1_000_000 + index,
        video_codec="h264",
        width=1920,
        height=1080,
        fps=25.0,
        audio_codec="aac",
    )


def camera_added(name: str = "Door") -> CameraAdded:
    return CameraAdded(
        camera_id=uuid4(), name=name, directory=name, rtsp_url="rtsp://127.0.0.1:8554/door"
    )


def random_history(rng: random.Random, n: int) -> list[Event]:
    """A plausible random mix of camera and recording events (for replay checks)."""
    cameras: list[UUID] = []
    segments: list[SegmentClosed] = []
    out: list[Event] = []
    for i in range(n):
        roll = rng.random()
        if not cameras or roll < 0.1:
            added = camera_added(f"cam{i}")
            cameras.append(added.camera_id)
            out.append(added)
        elif roll < 0.15:
            out.append(
                CameraUpdated(
                    camera_id=rng.choice(cameras),
                    name=f"renamed{i}",
                    directory=f"renamed{i}",
                    rtsp_url="rtsp://h/x",
                    position=i,
                )
            )
        elif roll < 0.2:
            out.append(CameraConnected(camera_id=rng.choice(cameras), worker="w"))
        elif roll < 0.25:
            out.append(CameraDisconnected(camera_id=rng.choice(cameras), reason="timeout"))
        elif roll < 0.27 and len(cameras) > 1:
            out.append(CameraRemoved(camera_id=cameras.pop(rng.randrange(len(cameras)))))
        elif roll < 0.8 or not segments:
            seg = segment_closed(rng.choice(cameras), i)
            segments.append(seg)
            out.append(seg)
        elif roll < 0.9:
            seg = segments.pop(rng.randrange(len(segments)))
            out.append(
                RetentionPurged(
                    segment_id=seg.segment_id,
                    camera_id=seg.camera_id,
                    path=seg.path,
                    bytes_freed=seg.bytes,
                    reason=PurgeReason.AGE,
                )
            )
        else:
            seg = rng.choice(segments)
            out.append(
                SegmentTranscoded(
                    segment_id=seg.segment_id,
                    camera_id=seg.camera_id,
                    path=seg.path,
                    old_bytes=seg.bytes,
                    new_bytes=seg.bytes // 2,
                    old_codec="h264",
                    new_codec="hevc",
                )
            )
    return out


def insert_row(conn: Any, schema: str, table: TableSpec, row: object) -> None:
    """Write one read-model row (a read model's row dataclass) by column name, as a test's
    fixture: what a projection would have written, without its events."""
    values = dataclasses.asdict(row)  # type: ignore[call-overload]
    conn.execute(
        sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
            sql.Identifier(schema, table.name),
            sql.SQL(", ").join(sql.Identifier(c) for c in values),
            sql.SQL(", ").join(sql.Placeholder() for _ in values),
        ),
        list(values.values()),
    )
