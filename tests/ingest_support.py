"""Helpers for ingest tests: free ports, simulated cameras, a recorder driven by hand."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from uuid import uuid4

from events.catalogue import Event, SegmentClosed
from ingest.recorder import CameraRecorder, CameraSource, RecorderSettings
from ingest.segment_store import SegmentStore
from ingest.simcam.launcher import SimCamera, start_sim_cameras


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sim(**options: object) -> tuple[SimCamera, subprocess.Popen[bytes]]:
    camera = SimCamera(port=free_port(), **options)  # type: ignore[arg-type]
    return camera, start_sim_cameras([camera])


def recorder(
    root: Path, url: str, name: str = "Door", segment_seconds: float = 10.0, **settings: float
) -> tuple[CameraRecorder, list[Event]]:
    events: list[Event] = []
    source = CameraSource(uuid4(), name, name, url)
    rec = CameraRecorder(
        source,
        SegmentStore(root, events.append),
        RecorderSettings(log_dir=root / ".logs", segment_seconds=segment_seconds, **settings),
        events.append,
        "test-worker",
    )
    return rec, events


def run_until(rec: CameraRecorder, done: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not done():
        rec.tick(time.monotonic())
        time.sleep(0.2)


def segments(events: list[Event]) -> list[SegmentClosed]:
    return [e for e in events if isinstance(e, SegmentClosed)]
