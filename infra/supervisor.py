"""``ronin up``: start the embedded servers, migrate, run the workers and the API, supervise.

Order up: Redis, PostgreSQL (both only when their URL is not configured), migrations,
then workers and the API. Any child that exits, a server included, is restarted with
capped exponential backoff and everything else keeps running: workers wait for a server
that is down and go on when it is back, and ingest records through it. A child's whole
process group goes with it (a killed postmaster's backends, a killed worker's ffmpegs),
so its restart finds no orphan holding memory, sockets or cameras. Ctrl-C or SIGTERM
stops everything in reverse order. A lock on
``{data}/ronin.lock`` keeps a second ``ronin up`` on the same data directory from
starting a second stack; it is released by the kernel even after kill -9.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen
from typing import IO

import psycopg

from api.auth import Users, ensure_first_admin
from events.errors import EmbeddedServiceError
from events.store import RedisEventStore
from infra.demo import DEMO_CAMERA_ID, demo_camera, register_demo_camera
from infra.embedded import (
    EmbeddedMosquitto,
    EmbeddedPostgres,
    EmbeddedRedis,
    ServiceSpec,
    start_service,
    stop_process,
    wait_until,
)
from infra.settings import Settings
from ingest.simcam.launcher import sim_command
from projector.migrations import migrate

log = logging.getLogger(__name__)

WORKERS = (
    "projector", "analytics", "archiver", "ingest", "detector", "alerts", "retention", "notifier",
)  # fmt: skip


def backoff_s(failures: int, base: float = 0.25, cap: float = 30.0) -> float:
    """Delay before restart number ``failures`` (0, 1, 2, ...): the first at once (a
    crash is not yet a pattern), then doubling from ``base``, capped."""
    if failures <= 0:
        return 0.0
    return float(min(cap, base * 2 ** min(failures - 1, 30)))


def kill_group(pgid: int) -> None:
    """SIGKILL what is left of a child's process group (each child leads its own)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


@dataclass(slots=True)
class Child:
    spec: ServiceSpec
    proc: Popen[bytes] | None = None
    failures: int = 0
    started_at: float = 0.0
    restart_at: float | None = None
    prepare: Callable[[], ServiceSpec] | None = None
    """Run again before each restart (a server clears what its dead run left)."""


@dataclass(slots=True)
class Supervisor:
    settings: Settings
    say: Callable[[str], None] = print
    demo: bool = False
    stopping: threading.Event = field(default_factory=threading.Event)
    child_exited: threading.Event = field(default_factory=threading.Event)
    infra: list[Child] = field(default_factory=list)
    apps: list[Child] = field(default_factory=list)

    @property
    def log_dir(self) -> Path:
        return self.settings.data_dir / "logs"

    def run(self) -> int:
        """Start everything, supervise until asked to stop, stop everything."""
        lock = self._lock()
        if lock is None:
            self.say(
                f"Ronin is already running on {self.settings.data_dir} "
                f"(http://{self.settings.api_host}:{self.settings.api_port})."
            )
            return 0
        self._handle_signals()
        self._clear_live_rings()  # a killed run's, holding memory
        try:
            env = self._start_infrastructure()
            self._migrate(env["DATABASE_URL"])
            self._first_admin(env["DATABASE_URL"])
            self.settings.encryption_key_value()  # made once, before the workers read it
            self.settings.jwt_secret_value()
            self.settings.vapid_private_pem()
            self._start_apps(env)
            if self.demo:
                self._start_demo(env)
            self.say(f"Ronin is up: http://{self.settings.api_host}:{self.settings.api_port}")
            self._supervise()
        finally:
            self._stop_all()
            self._clear_live_rings()
            lock.close()
        return 0

    # --- steps ---------------------------------------------------------------------

    def _clear_live_rings(self) -> None:
        """Remove the live rings' folder when it is ours (not a LIVE_DIR someone chose):
        nothing is live before the start or after the stop, and in memory it holds RAM."""
        if self.settings.live_dir is None:
            shutil.rmtree(self.settings.streams_root, ignore_errors=True)

    def _lock(self) -> IO[str] | None:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        handle = open(self.settings.data_dir / "ronin.lock", "a+")  # noqa: SIM115
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        return handle

    def _handle_signals(self) -> None:
        def request_stop(signum: int, _frame: object) -> None:
            self.stopping.set()
            self.child_exited.set()

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGCHLD, lambda *_: self.child_exited.set())

    def _start_infrastructure(self) -> dict[str, str]:
        data = self.settings.data_dir
        env = {"RONIN_DATA_DIR": str(data)}
        redis_url, database_url = self.settings.redis_url, self.settings.database_url
        if not redis_url:
            embedded_redis = EmbeddedRedis(data)
            self._start_infra_child(embedded_redis.prepare, embedded_redis.ready)
            redis_url = embedded_redis.url
        if not database_url:
            pg = EmbeddedPostgres(data)
            self._start_infra_child(pg.prepare, pg.ready)
            pg.create_database()
            database_url = pg.url
        env["REDIS_URL"], env["DATABASE_URL"] = redis_url, database_url
        if self.settings.mqtt_enabled:
            env["MQTT_URL"] = self.settings.mqtt_url or self._start_broker(data)
        return env

    def _start_broker(self, data: Path) -> str:
        broker = EmbeddedMosquitto(data, self.settings.mqtt_port)
        self._start_infra_child(broker.prepare, broker.ready)
        self.say(f"MQTT broker: 127.0.0.1:{broker.port}, user {broker.user}, "
                 f"password in {broker.password_file}")  # fmt: skip
        return broker.url

    def _start_infra_child(
        self, prepare: Callable[[], ServiceSpec], ready: Callable[[], bool]
    ) -> None:
        spec = prepare()
        self.say(f"starting {spec.name}")
        child = Child(spec, prepare=prepare)
        self._spawn(child)
        self.infra.append(child)

        def up() -> bool:
            if child.proc is not None and child.proc.poll() is not None:
                raise EmbeddedServiceError(
                    f"{spec.name} exited at start (code {child.proc.returncode}); "
                    f"see {self.log_dir / (spec.name + '.log')}"
                )
            return ready()

        wait_until(up, 60, spec.name)

    def _migrate(self, database_url: str) -> None:
        with psycopg.connect(database_url) as conn:
            applied = migrate(conn)
        if applied:
            self.say(f"migrated: {', '.join(applied)}")

    def _first_admin(self, database_url: str) -> None:
        with psycopg.connect(database_url) as conn:
            password = ensure_first_admin(Users(conn), self._admin_password())
        if password is not None:
            shown = "(ADMIN_PASSWORD)" if self._admin_password() else password
            self.say(f"first run: user [bold]admin[/bold], password {shown} (shown once)")

    def _admin_password(self) -> str | None:
        secret = self.settings.admin_password
        return secret.get_secret_value() if secret is not None else None

    def _start_apps(self, env: dict[str, str]) -> None:
        workers = (
            *WORKERS,
            *(["transcoder"] if self.settings.transcode_enabled else []),
            *(["mqtt"] if self.settings.mqtt_enabled else []),
        )
        env = {**env, "RONIN_WORKERS": ",".join(workers)}
        python = [sys.executable, "-m", "infra.cli"]
        for worker in workers:  # (each loads its own module only: a quicker restart)
            command = [sys.executable, "-m", "infra.workers", worker]
            self.apps.append(Child(ServiceSpec(worker, command, env)))
        api = [
            *python,
            "api",
            "--host",
            self.settings.api_host,
            "--port",
            str(self.settings.api_port),
        ]
        self.apps.append(Child(ServiceSpec("api", api, env)))
        for child in self.apps:
            self._spawn(child)

    def _start_demo(self, env: dict[str, str]) -> None:
        camera = demo_camera(
            data_dir=self.settings.data_dir, period_s=self.settings.demo_scene_period_s
        )
        child = Child(ServiceSpec("sim-camera", sim_command([camera])))
        self.apps.append(child)
        self._spawn(child)
        store = RedisEventStore.from_url(env["REDIS_URL"])
        outcome = register_demo_camera(store, env["DATABASE_URL"], camera.url, camera.sub_url)
        self.say(f"demo camera {outcome}: {camera.url}")
        live = self.settings.streams_root / str(DEMO_CAMERA_ID)
        self.say(f"live ring: {live}/live0.mp4 (the Live page plays it)")
        if self.settings.model_path() is None:
            self.say("detection is off: `ronin model install yolox-nano` (or ML_MODEL_PATH) "
                     "gives it a model, and alerts")  # fmt: skip
        elif camera.scene == "person":
            self.say("a person walks into the demo picture every minute: watch for alerts")

    def _spawn(self, child: Child) -> None:
        child.proc = start_service(child.spec, self.log_dir)
        child.started_at = time.monotonic()
        child.restart_at = None

    def _supervise(self) -> None:
        while not self.stopping.is_set():
            self.child_exited.wait(0.25)  # woken at once when a child exits
            self.child_exited.clear()
            if self.stopping.is_set():
                break
            now = time.monotonic()
            for child in (*self.infra, *self.apps):
                try:
                    self._restart_if_needed(child, now)
                except EmbeddedServiceError as e:  # e.g. a server that cannot start yet
                    child.restart_at = now + backoff_s(child.failures)
                    child.failures += 1
                    self.say(f"{child.spec.name} did not start: {e}")

    def _restart_if_needed(self, child: Child, now: float) -> None:
        if child.proc is not None and child.proc.poll() is not None:
            self._schedule_restart(child, now)
        if child.proc is None and child.restart_at is not None and now >= child.restart_at:
            if child.prepare is not None:
                child.spec = child.prepare()
            self._spawn(child)

    def _schedule_restart(self, child: Child, now: float) -> None:
        assert child.proc is not None
        code = child.proc.returncode
        kill_group(child.proc.pid)  # what the child left running dies with it
        if now - child.started_at > 60:
            child.failures = 0  # it ran well for a while: start the backoff over
        delay = backoff_s(child.failures)
        child.failures += 1
        child.restart_at = now + delay
        child.proc = None
        self.say(f"{child.spec.name} exited (code {code}); restarting in {delay:.1f} s")

    def _stop_all(self) -> None:
        for child in reversed(self.apps):
            if child.proc is not None:
                stop_process(child.proc, signal.SIGTERM)
        for child in reversed(self.infra):
            if child.proc is not None:
                stop_process(child.proc, child.spec.stop_signal, timeout_s=60)
        self.say("Ronin stopped")
