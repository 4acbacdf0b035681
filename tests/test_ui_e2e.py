"""The web UI end to end: real headless Chromium (playwright-core, Debian's chromium)
against `ronin up --demo` with a second simulated camera. Screenshots of every page are
kept in ``ui/e2e/artifacts/``."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from infra.demo import DEMO_CAMERA_ID
from ingest.live.ring import LiveStreamKind, default_streams_root, ring_dir, running
from projector.notify.webhooks import verify
from tests.conftest import make_data_dir
from tests.detection_support import MODEL_PATH
from tests.ingest_support import sim
from tests.test_up import free_port, stop_up, wait_healthy
from tests.test_webhooks import Receiver

pytestmark = pytest.mark.slow
UI = Path(__file__).resolve().parents[1] / "ui"
CHROMIUM = Path("/usr/bin/chromium")


def test_the_web_ui_works_in_a_real_browser() -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    if not (UI / "dist" / "index.html").is_file() or not (UI / "node_modules").is_dir():
        pytest.skip("the UI is not built: run `bash infra/bootstrap.sh test` (npm ci, build)")
    if not CHROMIUM.exists():
        pytest.skip("chromium is not installed (`bash infra/bootstrap.sh test` installs it)")
    data, port = make_data_dir("ronin-ui-"), free_port()
    password = "ui test password 1"
    env = {**os.environ, "RONIN_DATA_DIR": str(data), "API_PORT": str(port),
           "SEGMENT_SECONDS": "10", "ADMIN_PASSWORD": password, "DEMO_SCENE_PERIOD_S": "20",
           "UI_DIST": str(UI / "dist")}  # fmt: skip
    env.pop("REDIS_URL", None)
    env.pop("DATABASE_URL", None)
    detections = MODEL_PATH.is_file()
    if detections:
        env["ML_MODEL_PATH"] = str(MODEL_PATH)
    second, second_server = sim(width=640, height=360, path="garage")
    proc = subprocess.Popen(
        [sys.executable, "-m", "infra.cli", "up", "--demo"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    artifacts = UI / "e2e" / "artifacts"
    stack = contextlib.ExitStack()
    shutil.rmtree(artifacts, ignore_errors=True)
    try:
        wait_healthy(port, proc)
        _wait_for_the_sub_stream(default_streams_root((data / "recordings").resolve()))
        receiver = Receiver()
        hook_url = stack.enter_context(receiver.serving())
        run = subprocess.run(
            ["node", "e2e/run.mjs"],
            cwd=UI,
            env={**os.environ, "BASE_URL": f"http://127.0.0.1:{port}", "PASSWORD": password,
                 "SECOND_CAMERA_URL": second.url, "ARTIFACTS": str(artifacts),
                 "WEBHOOK_URL": hook_url,
                 "EXPECT_DETECTIONS": "1" if detections else "0"},
            capture_output=True, text=True, timeout=540,
        )  # fmt: skip
        print(run.stdout, run.stderr)
        assert run.returncode == 0, run.stdout + run.stderr
        secret = run.stdout.split("webhook secret: ")[1].split()[0]
        # the test the page sent and, with a model, the demo person's alert items: signed
        kinds = [json.loads(payload)["type"] for _, payload, _ in receiver.got]
        assert "test" in kinds and (not detections or "review" in kinds), kinds
        assert all(verify(secret, h, payload, int(time.time()), max_age_s=600)
                   for h, payload, _ in receiver.got)  # fmt: skip
        for name in ("login-error", "live", "setup-add", "setup", "notifications", "zones",
                     "playback", "detections", "status", "live-phone"):  # fmt: skip
            assert (artifacts / f"{name}.png").stat().st_size > 10_000, name
        if detections:
            assert (artifacts / "alert-toast.png").exists()
            assert (artifacts / "playback-marker.png").exists()
            assert (artifacts / "review.png").exists()
    finally:
        stack.close()
        stop_up(proc)
        second_server.terminate()
        second_server.wait()
        for profile in artifacts.glob("profile-*"):
            shutil.rmtree(profile, ignore_errors=True)


def _wait_for_the_sub_stream(streams: Path, timeout_s: float = 60) -> None:
    """Until the demo camera's sub-stream runs (the grid plays it from then on)."""
    sub = ring_dir(streams, DEMO_CAMERA_ID, LiveStreamKind.SUB)
    deadline = time.monotonic() + timeout_s
    while not running(sub):
        assert time.monotonic() < deadline, "the demo camera's sub-stream did not start"
        time.sleep(0.5)
