"""A whole `ronin up` stack for fault injection: cameras added as events, processes found
by what they run, and footage measured as the timeline shows it (the recordings read
model), so a test or a benchmark counts the seconds a user would find missing."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid4

import psycopg

from api.timeline import Span, gaps
from events.archive import EventArchive, EventLog
from events.catalogue import CameraAdded, Event, Topic
from events.codec import decode
from events.store import ZERO, RedisEventStore
from infra.embedded import EmbeddedPostgres
from tests.conftest import make_data_dir
from tests.test_up import descendants, free_port, stop_up, wait_healthy


@dataclass
class Stack:
    data: Path
    port: int
    proc: subprocess.Popen[bytes]
    cameras: dict[str, UUID] = field(default_factory=dict)

    @property
    def redis_url(self) -> str:
        return f"unix://{self.data}/run/redis.sock"

    @property
    def database_url(self) -> str:
        return EmbeddedPostgres(self.data).url  # (with the password it generated)

    def add_camera(self, name: str, url: str) -> UUID:
        camera_id = uuid4()
        event = CameraAdded(camera_id=camera_id, name=name, directory=name, rtsp_url=url)
        RedisEventStore.from_url(self.redis_url).append(event)
        self.cameras[name] = camera_id
        return camera_id

    def pids(self, marker: str) -> list[int]:
        """The stack's processes whose command line holds ``marker``."""
        found = []
        for pid in descendants(self.proc.pid):
            with contextlib.suppress(OSError):
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                if marker.encode() in cmdline:
                    found.append(pid)
        return found

    def worker_pids(self, name: str) -> list[int]:
        """The worker process ``name`` (``python -m infra.workers NAME``)."""
        return self.pids(f"infra.workers {name}")

    def ffmpeg_pids(self, camera: str) -> list[int]:
        return [p for p in self.pids(f".incoming/{self.cameras[camera]}/") if _named(p, "ffmpeg")]

    def server_pid(self, name: str) -> int:
        pid_file = {"redis": "run/redis.pid", "postgres": "postgres/postmaster.pid"}[name]
        return int((self.data / pid_file).read_text().split()[0])

    def spans(self, camera: str) -> list[Span]:
        """The camera's footage on the timeline: every segment in the read model."""
        with psycopg.connect(self.database_url) as conn:
            rows = conn.execute(
                "SELECT start_at, end_at FROM recordings.segments WHERE camera_id = %s",
                (self.cameras[camera],),
            ).fetchall()
        return [Span(start, end) for start, end in rows]

    def segment_rows(self, camera: str) -> list[tuple[str, datetime, datetime]]:
        with psycopg.connect(self.database_url) as conn:
            return conn.execute(
                "SELECT path, start_at, end_at FROM recordings.segments WHERE camera_id = %s"
                " ORDER BY start_at",
                (self.cameras[camera],),
            ).fetchall()

    def events(self, topic: Topic) -> list[Event]:
        """Every event on ``topic``, archived or still in the stream."""
        store = RedisEventStore.from_url(self.redis_url)
        with psycopg.connect(self.database_url) as conn:
            batches = EventLog(store, EventArchive(conn)).read_after(topic, ZERO)
            return [decode(m.fields) for batch in batches for m in batch]

    def statuses(self) -> dict[str, str]:
        with (
            contextlib.suppress(psycopg.OperationalError),
            psycopg.connect(self.database_url) as conn,
        ):
            rows = conn.execute("SELECT name, status FROM cameras.cameras").fetchall()
            return dict(rows)
        return {}

    def wait_recording(self, names: Sequence[str], timeout_s: float = 60) -> None:
        """Until every named camera has footage on the timeline."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with contextlib.suppress(psycopg.OperationalError):
                if all(self.ffmpeg_pids(n) and self.statuses().get(n) == "recording"
                       for n in names):  # fmt: skip
                    return
            time.sleep(0.5)
        raise AssertionError(f"not recording within {timeout_s} s: {self.statuses()}")

    def wait_covered(self, names: Sequence[str], until: datetime, timeout_s: float = 60) -> None:
        """Until every named camera's timeline reaches ``until`` (segments closed)."""

        def reached(name: str) -> bool:
            spans = self.spans(name)
            return bool(spans) and max(s.end for s in spans) >= until

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with contextlib.suppress(psycopg.OperationalError):
                if all(reached(n) for n in names):
                    return
            time.sleep(1)
        raise AssertionError(f"the timeline did not reach {until} within {timeout_s} s")


def _named(pid: int, name: str) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == name
    except OSError:
        return False


def holes(spans: Sequence[Span], window: Span) -> list[Span]:
    """Every stretch of ``window`` without footage (no tolerance)."""
    return gaps(spans, window, tolerance_s=0.0)


def missing_s(spans: Sequence[Span], window: Span) -> float:
    return sum((h.end - h.start).total_seconds() for h in holes(spans, window))


def now() -> datetime:
    return datetime.now(UTC)


@contextlib.contextmanager
def running_stack(prefix: str, *args: str, **env: str) -> Iterator[Stack]:
    """`ronin up ARGS` on a fresh data directory (10-s segments unless told), stopped
    after."""
    data, port = make_data_dir(prefix), free_port()
    outside = {k: v for k, v in os.environ.items()
               if k not in ("REDIS_URL", "DATABASE_URL", "ML_MODEL_PATH")}  # fmt: skip
    full_env = {**outside, "RONIN_DATA_DIR": str(data), "API_PORT": str(port),
                "SEGMENT_SECONDS": "10", **env}  # fmt: skip
    log = open(data / "up.log", "wb")  # noqa: SIM115
    command = [sys.executable, "-m", "infra.cli", "up", *args]
    proc = subprocess.Popen(
        command, env=full_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    stack = Stack(data, port, proc)
    try:
        wait_healthy(port, proc)
        yield stack
    finally:
        tree = descendants(proc.pid)
        stop_up(proc)
        for pid in tree:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        log.close()
