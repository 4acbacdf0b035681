"""Helpers for ingest tests: free ports, simulated cameras, a recorder driven by hand."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

from events.catalogue import Event, SegmentClosed
from ingest.recorder import CameraRecorder, CameraSource, RecorderSettings, pump_until
from ingest.segment_store import SegmentStore, segment_id_for
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
        pump_until([rec], time.monotonic() + 0.2)


def segments(events: list[Event]) -> list[SegmentClosed]:
    return [e for e in events if isinstance(e, SegmentClosed)]


def copies_of(
    template: Path,
    root: Path,
    directory: str,
    camera: UUID,
    starts: list[datetime],
    info: tuple[float, int, int, float],
) -> list[SegmentClosed]:
    """The template copied to ``{directory}/{day}/{time}.mp4`` once per start, each with the
    SegmentClosed ingest would emit; ``info`` is (seconds, width, height, fps)."""
    seconds, width, height, fps = info
    events = []
    for start in starts:
        relative = f"{directory}/{start.astimezone():%Y-%m-%d/%H-%M-%S}.mp4"
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(template, root / relative)
        events.append(
            SegmentClosed(
                segment_id=segment_id_for(camera, relative), camera_id=camera, path=relative,
                start=start, end=start + timedelta(seconds=seconds), duration_s=seconds,
                bytes=(root / relative).stat().st_size, video_codec="h264", width=width,
                height=height, fps=fps, audio_codec=None,
            )
        )  # fmt: skip
    return events
