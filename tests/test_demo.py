"""`ronin up --demo`: a simulated camera is registered, recorded and live within seconds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psycopg
import pytest

from infra.embedded import process_cmdline
from tests.conftest import make_data_dir
from tests.test_up import alive, descendants, free_port, wait_healthy

pytestmark = pytest.mark.slow


def test_demo_records_and_its_live_playlist_plays() -> None:
    data, port = make_data_dir("ronin-demo-"), free_port()
    env = {**os.environ, "RONIN_DATA_DIR": str(data), "API_PORT": str(port),
           "SEGMENT_SECONDS": "10"}  # fmt: skip
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
        db = f"postgresql://ronin@/ronin?host={data}/run/pg"
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
        [playlist] = (data / "recordings" / ".streams").glob("*/stream.m3u8")
        probed = subprocess.run(
            ["ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0",
             str(playlist)], capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert probed.returncode == 0 and "h264" in probed.stdout, probed.stderr
        tree = descendants(proc.pid)
        assert any("ffmpeg" in process_cmdline(p) for p in tree)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
        time.sleep(0.5)
        assert not [p for p in tree if alive(p)]
    finally:
        if proc.poll() is None:
            proc.kill()
