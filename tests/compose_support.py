"""Ronin's compose stack on a real Docker engine, as a user runs it: the engine started
when none runs, the base image made with debootstrap (no registry is reachable here), the
project copied as a user clones it, `.env` written by `compose-init`, and the compose file
as shipped driven by Compose v2 or docker-compose 1.29, whichever is here."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from api.timeline import Span

ROOT = Path(__file__).resolve().parents[1]
BASE_IMAGE = "ronin-base:bookworm"
MODEL = ROOT.parent / "shared" / "models" / "yolox_nano.onnx"
EXTRA_CAS = Path("/usr/local/share/ca-certificates")
ADMIN_PASSWORD = "compose admin password 1"


def docker(*args: str, timeout: float = 120, check: bool = True) -> str:
    done = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and done.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {done.stderr or done.stdout}")
    return done.stdout


def engine_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    done = subprocess.run(["docker", "info"], capture_output=True, timeout=30, check=False)
    return done.returncode == 0


@contextlib.contextmanager
def docker_engine() -> Iterator[str | None]:
    """Yields None with an engine answering (started here if needed, and stopped after),
    or why none can run."""
    if engine_answers():
        yield None
        return
    if shutil.which("dockerd") is None:
        yield "no Docker engine (apt-get install docker.io; bootstrap.sh test does)"
        return
    log = open("/tmp/ronin-test-dockerd.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(["dockerd"], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not engine_answers() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        yield None if engine_answers() else "dockerd does not start here (see its log)"
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(30)
        log.close()


def compose_command() -> list[str]:
    """Compose v2 (the docker CLI's plugin) where installed, else docker-compose 1.29."""
    done = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    if done.returncode == 0:
        return ["docker", "compose"]
    assert shutil.which("docker-compose"), "neither `docker compose` nor docker-compose"
    return ["docker-compose"]


def copy_project(target: Path) -> Path:
    """The checkout's files as a clone has them (tracked, and new files not ignored),
    plus this machine's build options: its extra CAs (a TLS-inspecting proxy stands
    between it and PyPI/npm) and the shared model (GitHub is unreachable)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    for cert in EXTRA_CAS.glob("*.crt"):
        shutil.copy(cert, target / "infra" / "docker" / "extra-ca" / cert.name)
    if MODEL.is_file():
        shutil.copy(MODEL, target / "infra" / "docker" / "models" / MODEL.name)
    return target


@dataclass
class Compose:
    """One compose project: ``run`` is ``docker compose -p NAME ARGS`` in its folder."""

    folder: Path
    name: str
    http_port: int
    https_port: int
    command: list[str] = field(default_factory=compose_command)

    def run(self, *args: str, timeout: float = 900) -> str:
        done = subprocess.run(
            [*self.command, "-p", self.name, *args], cwd=self.folder,
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
        assert done.returncode == 0, f"compose {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout + done.stderr

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def container(self, service: str) -> str:
        """The id of the service's (first) container, stopped or running."""
        ids = docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={self.name}",
                     "--filter", f"label=com.docker.compose.service={service}").split()  # fmt: skip
        assert ids, f"no container for {service}"
        return ids[0]

    def crash(self, service: str) -> None:
        """SIGKILL to the container's first process, as the kernel's OOM killer does: the
        restart policy then applies (a `docker kill` counts as stopping it by hand)."""
        pid = int(docker("inspect", "-f", "{{.State.Pid}}", self.container(service)))
        assert pid > 0, f"{service} is not running"
        os.kill(pid, 9)

    def restarts(self, service: str) -> int:
        return int(docker("inspect", "-f", "{{.RestartCount}}", self.container(service)))

    def gateway(self) -> str:
        """The host's address on the project's network (where a camera on the host is)."""
        found = json.loads(docker("network", "inspect", f"{self.name}_default"))
        subnet = ipaddress.ip_network(found[0]["IPAM"]["Config"][0]["Subnet"])
        return str(next(subnet.hosts()))

    def running(self) -> list[str]:
        return docker(
            "ps", "-q", "--filter", f"label=com.docker.compose.project={self.name}"
        ).split()


def configure(compose: Compose, tls_dir: Path, **settings: str) -> None:
    """`.env` from `compose-init`, as a user makes it, then this machine's choices and
    ``settings`` (any of Ronin's, as a user adds them)."""
    init = subprocess.run(["bash", "infra/bootstrap.sh", "compose-init"], cwd=compose.folder,
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert "docker compose up -d" in init.stdout
    env = compose.folder / ".env"
    assert env.stat().st_mode & 0o777 == 0o600
    chosen = {"BASE_IMAGE": BASE_IMAGE, "HTTP_PORT": str(compose.http_port),
              "HTTPS_PORT": str(compose.https_port), "TLS_DIR": str(tls_dir),
              "ADMIN_PASSWORD": ADMIN_PASSWORD, **({} if MODEL.is_file() else {"MODEL_URL": ""}),
              **settings}  # fmt: skip
    with env.open("a") as file:
        file.write("".join(f"{name}={value}\n" for name, value in chosen.items()))


def build(compose: Compose, cold: bool = False) -> tuple[float, float]:
    """The base image (kept when there), then every image (``cold``: without the
    cache), then again (from the cache): the seconds each build took."""
    subprocess.run(["bash", "infra/docker/base-image.sh", BASE_IMAGE], cwd=compose.folder,
                   check=True, timeout=900)  # fmt: skip
    started = time.monotonic()
    if cold:  # each image once (Ronin's services share one: the rest come from the cache)
        compose.run("build", "--no-cache", "redis", "postgres", "proxy", "migrate", timeout=1800)
    compose.run("build", timeout=1800)
    built = time.monotonic() - started
    compose.run("build", timeout=600)
    return built, time.monotonic() - started - built


def image_sizes() -> dict[str, int]:
    return {
        image: int(docker("image", "inspect", "-f", "{{.Size}}", image))
        for image in ("ronin-nvr", "ronin-redis", "ronin-postgres", "ronin-proxy")
    }


def wait_answering(base_url: str, timeout_s: float = 300) -> None:
    deadline, last = time.monotonic() + timeout_s, "no answer"
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(f"{base_url}/api/health", timeout=5)
            if answer.status_code == 200:
                return
            last = f"{answer.status_code} {answer.text[:200]}"
        except httpx.HTTPError as e:
            last = str(e)
        time.sleep(1)
    raise AssertionError(f"{base_url} not healthy in {timeout_s} s: {last}")


def signed_in(base_url: str) -> httpx.Client:
    client = httpx.Client(base_url=base_url, timeout=30)
    answer = client.post("/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert answer.status_code == 200, answer.text
    client.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
    return client


def footage(client: httpx.Client, camera_id: str, window: Span) -> list[Span]:
    """The camera's footage on the timeline, as the API shows it (the open segment too)."""
    answer = client.get(
        f"/api/cameras/{camera_id}/segments",
        params={"start": window.start.isoformat(), "end": window.end.isoformat()},
    )
    assert answer.status_code == 200, answer.text
    return [Span(datetime.fromisoformat(s["start"]), datetime.fromisoformat(s["end"]))
            for s in answer.json()]  # fmt: skip


def wait_footage_until(
    client: httpx.Client, camera_id: str, until: datetime, timeout_s: float = 120
) -> list[Span]:
    """The footage since ``until`` - 1 h once the timeline reaches ``until``."""
    window = Span(until - timedelta(hours=1), until + timedelta(minutes=5))
    deadline = time.monotonic() + timeout_s
    spans: list[Span] = []
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError, AssertionError):
            spans = footage(client, camera_id, window)
            if spans and max(s.end for s in spans) >= until:
                return spans
        time.sleep(1)
    raise AssertionError(f"the timeline did not reach {until} in {timeout_s} s: {spans[-3:]}")


def now() -> datetime:
    return datetime.now(UTC)
