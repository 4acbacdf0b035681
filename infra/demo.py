"""``ronin up --demo``: a simulated camera, registered once, so a newcomer sees video at once."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from uuid import NAMESPACE_URL, uuid5

import psycopg

from events.catalogue import CameraAdded, CameraUpdated
from events.store import RedisEventStore
from ingest.simcam.launcher import SimCamera, person_photo
from projector.readmodels import cameras

DEMO_CAMERA_ID = uuid5(NAMESPACE_URL, "ronin:demo-camera")
DEMO_NAME = "Demo"


def demo_camera(
    preferred_port: int = 8554, data_dir: Path | None = None, period_s: int = 60
) -> SimCamera:
    """The demo camera: 720p H.264 at 15 fps, 1-second GOP, AAC audio, a 640x360
    sub-stream (the grid and live detection use it), and a person (a real photograph)
    who walks in every minute, for live detection to find."""
    photo = person_photo(data_dir / "demo" / "person.png") if data_dir else None
    return SimCamera(
        port=_free_port(preferred_port), path="demo", width=1280, height=720, audio="aac",
        scene="person" if photo else "ball", person_png=str(photo) if photo else None,
        scene_period_s=period_s, sub_width=640, sub_height=360,
    )  # fmt: skip


def _free_port(preferred: int) -> int:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])


def register_demo_camera(
    store: RedisEventStore,
    database_url: str,
    url: str,
    sub_url: str | None = None,
    timeout_s: float = 60,
) -> str:
    """Add the demo camera (or point it at ``url`` and ``sub_url``); waits for the
    cameras read model."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with psycopg.connect(database_url) as conn:
                if not cameras.created(conn):
                    raise LookupError("the cameras read model is not created yet")
                row = cameras.camera(conn, DEMO_CAMERA_ID)
            break
        except LookupError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    config = {"camera_id": DEMO_CAMERA_ID, "name": DEMO_NAME, "directory": DEMO_NAME,
              "rtsp_url": url, "sub_rtsp_url": sub_url}  # fmt: skip
    if row is None:
        store.append(CameraAdded(**config))
        return "registered"
    if (row.rtsp_url, row.sub_rtsp_url) != (url, sub_url):
        store.append(CameraUpdated(**config))
        return "updated"
    return "already registered"
