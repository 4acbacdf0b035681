"""`ronin up` end to end: healthy, survives kill -9 of its whole tree, stops on Ctrl-C."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
import pytest
import redis

from events.store import RedisEventStore
from infra.embedded import EmbeddedPostgres
from tests.conftest import make_data_dir
from tests.factories import camera_added

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def alive(pid: int) -> bool:
    """Running (not a zombie); False if it is gone, even while we look."""
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


ADMIN_PASSWORD = "up admin password"


def start(data: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "RONIN_DATA_DIR": str(data), "API_PORT": str(port),
           "ADMIN_PASSWORD": ADMIN_PASSWORD}  # fmt: skip
    env.pop("REDIS_URL", None)
    env.pop("DATABASE_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "infra.cli", "up"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_up(proc: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    """Stop ``ronin up`` as Ctrl-C does (it stops what it started), killed if it hangs."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()


def wait_healthy(port: int, proc: subprocess.Popen[bytes], timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        try:
            last = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5)
            if last.status_code == 200:
                return last.json()
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"not healthy in {timeout} s: {last.text if last else 'no answer'}")


def health_details(port: int, password: str) -> dict:
    """The health report as an admin sees it (each component)."""
    base = f"http://127.0.0.1:{port}"
    login = httpx.post(f"{base}/api/auth/login", json={"username": "admin", "password": password})
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    return httpx.get(f"{base}/api/health", headers=headers, timeout=5).json()


def assert_servers_are_private(data: Path) -> None:
    """No other local user reaches the embedded servers' sockets, and PostgreSQL asks
    for the password it generated (kept 0600)."""
    assert (data / "run" / "pg").stat().st_mode & 0o777 == 0o700
    assert (data / "postgres.password").stat().st_mode & 0o777 == 0o600
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(f"postgresql://ronin@/ronin?host={data}/run/pg").close()
    assert (data / "run" / "redis.sock").stat().st_mode & 0o077 == 0
    if os.geteuid() != 0:
        return  # (as root, try it as nobody)
    for path in (data / "run" / "redis.sock", data / "run" / "pg" / ".s.PGSQL.5432"):
        code = "import socket, sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])"
        tried = subprocess.run(["/usr/bin/python3", "-c", code, str(path)], user="nobody",
                               capture_output=True, text=True, check=False)  # fmt: skip
        assert tried.returncode != 0 and "PermissionError" in tried.stderr, (path, tried.stderr)


def test_up_is_healthy_survives_kill_9_and_stops_cleanly() -> None:
    data, port = make_data_dir("ronin-up-"), free_port()
    first = start(data, port)
    try:
        wait_healthy(port, first)
        names = {c["name"] for c in health_details(port, ADMIN_PASSWORD)["components"]}
        assert {
            "redis",
            "postgres",
            "duckdb",
            "worker:projector",
            "worker:analytics",
            "worker:archiver",
        } <= names

        client = redis.Redis.from_url(f"unix://{data}/run/redis.sock")
        added = camera_added("Porch")
        RedisEventStore(client).append(added)
        db = EmbeddedPostgres(data).url
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with psycopg.connect(db) as conn:
                found = conn.execute(
                    "SELECT name FROM cameras.cameras WHERE camera_id = %s", (added.camera_id,)
                ).fetchall()
            if found:
                break
            time.sleep(0.2)
        assert found == [("Porch",)]
        assert_servers_are_private(data)
        env = {**os.environ, "RONIN_DATA_DIR": str(data)}  # no URLs: it finds the servers
        env.pop("REDIS_URL", None)
        env.pop("DATABASE_URL", None)
        replayed = subprocess.run([sys.executable, "-m", "infra.cli", "replay", "cameras"],
                                  env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
        assert replayed.returncode == 0 and "events replayed" in replayed.stderr, replayed.stderr

        tree = [first.pid, *descendants(first.pid)]
        assert len(tree) >= 6
        for pid in tree:
            with contextlib.suppress(ProcessLookupError):  # an ffmpeg retrying may be gone
                os.kill(pid, signal.SIGKILL)
        first.wait(10)

        second = start(data, port)
        try:
            wait_healthy(port, second)
            with psycopg.connect(db) as conn:
                names_after = conn.execute("SELECT name FROM cameras.cameras").fetchall()
            assert names_after == [("Porch",)]

            env = {
                **os.environ,
                "REDIS_URL": f"unix://{data}/run/redis.sock",
                "DATABASE_URL": db,
                "RONIN_DATA_DIR": str(data),
            }
            for projection in ("cameras", "analytics_recordings"):
                replayed = subprocess.run(
                    [sys.executable, "-m", "infra.cli", "replay", projection],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=120,
                )
                assert replayed.returncode == 0, replayed.stderr
                assert "events replayed" in replayed.stderr
            with psycopg.connect(db) as conn:
                assert conn.execute("SELECT name FROM cameras.cameras").fetchall() == [("Porch",)]

            again = start(data, port)  # a second `ronin up` on the same data: says so, exits
            out, _ = again.communicate(timeout=30)
            assert again.returncode == 0 and b"already running" in out

            tree = descendants(second.pid)
            second.send_signal(signal.SIGINT)
            assert second.wait(90) == 0
            time.sleep(0.5)
            assert not [p for p in tree if alive(p)]
        finally:
            if second.poll() is None:
                second.kill()
    finally:
        for pid in [first.pid, *descendants(first.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
