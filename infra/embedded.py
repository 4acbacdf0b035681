"""The embedded servers: a real redis-server and a real PostgreSQL under the data directory
(and mosquitto, for MQTT, when it is turned on).

Both come from Debian's packages (``redis-server`` 7.0, ``postgresql`` 15), which
``infra/bootstrap.sh`` installs. They listen on Unix sockets only, in ``{data}/run``,
so several stacks (tests, a demo) never fight over ports and nothing listens on the
network (mosquitto, which Home Assistant reaches over TCP, listens on 127.0.0.1 and asks
for a password). PostgreSQL refuses to run as root: as root it runs as the ``postgres`` user.

Starting is idempotent and survives a kill -9: a leftover server of ours (found by its
pid file) is stopped first, a pid file whose process is gone or is not ours is removed.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import psycopg
import redis
from psycopg import sql

from events.errors import EmbeddedServiceError
from infra.secret_files import secret_file
from ingest.child_process import die_with_parent


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """How to start one child process of ``ronin up``."""

    name: str
    argv: Sequence[str]
    env: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    stop_signal: int = signal.SIGTERM
    log: Path | None = None


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def stop_leftover(pid_file: Path, marker: str, sig: int, timeout_s: float = 30) -> None:
    """Stop a process left running by an earlier run (its pid file names it), or remove a
    stale pid file whose process is gone or is not ours."""
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        pid_file.unlink(missing_ok=True)
        return
    if not process_alive(pid) or marker not in process_cmdline(pid):
        pid_file.unlink(missing_ok=True)
        return
    os.kill(pid, sig)
    deadline = time.monotonic() + timeout_s
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if process_alive(pid):
        os.kill(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)


def wait_until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise EmbeddedServiceError(f"{what} did not become ready within {timeout_s:.0f} s")


def private_run_dir(path: Path) -> None:
    """The sockets' folder: only Ronin's user may enter it; as root, PostgreSQL's user
    ``postgres`` may pass through to its own 0700 folder inside, and list nothing."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o711 if os.geteuid() == 0 else 0o700)


class EmbeddedMosquitto:
    """mosquitto (Debian's, MQTT 3.1.1/5) on ``127.0.0.1:{port}``, for Home Assistant and
    Ronin's MQTT bridge: TCP, since Home Assistant connects over the network; anonymous
    clients are refused, the user ``ronin`` has a password generated once into
    ``{data}/mqtt.password``; retained messages persist under ``{data}/mosquitto``."""

    user = "ronin"

    def __init__(self, data_dir: Path, port: int = 1883) -> None:
        self.dir = data_dir / "mosquitto"
        self.run_dir = data_dir / "run"
        self.port = port
        self.password_file = data_dir / "mqtt.password"
        self.pid_file = self.run_dir / "mosquitto.pid"

    @property
    def url(self) -> str:
        secret = quote(secret_file(self.password_file), safe="")
        return f"mqtt://{self.user}:{secret}@127.0.0.1:{self.port}"

    def prepare(self) -> ServiceSpec:
        binary, passwd = shutil.which("mosquitto"), shutil.which("mosquitto_passwd")
        if binary is None or passwd is None:
            raise EmbeddedServiceError(
                "mosquitto is not installed: run `bash infra/bootstrap.sh` (or set MQTT_URL)"
            )
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        private_run_dir(self.run_dir)
        stop_leftover(self.pid_file, "mosquitto", signal.SIGTERM)
        users = self.dir / "passwords"
        # The password goes through a 0600 file that mosquitto_passwd hashes in place
        # (-U), never on a command line, where `ps` shows it to every local user.
        users.unlink(missing_ok=True)
        fd = os.open(users, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f"{self.user}:{secret_file(self.password_file)}\n")
        subprocess.run([passwd, "-U", str(users)], check=True, capture_output=True, timeout=30)
        config = self.dir / "mosquitto.conf"
        config.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous false\n"
            f"password_file {users}\npersistence true\npersistence_location {self.dir}/\n"
            f"pid_file {self.pid_file}\nuser {pwd.getpwuid(os.geteuid()).pw_name}\n"
            "log_dest stderr\nlog_type error\nlog_type warning\n"
        )
        return ServiceSpec(name="mosquitto", argv=[binary, "-c", str(config)])

    def ready(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False


class EmbeddedRedis:
    """redis-server with append-only persistence, on ``{data}/run/redis.sock``."""

    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir / "redis"
        self.run_dir = data_dir / "run"
        self.socket = self.run_dir / "redis.sock"
        self.pid_file = self.run_dir / "redis.pid"

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def prepare(self) -> ServiceSpec:
        binary = shutil.which("redis-server")
        if binary is None:
            raise EmbeddedServiceError(
                "redis-server is not installed: run `bash infra/bootstrap.sh` (or set REDIS_URL)"
            )
        self.dir.mkdir(parents=True, exist_ok=True)
        private_run_dir(self.run_dir)
        stop_leftover(self.pid_file, "redis-server", signal.SIGTERM)
        return ServiceSpec(
            name="redis",
            argv=[
                binary,
                "--port",
                "0",
                "--unixsocket",
                str(self.socket),
                "--unixsocketperm",
                "700",
                "--dir",
                str(self.dir),
                "--pidfile",
                str(self.pid_file),
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "",
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
            ],
        )

    def ready(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.url, socket_timeout=1).ping())
        except redis.RedisError:
            return False


_PASSWORDS_REQUIRED = (
    "# Ronin: local socket only (its folder is 0700), password required\n"
    "local all all scram-sha-256\n"
)


class EmbeddedPostgres:
    """A PostgreSQL cluster in ``{data}/postgres``, socket in ``{data}/run/pg``."""

    database = "ronin"
    role = "ronin"

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.pgdata = data_dir / "postgres"
        self.socket_dir = data_dir / "run" / "pg"
        self.user = "postgres" if os.geteuid() == 0 else None

    @property
    def password_file(self) -> Path:
        return self.data_dir / "postgres.password"

    @property
    def url(self) -> str:
        return self._url(self.database)

    @property
    def admin_url(self) -> str:
        return self._url("postgres")

    def _url(self, database: str) -> str:
        secret = quote(self._password(), safe="")
        return f"postgresql://{self.role}:{secret}@/{database}?host={self.socket_dir}"

    def _password(self) -> str:
        """Generated once, kept in ``postgres.password`` (0600)."""
        return secret_file(self.password_file)

    def prepare(self) -> ServiceSpec:
        bindir = self._bindir()
        private_run_dir(self.socket_dir.parent)
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.chmod(0o700)  # no other local user reaches the socket
        self._own(self.socket_dir)
        stop_leftover(self.pgdata / "postmaster.pid", "postgres", signal.SIGINT)
        for lock in self.socket_dir.glob(".s.PGSQL.*.lock"):
            stop_leftover(lock, "postgres", signal.SIGINT)
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb(bindir)
        return ServiceSpec(
            name="postgres",
            argv=[
                str(bindir / "postgres"),
                "-D",
                str(self.pgdata),
                "-k",
                str(self.socket_dir),
                "-c",
                "listen_addresses=",
                "-c",
                "unix_socket_permissions=0700",
                "-c",
                "max_connections=200",
            ],
            user=self.user,
            stop_signal=signal.SIGINT,  # fast shutdown
        )

    def ready(self) -> bool:
        try:
            with psycopg.connect(self.admin_url, connect_timeout=2):
                return True
        except psycopg.Error:
            return False

    def create_database(self) -> None:
        """Ronin's database, and passwords required from now on (a cluster made by an
        older Ronin trusted every local connection: it is switched over here)."""
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{self.database}"')
            if self._require_passwords(conn):
                conn.execute("SELECT pg_reload_conf()")

    def _require_passwords(self, conn: psycopg.Connection) -> bool:
        """Set the role's password and make the cluster ask for it (scram-sha-256);
        True when the rules changed."""
        password = self._password()
        conn.execute(
            sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                sql.Identifier(self.role), sql.Literal(password)
            )
        )
        hba = self.pgdata / "pg_hba.conf"
        if hba.exists() and hba.read_text() == _PASSWORDS_REQUIRED:
            return False
        hba.write_text(_PASSWORDS_REQUIRED)
        hba.chmod(0o600)
        self._own(hba)
        return True

    def _bindir(self) -> Path:
        candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), reverse=True)
        found = shutil.which("postgres")
        if found:
            candidates.insert(0, found)
        if not candidates:
            raise EmbeddedServiceError(
                "PostgreSQL is not installed: run `bash infra/bootstrap.sh` (or set DATABASE_URL)"
            )
        return Path(candidates[0]).resolve().parent

    def _initdb(self, bindir: Path) -> None:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self.pgdata.chmod(0o700)
        self._own(self.pgdata)
        self._check_reachable()
        result = subprocess.run(
            [
                str(bindir / "initdb"),
                "-D",
                str(self.pgdata),
                "-U",
                self.role,
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
            ],
            user=self.user,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise EmbeddedServiceError(f"initdb failed: {result.stderr.strip()[-2000:]}")

    def _own(self, path: Path) -> None:
        if self.user is None:
            return
        entry = pwd.getpwnam(self.user)
        os.chown(path, entry.pw_uid, entry.pw_gid)

    def _check_reachable(self) -> None:
        """As root, PostgreSQL runs as ``postgres``: every parent must let it pass."""
        if self.user is None:
            return
        self.data_dir.chmod(self.data_dir.stat().st_mode | 0o011)
        for parent in self.data_dir.parents:
            if not parent.stat().st_mode & 0o001:
                raise EmbeddedServiceError(
                    f"PostgreSQL runs as user postgres and cannot enter {parent}; "
                    "choose RONIN_DATA_DIR outside it (e.g. /var/lib/ronin)"
                )


def start_service(spec: ServiceSpec, log_dir: Path) -> subprocess.Popen[bytes]:
    """Start a child that dies with us; its output goes to ``{log_dir}/{name}.log``."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = spec.log or log_dir / f"{spec.name}.log"
    with open(log_path, "ab") as log_file:
        try:
            return subprocess.Popen(
                list(spec.argv),
                env={**os.environ, **spec.env},
                user=spec.user,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent(spec.stop_signal),
                start_new_session=True,
            )
        except OSError as e:
            raise EmbeddedServiceError(f"cannot start {spec.name}: {e}") from e


def stop_process(proc: subprocess.Popen[bytes], sig: int, timeout_s: float = 20) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(sig)
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def stores_for(
    data_dir: Path, redis_url: str | None, database_url: str | None
) -> Iterator[tuple[str, str]]:
    """(redis_url, database_url) for a command that may run while Ronin is stopped:
    the configured servers, the running stack's embedded ones, or embedded ones started
    for the command and stopped after it."""
    started: list[tuple[subprocess.Popen[bytes], int]] = []
    try:
        if not redis_url:
            embedded_redis = EmbeddedRedis(data_dir)
            if not embedded_redis.ready():
                spec = embedded_redis.prepare()
                started.append((start_service(spec, data_dir / "logs"), spec.stop_signal))
                wait_until(embedded_redis.ready, 60, "redis")
            redis_url = embedded_redis.url
        if not database_url:
            pg = EmbeddedPostgres(data_dir)
            if not pg.ready():
                spec = pg.prepare()
                started.append((start_service(spec, data_dir / "logs"), spec.stop_signal))
                wait_until(pg.ready, 60, "postgres")
            pg.create_database()
            database_url = pg.url
        yield redis_url, database_url
    finally:
        for proc, sig in reversed(started):
            stop_process(proc, sig)
