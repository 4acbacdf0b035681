"""`ronin up --demo`: a simulated camera is registered, recorded and live within seconds."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import httpx
import psycopg
import pytest

from infra.demo import DEMO_CAMERA_ID
from infra.embedded import EmbeddedPostgres, process_cmdline
from ingest.live.ring import MEMORY_DIR, MEMORY_LEAST_BYTES, default_streams_root
from tests.conftest import make_data_dir
from tests.detection_support import MODEL_PATH
from tests.test_up import alive, descendants, free_port, wait_healthy

pytestmark = pytest.mark.slow


def test_demo_records_and_its_live_playlist_plays() -> None:
    data, port = make_data_dir("ronin-demo-"), free_port()
    env = {**os.environ, "RONIN_DATA_DIR": str(data), "API_PORT": str(port),
           "SEGMENT_SECONDS": "10", "ADMIN_PASSWORD": "demo password 1",
           "DEMO_SCENE_PERIOD_S": "20"}  # fmt: skip
    if MODEL_PATH.is_file():
        env["ML_MODEL_PATH"] = str(MODEL_PATH)
    env.pop("REDIS_URL", None)
    env.pop("DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "infra.cli", "up", "--demo"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_healthy(port, proc)
        db = EmbeddedPostgres(data).url
        deadline, rows = time.monotonic() + 60, []
        while time.monotonic() < deadline and len(rows) < 2:
            time.sleep(1)
            with psycopg.connect(db) as conn:
                rows = conn.execute(
                    "SELECT s.path, s.duration_s, c.status FROM recordings.segments s"
                    " JOIN cameras.cameras c USING (camera_id) ORDER BY s.start_at"
                ).fetchall()
        assert len(rows) >= 2, rows
        assert all(path.startswith("Demo/") for path, _, _ in rows)
        assert rows[0][2] == "recording"
        assert all((data / "recordings" / path).exists() for path, _, _ in rows)
        streams = default_streams_root((data / "recordings").resolve())
        if MEMORY_DIR.is_dir() and shutil.disk_usage(MEMORY_DIR).total >= MEMORY_LEAST_BYTES:
            # the live ring is written to memory, never to the disk
            assert streams.parent == MEMORY_DIR
        [playlist] = streams.glob(f"{DEMO_CAMERA_ID}/live0.mp4")
        probed = subprocess.run(
            ["ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0",
             str(playlist)], capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert probed.returncode == 0 and "h264" in probed.stdout, probed.stderr
        if MODEL_PATH.is_file():
            alert = first_alert(port, "demo password 1", timeout_s=120)
            assert alert["label"] == "person" and alert["snapshot_url"]
            with psycopg.connect(db) as conn:
                jobs = conn.execute(
                    "SELECT count(*) FROM detections.jobs WHERE status = 'done'"
                ).fetchone()
            assert jobs is not None and jobs[0] >= 1  # the recorded segments are analysed
        tree = descendants(proc.pid)
        assert any("ffmpeg" in process_cmdline(p) for p in tree)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
        time.sleep(0.5)
        assert not [p for p in tree if alive(p)]
        assert not streams.exists()  # the rings' memory is given back
    finally:
        if proc.poll() is None:
            proc.kill()


def first_alert(port: int, password: str, timeout_s: float) -> dict[str, object]:
    """The first AlertRaised on the SSE stream (read from the start of the streams)."""
    base = f"http://127.0.0.1:{port}"
    token = httpx.post(
        f"{base}/api/auth/login", json={"username": "admin", "password": password}
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Last-Event-ID": "0-0_0-0"}
    deadline = time.monotonic() + timeout_s
    with httpx.stream(
        "GET", f"{base}/api/events/stream", headers=headers, timeout=timeout_s
    ) as response:
        event = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "AlertRaised":
                return dict(json.loads(line[6:]))
            if time.monotonic() > deadline:
                break
    raise AssertionError("no alert within the time limit")
