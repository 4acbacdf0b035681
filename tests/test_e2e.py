"""End to end through `ronin up` and the API: add a simulated camera, see its segments on
the day's timeline, fetch one with a Range header, export a range spanning two."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import cv2
import httpx
import pytest
from websockets.sync.client import connect

from events.catalogue import FrameSampled, Topic
from ingest.probe import probe
from tests.conftest import make_data_dir
from tests.detection_support import MODEL_PATH
from tests.ingest_support import sim
from tests.stack_support import Stack, running_stack
from tests.test_up import free_port, stop_up, wait_healthy

pytestmark = pytest.mark.slow


def test_camera_added_through_the_api_is_recorded_played_and_exported(tmp_path: Path) -> None:
    data, port = make_data_dir("ronin-e2e-"), free_port()
    env = {**os.environ, "RONIN_DATA_DIR": str(data), "API_PORT": str(port),
           "SEGMENT_SECONDS": "10", "ADMIN_PASSWORD": "e2e-admin-password"}  # fmt: skip
    env.pop("REDIS_URL", None)
    env.pop("DATABASE_URL", None)
    camera, server = sim(user="cam", password="cam-secret")
    proc = subprocess.Popen([sys.executable, "-m", "infra.cli", "up"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)  # fmt: skip
    try:
        wait_healthy(port, proc)
        api = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
        token = api.post(
            "/api/auth/login", json={"username": "admin", "password": "e2e-admin-password"}
        ).json()["access_token"]
        api.headers["Authorization"] = f"Bearer {token}"
        added = api.post(
            "/api/cameras",
            json={
                "name": "Porch",
                "rtsp_url": camera.url,
                "username": "cam",
                "password": "cam-secret",
            },
        )
        assert added.status_code == 202, added.text
        camera_id = added.json()["camera_id"]
        segments: list[dict] = []
        deadline = time.monotonic() + 90
        while len(segments) < 2 and time.monotonic() < deadline:
            time.sleep(1)
            days = api.get(f"/api/cameras/{camera_id}/days").json()
            if days:
                timeline = api.get(f"/api/cameras/{camera_id}/timeline",
                                   params={"day": days[-1]}).json()  # fmt: skip
                segments = [s for s in timeline["segments"] if not s["open"]]
        assert len(segments) >= 2, segments
        [cam] = api.get("/api/cameras").json()
        assert cam["status"] == "recording" and "cam-secret" not in str(cam)

        first, second = segments[0], segments[1]
        whole = api.get(f"/api/segments/{first['segment_id']}/video")
        part = api.get(f"/api/segments/{first['segment_id']}/video",
                       headers={"Range": "bytes=0-999"})  # fmt: skip
        assert part.status_code == 206 and part.content == whole.content[:1000]

        start = datetime.fromisoformat(first["end"]) - timedelta(seconds=3)  # spans both
        job = api.post(
            f"/api/cameras/{camera_id}/exports",
            json={"start": start.isoformat(), "end": second["end"]},
        ).json()
        while job["state"] in ("pending", "running"):
            time.sleep(0.3)
            job = api.get(f"/api/exports/{job['export_id']}").json()
        assert job["state"] == "done", job
        out = tmp_path / "export.mp4"
        out.write_bytes(api.get(job["download_url"]).content)
        assert abs(probe(out).duration_s - (3 + second["duration_s"])) <= 1.1
    finally:
        stop_up(proc)
        server.terminate()


def test_the_segment_being_written_is_on_the_timeline_and_plays(tmp_path: Path) -> None:
    camera, server = sim(overlay=False)
    try:
        with running_stack(
            "ronin-open-", SEGMENT_SECONDS="900", ADMIN_PASSWORD="open-segment-pw"
        ) as up:
            api = httpx.Client(base_url=f"http://127.0.0.1:{up.port}", timeout=30)
            token = api.post(
                "/api/auth/login", json={"username": "admin", "password": "open-segment-pw"}
            ).json()["access_token"]
            api.headers["Authorization"] = f"Bearer {token}"
            camera_id = up.add_camera("Porch", camera.url)
            up.wait_recording(["Porch"])
            time.sleep(30)
            day = datetime.now().astimezone().date().isoformat()
            timeline = api.get(
                f"/api/cameras/{camera_id}/timeline",
                params={"day": day, "timezone": str(datetime.now().astimezone().tzinfo)},
            ).json()
            [growing] = timeline["segments"]  # nothing has closed yet: 15-minute segments
            asked_at = datetime.now(UTC)
            assert growing["open"] and growing["duration_s"] >= 27
            assert (asked_at - datetime.fromisoformat(growing["end"])).total_seconds() < 3
            video = api.get(f"/api/segments/{growing['segment_id']}/video")
            assert video.status_code == 200 and int(video.headers["content-length"]) == len(
                video.content
            )
            clip = tmp_path / "open.mp4"
            clip.write_bytes(video.content)
            played_to = datetime.fromisoformat(growing["start"]) + timedelta(
                seconds=probe(clip).duration_s
            )
            assert (asked_at - played_to).total_seconds() < 3
            part = api.get(
                f"/api/segments/{growing['segment_id']}/video", headers={"Range": "bytes=0-99"}
            )
            assert part.status_code == 206 and part.content == video.content[:100]
    finally:
        server.terminate()


def _socket_picture(base: str, socket_url: str, tmp_path: Path) -> tuple[int, int]:
    """The size of the picture a live socket carries (its init segment and a second of
    fragments, probed)."""
    with connect("ws" + base[4:] + socket_url) as socket:
        assert json.loads(socket.recv())["mime"].startswith("video/mp4")
        data = b"".join(bytes(socket.recv()) for _ in range(20))
    clip = tmp_path / "live.mp4"
    clip.write_bytes(data)
    info = probe(clip)
    return info.width, info.height


def test_a_sub_stream_camera_shows_and_detects_on_the_sub_stream_and_records_the_main(
    tmp_path: Path,
) -> None:
    """Frigate's record/detect roles: a camera added through the API with a 640x360 main
    stream and a 320x180 sub-stream; the grid's socket carries the sub-stream, the
    enlarged view's the main one, live detection's stills are the sub-stream's size,
    and the recorded segments are the main stream's."""
    main, main_server = sim(width=640, height=360)
    sub, sub_server = sim(width=320, height=180)
    model = {"ML_MODEL_PATH": str(MODEL_PATH)} if MODEL_PATH.is_file() else {}
    try:
        with running_stack("ronin-sub-", ADMIN_PASSWORD="sub-stream-pw", **model) as up:
            api = httpx.Client(base_url=f"http://127.0.0.1:{up.port}", timeout=30)
            token = api.post(
                "/api/auth/login", json={"username": "admin", "password": "sub-stream-pw"}
            ).json()["access_token"]
            api.headers["Authorization"] = f"Bearer {token}"
            added = api.post("/api/cameras", json={
                "name": "Yard", "rtsp_url": main.url, "sub_rtsp_url": sub.url})  # fmt: skip
            assert added.status_code == 202, added.text
            assert added.json()["connection"]["sub_stream"]["height"] == 180
            camera_id = up.cameras["Yard"] = UUID(added.json()["camera_id"])
            up.wait_recording(["Yard"])
            time.sleep(6)  # the sub-stream's relay starts beside the recording
            base, path = f"http://127.0.0.1:{up.port}", f"/api/cameras/{camera_id}/stream/start"
            grid = api.post(path, params={"stream": "sub"}).json()["socket_url"]
            enlarged = api.post(path).json()["socket_url"]
            assert _socket_picture(base, grid, tmp_path) == (320, 180)
            assert _socket_picture(base, enlarged, tmp_path) == (640, 360)
            up.wait_covered(["Yard"], datetime.now(UTC) + timedelta(seconds=12))
            [recorded, *_] = up.segment_rows("Yard")
            info = probe(up.data / "recordings" / recorded[0])
            assert (info.width, info.height) == (640, 360)
            if model:
                assert _still_size(up, camera_id) == (320, 180)
    finally:
        main_server.terminate()
        sub_server.terminate()


def _still_size(up: Stack, camera_id: UUID, timeout_s: float = 60) -> tuple[int, int]:
    """The size of a still live detection took of the camera (read while it is kept)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for event in reversed(up.events(Topic.FRAMES)):
            if isinstance(event, FrameSampled) and event.camera_id == camera_id:
                image = cv2.imread(str(up.data / "recordings" / event.source_path))
                if image is not None:
                    return image.shape[1], image.shape[0]
        time.sleep(1)
    raise AssertionError("live detection took no still of the camera")
