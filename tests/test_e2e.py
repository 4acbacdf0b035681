"""End to end through `ronin up` and the API: add a simulated camera, see its segments on
the day's timeline, fetch one with a Range header, export a range spanning two."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from ingest.probe import probe
from tests.conftest import make_data_dir
from tests.ingest_support import sim
from tests.stack_support import running_stack
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
