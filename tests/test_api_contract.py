"""The API keeps its word: schemathesis, with every check it has (no 5xx, status codes,
content types, headers and bodies as declared, schema-violating requests refused and
schema-valid ones accepted, ``Allow``, authentication, use after free, …) and every
phase (examples, coverage, fuzzing, stateful), against `ronin up --demo` while its
camera records, with footage, tracks, an alert, a webhook and two users present, signed
in as the admin and then as a viewer. Any finding fails the test.

Left out: logout (it would end the run's own session; ``test_security.py``) and the
event stream (it never ends; ``test_live_events.py``). Whatever would connect somewhere
is pointed at this machine (``schemathesis_hooks.py``); the settings, seed included,
are in ``schemathesis.toml``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from uuid import UUID, uuid4

import httpx
import pytest

from events.catalogue import AlertRaised, TrackEnded, TrackStarted
from events.store import RedisEventStore
from infra.demo import DEMO_CAMERA_ID
from tests.stack_support import Span, Stack, missing_s, now, running_stack
from tests.test_mqtt_pure import track

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

HERE = Path(__file__).resolve().parent
OWNER = {"username": "admin", "password": "contract test owner password"}
VIEWER = {"username": "viewer", "password": "contract test viewer password"}
LEFT_OUT = r"^/api/(auth/logout|events/stream)$"


def _token(base: str, who: dict[str, str]) -> str:
    return str(httpx.post(f"{base}/api/auth/login", json=who).json()["access_token"])


def _seed(stack: Stack, base: str, admin: dict[str, str]) -> str:
    """A viewer, a webhook, a track and an alert beside the recording demo camera, and a
    closed segment; returns the ids of what exists (``name=id,...``)."""
    users = httpx.post(f"{base}/api/users", headers=admin, json={
        **VIEWER, "role": "viewer", "cameras": [str(DEMO_CAMERA_ID)]})  # fmt: skip
    assert users.status_code == 201, users.text
    hook = httpx.post(f"{base}/api/webhooks", headers=admin,
                      json={"name": "door", "url": "http://127.0.0.1:9/hook"})  # fmt: skip
    assert hook.status_code == 202, hook.text
    store = RedisEventStore.from_url(stack.redis_url)
    t0, track_id = now(), uuid4()
    store.append(track(TrackStarted, track_id, 0, camera=DEMO_CAMERA_ID, t0=t0))
    store.append(track(TrackEnded, track_id, 4, camera=DEMO_CAMERA_ID, t0=t0))
    alert = AlertRaised(alert_id=uuid4(), camera_id=DEMO_CAMERA_ID, detection_id=uuid4(),
                        label="person", confidence=0.9, detected_at=t0,
                        track_id=track_id)  # fmt: skip
    store.append(alert)
    stack.cameras["demo"] = DEMO_CAMERA_ID
    stack.wait_covered(["demo"], until=t0 + timedelta(seconds=1), timeout_s=90)
    window = {"start": (t0 - timedelta(minutes=5)).isoformat(), "end": now().isoformat()}
    segment = httpx.get(f"{base}/api/cameras/{DEMO_CAMERA_ID}/segments", headers=admin,
                        params=window).json()[0]  # fmt: skip
    ids = {"camera_id": DEMO_CAMERA_ID, "segment_id": segment["segment_id"],
           "track_id": track_id, "alert_id": alert.alert_id}  # fmt: skip
    deadline = time.monotonic() + 30
    while not _projected(base, admin, track_id, alert.alert_id):
        assert time.monotonic() < deadline, "the track and the alert were not projected"
        time.sleep(0.5)
    return ",".join(f"{name}={value}" for name, value in ids.items())


def _projected(base: str, admin: dict[str, str], track_id: UUID, alert_id: UUID) -> bool:
    tracks = httpx.get(f"{base}/api/tracks", headers=admin, params={"model_id": "m"}).json()
    alerts = httpx.get(f"{base}/api/alerts", headers=admin).json()
    return any(t["track_id"] == str(track_id) for t in tracks) and any(
        a["alert_id"] == str(alert_id) for a in alerts
    )


def _schemathesis(base: str, token: str, known: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.schemathesis_hooks",
           "CONTRACT_USERS": f"{OWNER['username']},{VIEWER['username']}",
           "CONTRACT_CAMERA": str(DEMO_CAMERA_ID),
           "CONTRACT_IDS": known,
           "PYTHONPATH": str(HERE.parent)}  # fmt: skip
    command = [str(Path(sys.executable).parent / "st"), "--no-color", "--config-file",
               str(HERE / "schemathesis.toml"), "run", f"{base}/openapi.json",
               "--header", f"Authorization: Bearer {token}",
               "--exclude-path-regex", LEFT_OUT]  # fmt: skip
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=1500,
                          cwd=HERE.parent)  # fmt: skip


def test_schemathesis_finds_nothing_as_admin_or_viewer() -> None:
    env = {"ADMIN_PASSWORD": OWNER["password"]}
    with running_stack("ronin-contract-", "--demo", **env) as stack:
        base = f"http://127.0.0.1:{stack.port}"
        admin = {"Authorization": f"Bearer {_token(base, OWNER)}"}
        known = _seed(stack, base, admin)
        started = now()
        for who in (OWNER, VIEWER):
            run = _schemathesis(base, _token(base, who), known)
            summary = run.stdout[run.stdout.rfind("SUMMARY") - 40 :]
            print(f"--- as {who['username']} ---\n{summary}")
            assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-3000:]
        # and the camera recorded all along (a second of slack for a segment boundary)
        ended = now()
        stack.wait_covered(["demo"], until=ended, timeout_s=60)
        lost = missing_s(stack.spans("demo"), Span(started, ended))
        print(f"footage lost on the demo camera during the run: {lost:.1f} s")
        assert lost <= 1.0, lost
