"""The compose stack as shipped, built and run on a real Docker engine: images from a
Debian base made with debootstrap, `.env` from `compose-init`, a simulated camera on the
host added through nginx, live view in headless Chromium over the WebSocket, crashed
containers measured as holes on the timeline, and `down` / `up` keeping the footage."""

from __future__ import annotations

import datetime as dt
import json
import statistics
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from api.timeline import Span
from ingest.simcam.launcher import SimCamera, start_sim_cameras
from tests.compose_support import (
    ADMIN_PASSWORD,
    ROOT,
    Compose,
    build,
    configure,
    copy_project,
    docker_engine,
    footage,
    image_sizes,
    now,
    signed_in,
    wait_answering,
    wait_footage_until,
)
from tests.stack_support import missing_s
from tests.test_up import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]
SERVICES = ("redis", "postgres", "api", "proxy", "projector", "analytics", "archiver",
            "ingest", "detector", "alerts", "retention", "notifier")  # fmt: skip


@dataclass
class Deployed:
    compose: Compose
    client: httpx.Client
    camera_id: str
    tls_dir: Path


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    with docker_engine() as missing:
        if missing:
            pytest.skip(missing)
        folder = copy_project(tmp_path_factory.mktemp("compose") / "ronin")
        tls_dir = tmp_path_factory.mktemp("tls")
        compose = Compose(folder, "ronintest", free_port(), free_port())
        configure(compose, tls_dir, SEGMENT_SECONDS="10")
        try:
            built, cached = build(compose)
            print(f"images built in {built:.0f} s, rebuilt from the cache in {cached:.0f} s")
            print(", ".join(f"{k}: {v / 1e6:.0f} MB" for k, v in image_sizes().items()))
            print(compose.run("up", "-d"))
            wait_answering(compose.base_url)
            yield _with_camera(compose, tls_dir)
        finally:
            print(compose.run("logs", "--tail=20", timeout=120)[-20_000:])
            compose.run("down", "-v", "--remove-orphans", timeout=300)


def _with_camera(compose: Compose, tls_dir: Path) -> Deployed:
    camera = SimCamera(port=free_port(), path="door", host=compose.gateway())
    server = start_sim_cameras([camera])
    _SIM_SERVERS.append(server)
    client = signed_in(compose.base_url)
    added = client.post("/api/cameras", json={"name": "Door", "rtsp_url": camera.url})
    assert added.status_code == 202, added.text
    camera_id = added.json()["camera_id"]
    wait_footage_until(client, camera_id, now() + dt.timedelta(seconds=5))
    return Deployed(compose, client, camera_id, tls_dir)


_SIM_SERVERS: list[subprocess.Popen[bytes]] = []


@pytest.fixture(scope="module", autouse=True)
def _stop_sim_cameras() -> Iterator[None]:
    yield
    for server in _SIM_SERVERS:
        server.terminate()
        server.wait(10)


def test_the_first_admin_and_every_service_healthy(deployed: Deployed) -> None:
    logs = deployed.compose.run("logs", "migrate")
    assert "first run: user admin, password (ADMIN_PASSWORD)" in logs
    deadline = time.monotonic() + 150  # the workers' first check comes after 30 s
    states: dict[str, str] = {}
    while time.monotonic() < deadline:
        states = {s: _health(deployed.compose, s) for s in SERVICES}
        if set(states.values()) == {"healthy"}:
            return
        time.sleep(5)
    raise AssertionError(states)


def _health(compose: Compose, service: str) -> str:
    container = compose.container(service)
    found = json.loads(subprocess.run(["docker", "inspect", container], capture_output=True,
                                      text=True, check=True).stdout)  # fmt: skip
    return str(found[0]["State"].get("Health", {}).get("Status", "none"))


@pytest.mark.skipif(
    not (ROOT / "ui" / "node_modules" / "playwright-core").is_dir()
    or not Path("/usr/bin/chromium").exists(),
    reason="needs the UI's node packages and chromium (bash infra/bootstrap.sh test)",
)
def test_live_view_plays_through_nginx_over_the_websocket(deployed: Deployed) -> None:
    run = subprocess.run(
        ["node", "e2e/latency.mjs"], cwd=ROOT / "ui", capture_output=True, text=True,
        env={"PATH": "/usr/bin:/bin:/usr/local/bin", "BASE_URL": deployed.compose.base_url,
             "PASSWORD": ADMIN_PASSWORD, "LIVE_PATH": "mse", "SAMPLES": "10"},
        timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    measured = json.loads(run.stdout.strip().splitlines()[-1])
    print(f"live latency through nginx: median {statistics.median(measured['latencies'])} s")
    assert measured["path"] == "mse", measured  # not the HLS fallback
    proxy_log = deployed.compose.run("logs", "proxy")
    assert f'/api/cameras/{deployed.camera_id}/live/socket HTTP/1.1" 101' in proxy_log
    assert "token=" not in proxy_log  # media tokens stay out of the access log


def test_the_proxy_streams_events_and_refuses_large_bodies(deployed: Deployed) -> None:
    client = deployed.client
    started = time.monotonic()
    with client.stream("GET", "/api/events/stream", timeout=15) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        next(stream.iter_bytes())  # the first bytes arrive unbuffered
    assert time.monotonic() - started < 10
    large = client.post("/api/cameras", content=b"x" * 2_000_000,
                        headers={"Content-Type": "application/json"})  # fmt: skip
    assert large.status_code == 413
    segment = client.get(
        f"/api/cameras/{deployed.camera_id}/segments",
        params={"start": (now() - dt.timedelta(minutes=5)).isoformat(), "end": now().isoformat()},
    ).json()[0]
    ranged = client.get(f"/api/segments/{segment['segment_id']}/video",
                        headers={"Range": "bytes=0-99"})  # fmt: skip
    assert ranged.status_code == 206 and len(ranged.content) == 100


def test_https_with_the_users_certificate(deployed: Deployed) -> None:
    _self_signed(deployed.tls_dir)
    compose = deployed.compose
    try:
        compose.run("restart", "proxy")
        https = f"https://127.0.0.1:{compose.https_port}"
        answer = _retry(lambda: httpx.get(f"{https}/api/health", verify=False, timeout=5))
        assert answer.status_code == 200
        assert answer.headers["strict-transport-security"].startswith("max-age=")
        plain = _retry(lambda: httpx.get(f"{compose.base_url}/api/health", timeout=5))
        assert plain.status_code == 301 and plain.headers["location"].startswith("https://")
    finally:
        for name in ("cert.pem", "key.pem"):
            (deployed.tls_dir / name).unlink(missing_ok=True)
        compose.run("restart", "proxy")
        wait_answering(compose.base_url)


def _retry(call: object, timeout_s: float = 30) -> httpx.Response:
    assert callable(call)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return call()  # type: ignore[no-any-return]
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _self_signed(folder: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    start = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + dt.timedelta(days=1))
            .sign(key, hashes.SHA256()))  # fmt: skip
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem, pkcs8 = serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8
    (folder / "key.pem").write_bytes(key.private_bytes(pem, pkcs8, serialization.NoEncryption()))
    (folder / "key.pem").chmod(0o644)  # read by nginx's master (root) in the container


@pytest.mark.parametrize(
    ("service", "allowed_s"),
    [("ingest", 3.5), ("redis", 0.5), ("postgres", 0.5)],
)
def test_a_crashed_container_is_restarted_and_loses_no_more_than_embedded(
    deployed: Deployed, service: str, allowed_s: float
) -> None:
    """The embedded default loses 0 s to a killed Redis or PostgreSQL and up to 3.5 s to a
    killed ingest worker (tests/test_faults.py); the containers are held to the same."""
    compose, before = deployed.compose, deployed.compose.restarts(service)
    start = now()
    time.sleep(10)
    compose.crash(service)
    time.sleep(25)
    window = Span(start, now())
    wait_answering(compose.base_url, timeout_s=120)
    spans = wait_footage_until(deployed.client, deployed.camera_id, window.end)
    lost = missing_s(spans, window)
    print(f"{service} crashed: {lost:.2f} s of {window.end - window.start} missing")
    assert compose.restarts(service) == before + 1
    assert lost <= allowed_s, (service, lost)


def _state(deployed: Deployed) -> dict[str, object]:
    """What a user set up and sees: users, cameras, zones, webhooks, and closed footage."""
    client, camera = deployed.client, deployed.camera_id
    window = Span(now() - dt.timedelta(hours=1), now())
    return {
        "users": client.get("/api/users").json(),
        "cameras": [
            {k: v for k, v in c.items() if not k.startswith("status") and k != "last_error"}
            for c in client.get("/api/cameras").json()
        ],
        "zones": client.get(f"/api/cameras/{camera}/zones").json(),
        "webhooks": client.get("/api/webhooks").json(),
        "footage": [s for s in footage(client, camera, window) if s.end < window.end - _OPEN],
    }


_OPEN = dt.timedelta(seconds=15)  # the segment being written, and the one just closed


def _same_or_more(before: dict[str, object], after: dict[str, object]) -> None:
    for key in ("users", "cameras", "zones", "webhooks"):
        assert after[key] == before[key], key
    spans, now_spans = before["footage"], after["footage"]
    assert isinstance(spans, list) and isinstance(now_spans, list) and spans
    lost = [(s.start, s.end) for s in spans if missing_s(now_spans, s) > 0]
    assert not lost, f"footage lost from the timeline: {lost}"


def _configure_more(deployed: Deployed) -> None:
    client, camera = deployed.client, deployed.camera_id
    zone = {"name": "Porch", "points": [[0.1, 0.5], [0.6, 0.5], [0.6, 0.9]]}
    assert client.put(f"/api/cameras/{camera}/zones", json={"zones": [zone]}).status_code < 300
    hook = {"name": "Phone", "url": "http://192.0.2.1:9/hook"}
    assert client.post("/api/webhooks", json=hook).status_code == 202
    viewer = {"username": "guest", "password": "guest password 1", "role": "viewer",
              "cameras": [camera]}  # fmt: skip
    assert client.post("/api/users", json=viewer).status_code == 201
    time.sleep(2)  # projected


def _patch(folder: Path, relative: str, old: str, new: str) -> None:
    path = folder / relative
    text = path.read_text()
    assert old in text, (relative, old)
    path.write_text(text.replace(old, new))


def test_an_upgrade_rebuilds_the_read_models_and_keeps_everything(deployed: Deployed) -> None:
    """A new image whose read models changed (every projection's version raised) and
    with a new migration; then the old image again, which must refuse the newer schema."""
    compose, folder = deployed.compose, deployed.compose.folder
    _configure_more(deployed)
    before = _state(deployed)
    projection = "projector/readmodels/__init__.py"
    built_with = "tables=tables, handlers=handlers)"
    _patch(folder, projection, built_with, "tables=tables, handlers=handlers, version=2)")
    migration = folder / "projector" / "migrations" / "900_upgrade_probe.sql"
    migration.write_text("CREATE TABLE IF NOT EXISTS upgrade_probe (x integer);\n")
    compose.run("build", timeout=1200)
    compose.run("up", "-d")
    wait_answering(compose.base_url)
    time.sleep(5)  # the projectors' rebuild
    assert "applied: 900_upgrade_probe.sql" in compose.run("logs", "migrate")
    assert "rebuilding it from the event log" in compose.run("logs", "projector")
    deployed.client = signed_in(compose.base_url)
    _same_or_more(before, _state(deployed))
    # the old image on the newer database: migrate refuses, so nothing else starts
    _patch(folder, projection, "tables=tables, handlers=handlers, version=2)", built_with)
    migration.unlink()
    compose.run("build", timeout=1200)
    refused = subprocess.run([*compose.command, "-p", compose.name, "run", "--rm", "migrate"],
                             cwd=folder, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert refused.returncode != 0
    said = " ".join((refused.stdout + refused.stderr).split())  # (rich wraps long lines)
    assert "migrated by a newer Ronin" in said and "900_upgrade_probe.sql" in said, said
    migration.write_text("CREATE TABLE IF NOT EXISTS upgrade_probe (x integer);\n")
    compose.run("build", timeout=1200)
    compose.run("up", "-d")
    wait_answering(compose.base_url)


def test_backup_then_a_new_install_restored_from_it_shows_the_same(deployed: Deployed) -> None:
    """`ronin backup` while Ronin runs; the databases and secrets wiped (a new machine
    with a new .env; the footage kept on its disk); `ronin restore`; the same users,
    cameras, zones, webhooks and timeline, and recording goes on."""
    compose, folder = deployed.compose, deployed.compose.folder
    backups = folder / "backups"
    backups.mkdir(mode=0o777)
    backups.chmod(0o777)  # written by the container's user
    before = _state(deployed)
    passphrase = ["-e", "BACKUP_PASSPHRASE=a passphrase for the test"]
    mount = ["-v", f"{backups}:/backup"]
    print(compose.run("run", "--rm", *mount, *passphrase, "migrate", "backup", "/backup/r.bak"))
    compose.run("down")
    for volume in ("redis-data", "postgres-data", "ronin-data"):
        subprocess.run(["docker", "volume", "rm", f"{compose.name}_{volume}"], check=True)
    (folder / ".env").unlink()
    configure(compose, deployed.tls_dir, SEGMENT_SECONDS="10")  # new secrets: a new machine
    compose.run("up", "-d", "redis", "postgres")
    print(compose.run("run", "--rm", *mount, *passphrase, "migrate", "restore", "/backup/r.bak"))
    compose.run("up", "-d")
    wait_answering(compose.base_url)
    time.sleep(5)  # the projectors' rebuild from the restored events
    deployed.client = signed_in(compose.base_url)
    _same_or_more(before, _state(deployed))
    wait_footage_until(deployed.client, deployed.camera_id, now() + dt.timedelta(seconds=5))


def test_down_and_up_keep_the_footage_and_down_leaves_nothing_running(
    deployed: Deployed,
) -> None:
    compose, window = deployed.compose, Span(now() - dt.timedelta(hours=1), now())
    before = [s for s in footage(deployed.client, deployed.camera_id, window) if s.end < window.end]
    compose.run("down", timeout=300)
    assert compose.running() == []
    compose.run("up", "-d")
    wait_answering(compose.base_url)
    deployed.client = signed_in(compose.base_url)  # (sessions survive; a new one is simpler)
    after = footage(deployed.client, deployed.camera_id, window)
    lost = [(s.start, s.end) for s in before if missing_s(after, s) > 0]
    assert before and not lost, f"footage lost across down/up: {lost}"
    wait_footage_until(deployed.client, deployed.camera_id, now() + dt.timedelta(seconds=5))


def test_the_compose_file_is_valid_with_every_profile(deployed: Deployed) -> None:
    for profile in ("gpu", "mqtt", "transcode"):
        assert "services:" in deployed.compose.run("--profile", profile, "config")
