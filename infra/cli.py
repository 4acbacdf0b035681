"""The ``ronin`` command line; settings are read here, once, and passed down."""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID

import typer
from rich.console import Console
from rich.progress import MofNCompleteColumn, Progress, TaskID, TimeRemainingColumn

from events.errors import RoninError
from infra.settings import Settings, load_settings

if TYPE_CHECKING:
    from detector.model_store import ModelStore
    from events.store import RedisEventStore
    from projector.projection import ReadModelSink

# Commands import what they use when they run: a worker started as `ronin worker NAME`
# (compose) then loads its own modules only, not every command's (DuckDB, the replayer).

app = typer.Typer(help="Ronin: a self-hosted network video recorder.", no_args_is_help=True)
console = Console(stderr=True)


def _settings() -> Settings:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return load_settings()


@app.command()
def up(
    port: int | None = typer.Option(None, help="API port (default API_PORT or 8000)"),
    demo: bool = typer.Option(False, "--demo", help="also run and register a simulated camera"),
) -> None:
    """Start everything on this machine: Redis, PostgreSQL, workers and the API."""
    from infra.supervisor import Supervisor

    settings = _settings()
    if port is not None:
        settings = settings.model_copy(update={"api_port": port})
    raise typer.Exit(Supervisor(settings, say=console.print, demo=demo).run())


@app.command()
def ingest(name: str = typer.Option("ingest", help="worker name (unique per process)")) -> None:
    """Record cameras (several ingest processes share them through Redis leases)."""
    from infra.workers.ingest import run_ingest

    run_ingest(_settings(), name)


@app.command()
def retention() -> None:
    """Apply the retention policy and keep disk and read models agreeing (a worker)."""
    from infra.workers.storage import run_retention

    run_retention(_settings())


@app.command()
def check(
    repair: bool = typer.Option(False, help="mend every disagreement through events"),
    probe_files: bool = typer.Option(True, "--probe/--no-probe", help="decode-check files"),
) -> None:
    """Compare the disk, the read models and the event archive (Ronin may be stopped)."""
    from infra.embedded import stores_for
    from ingest.lifecycle.integrity_check import run_check

    settings = _settings()
    with stores_for(settings.data_dir, settings.redis_url, settings.database_url) as urls:
        problems = run_check(settings.recordings_root, *urls, repair, probe_files, console)
    if problems and not repair:
        raise typer.Exit(1)


@app.command()
def transcode() -> None:
    """Re-encode closed segments older than TRANSCODE_AFTER_HOURS to H.265 (a worker;
    needs TRANSCODE_ENABLED=true)."""
    from infra.workers.storage import run_transcoder

    run_transcoder(_settings())


@app.command(name="sim-camera")
def sim_camera(
    count: int = typer.Option(1, help="how many cameras"),
    port: int = typer.Option(8554, help="first port; camera N listens on port + N - 1"),
    host: str = typer.Option("127.0.0.1", help="the address to listen on"),
    codec: str = typer.Option("h264", help="h264 or h265"),
    width: int = typer.Option(1280),
    height: int = typer.Option(720),
    fps: int = typer.Option(15),
    gop: int = typer.Option(15, help="frames between keyframes"),
    audio: str = typer.Option("none", help="none, aac or g711"),
    user: str | None = typer.Option(None, help="require this user (basic auth)"),
    password: str | None = typer.Option(None),
) -> None:
    """Run simulated RTSP cameras (a real RTSP server) until Ctrl-C."""
    from ingest.simcam.launcher import SimCamera, start_sim_cameras

    if codec not in ("h264", "h265") or audio not in ("none", "aac", "g711"):
        raise RoninError("--codec is h264 or h265; --audio is none, aac or g711")
    cameras = [
        SimCamera(
            port=port + i, path=f"cam{i + 1}", codec=codec, width=width, height=height,  # type: ignore[arg-type]
            fps=fps, gop=gop, audio=audio, user=user, password=password, host=host,  # type: ignore[arg-type]
        )
        for i in range(count)
    ]  # fmt: skip
    proc = start_sim_cameras(cameras)
    for camera in cameras:
        console.print(f"{camera.path}: {camera.url}")
    try:
        proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait()


@app.command()
def api(host: str = typer.Option("127.0.0.1"), port: int = typer.Option(8000)) -> None:
    """Serve the HTTP API (needs REDIS_URL and DATABASE_URL)."""
    import uvicorn

    from api.app import ApiConfig, create_app
    from api.server import server_config

    settings = _settings()
    redis_url, database_url = settings.require_urls()
    config = ApiConfig(
        redis_url=redis_url,
        database_url=database_url,
        analytics_snapshot=settings.analytics_snapshot_path,
        expected_workers=settings.expected_workers,
        jwt_secret=settings.jwt_secret_value(),
        token_expiry_s=settings.jwt_expiry_minutes * 60,
        encryption_key=settings.encryption_key_value(),
        cors_origins=settings.cors_origin_list,
        ui_dist=settings.ui_dist_path,
        storage_root=settings.recordings_root,
        streams_root=settings.streams_root,
        trusted_proxies=settings.trusted_proxy_networks,
        camera_deny_networks=settings.camera_deny_network_list,
        push_allow_networks=settings.push_allow_network_list,
        export_max_hours=settings.export_max_hours,
        export_max_bytes=int(settings.export_max_gb * 1e9),
        alert_classes=settings.alert_labels,
        metrics_token=settings.metrics_token.get_secret_value() if settings.metrics_token else None,
        vapid_private_pem=settings.vapid_private_pem(),
    )
    uvicorn.Server(server_config(create_app(config), host, port)).run()


@app.command()
def worker(
    name: str = typer.Argument(
        ...,
        help="projector, analytics, archiver, ingest, detector, alerts, retention or transcoder",
    ),
) -> None:
    """Run one worker process."""
    from infra.workers import run_worker

    run_worker(name, _settings())


@app.command(name="user-add")
def user_add(
    username: str = typer.Argument(...),
    role: str = typer.Option("viewer", help="admin (everything) or viewer (watch only)"),
    camera: list[str] = typer.Option(
        [], help="a camera a viewer may see, by name (repeat; none given: every camera)"
    ),
) -> None:
    """Add a user, or set an existing user's password, role and cameras (the password is
    asked for, never echoed; the user's sessions end)."""
    import psycopg

    from api.auth import Role, Users
    from infra.embedded import stores_for
    from projector.migrations import migrate

    if role not in ("admin", "viewer"):
        raise typer.BadParameter(f"--role is admin or viewer, not {role!r}")
    chosen: Role = "admin" if role == "admin" else "viewer"
    settings = _settings()
    password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    with stores_for(settings.data_dir, settings.redis_url, settings.database_url) as urls:
        database_url = urls[1]
        cameras = _camera_ids(database_url, camera) if camera else None
        with psycopg.connect(database_url) as conn:
            migrate(conn)  # (a data directory Ronin never ran on has no users yet)
            users = Users(conn)
            if users.add(username, password, chosen, cameras) is None:
                users.set_password(username, password)
                users.set_access(username, chosen, cameras)
    console.print(f"user {username} saved ({role})")


@app.command()
def init(
    path: Path = typer.Argument(Path(".env"), help="where compose.yaml reads its secrets"),
) -> None:
    """Write .env for Docker Compose with generated secrets (never overwrites one)."""
    from infra.compose_env import main as write

    raise typer.Exit(write([str(path)]))


@app.command()
def backup(
    path: Path = typer.Argument(..., help="the backup file to write"),
    passphrase_file: Path | None = typer.Option(None, help="read the passphrase from here"),
    unencrypted: bool = typer.Option(
        False,
        "--unencrypted",
        help="do not seal it (it then holds the key to the camera passwords in the clear)",
    ),
) -> None:
    """Back up the event log, users and secrets (not footage, not read models), while
    Ronin runs or with it stopped."""
    from infra.backup.backup_file import Stores, write_backup
    from infra.backup.contents import Secrets
    from infra.embedded import stores_for

    settings = _settings()
    chosen = None if unencrypted else _passphrase(settings, passphrase_file, confirm=True)
    if chosen is None:
        console.print("[yellow]warning:[/yellow] unencrypted: anyone with this file can read"
                      " the camera passwords; keep it as safe as the cameras")  # fmt: skip
    secrets = Secrets(encryption_key=settings.encryption_key_value(),
                      vapid_private_pem=settings.vapid_private_pem())  # fmt: skip
    with stores_for(settings.data_dir, settings.redis_url, settings.database_url) as urls:
        manifest = write_backup(Stores(*urls), secrets, path, chosen)
    total = sum(manifest.events.values())
    console.print(f"{path}: {total} events, {manifest.users} users"
                  f"{'' if chosen is None else ', sealed with the passphrase'}")  # fmt: skip


@app.command()
def restore(
    path: Path = typer.Argument(..., help="a file `ronin backup` wrote"),
    passphrase_file: Path | None = typer.Option(None, help="read the passphrase from here"),
) -> None:
    """Restore a backup onto a new install (no events yet; Ronin's workers stopped): the
    read models are then rebuilt from the events when Ronin starts."""
    from infra.backup.backup_file import Stores, restore_backup
    from infra.backup.sealing import MAGIC, is_sealed
    from infra.embedded import stores_for
    from infra.secret_files import replace_secret_file

    settings = _settings()
    with path.open("rb") as file:
        sealed = is_sealed(file.read(len(MAGIC)))
    chosen = _passphrase(settings, passphrase_file, confirm=False) if sealed else None
    with stores_for(settings.data_dir, settings.redis_url, settings.database_url) as urls:
        restored, secrets = restore_backup(
            Stores(*urls), path, chosen, settings.encryption_key_value()
        )
    if secrets.vapid_private_pem:
        replace_secret_file(settings.data_dir / "vapid.pem", secrets.vapid_private_pem)
    total = sum(restored.events.values())
    console.print(
        f"restored {total} events and {restored.users} users; start Ronin and the read"
        " models rebuild from them. Footage: copy the recordings folder to"
        f" {settings.recordings_root} (the same paths). Everyone signs in again."
    )


def _passphrase(settings: Settings, path: Path | None, confirm: bool) -> str:
    if path is not None:
        return path.read_text().strip()
    if settings.backup_passphrase is not None:
        return settings.backup_passphrase.get_secret_value()
    if not sys.stdin.isatty():
        raise RoninError(
            "a backup needs a passphrase: --passphrase-file, BACKUP_PASSPHRASE, or a"
            " terminal to type it in (or --unencrypted for ronin backup)"
        )
    chosen = typer.prompt("passphrase", hide_input=True, confirmation_prompt=confirm)
    if confirm and len(chosen) < 12:
        raise RoninError("choose a passphrase of at least 12 characters")
    return str(chosen)


@app.command(name="migrate")
def migrate_command() -> None:
    """Apply pending PostgreSQL migrations; on a database without users, make ``admin``
    (ADMIN_PASSWORD, or a random password shown here once)."""
    import psycopg

    from api.auth import Users, ensure_first_admin
    from infra.embedded import stores_for
    from projector.migrations import migrate

    settings = _settings()
    with (
        stores_for(settings.data_dir, settings.redis_url, settings.database_url) as urls,
        psycopg.connect(urls[1]) as conn,
    ):
        applied = migrate(conn)
        chosen = settings.admin_password.get_secret_value() if settings.admin_password else None
        password = ensure_first_admin(Users(conn), chosen or None)
    console.print(f"applied: {', '.join(applied) or 'nothing (up to date)'}")
    if password is not None:
        shown = "(ADMIN_PASSWORD)" if chosen else password
        console.print(f"first run: user admin, password {shown} (shown once)")


@app.command()
def replay(
    projection: str = typer.Argument(
        ...,
        help="cameras, recordings, detections, alerts, analytics_recordings, analytics_detections",
    ),
) -> None:
    """Rebuild a read model from the first archived event, then swap it in (beside a
    running Ronin, or with it stopped)."""
    from infra.embedded import stores_for

    settings = _settings()
    with stores_for(settings.data_dir, settings.redis_url, settings.database_url) as urls:
        _replay(settings, projection, *urls)


def _replay(settings: Settings, projection: str, redis_url: str, database_url: str) -> None:
    import psycopg

    from events.archive import EventArchive, EventLog
    from events.store import RedisEventStore
    from projector.analytics import DuckDBReadModels
    from projector.postgres import PostgresReadModels
    from projector.readmodels import analytics_projections, postgres_projections
    from projector.replay import Replayer

    pg_models = {p.name: p for p in postgres_projections()}
    analytics = {p.name: p for p in analytics_projections()}
    chosen = pg_models.get(projection) or analytics.get(projection)
    if chosen is None:
        names = ", ".join([*pg_models, *analytics])
        raise RoninError(f"unknown projection {projection!r}; choose one of {names}")
    store = RedisEventStore.from_url(redis_url)
    archive = EventArchive(psycopg.connect(database_url))
    total = archive.count(chosen.topic) + store.length(chosen.topic)
    with _progress() as progress:
        task = progress.add_task(f"replaying {projection}", total=total)
        if projection in analytics and _worker_alive(store, "analytics"):
            detail = _replay_in_worker(store, projection, total, progress, task)
        else:
            sink: ReadModelSink = (
                PostgresReadModels(psycopg.connect(database_url))
                if projection in pg_models
                else DuckDBReadModels(settings.analytics_path)
            )
            result = Replayer(EventLog(store, archive), sink).replay(
                chosen, lambda n: progress.advance(task, n)
            )
            detail = (
                f"{result.events} events replayed, {result.skipped} skipped, "
                f"position {result.position}"
            )
    console.print(f"{projection}: {detail}")


@app.command()
def reprocess(
    model: Path = typer.Option(..., help="the ONNX model to analyse the footage with"),
    camera: list[str] = typer.Option(None, help="only this camera (by name; repeatable)"),
    since: datetime | None = typer.Option(None, help="only footage after this (ISO 8601)"),
    until: datetime | None = typer.Option(None, help="only footage before this (ISO 8601)"),
) -> None:
    """Re-analyse recorded footage with another model by replaying SegmentClosed.

    Runs its own consumer group (``reprocess.{model id}``, plus a fingerprint of the
    filters), so it can be stopped and resumed, and re-running it does nothing new.
    Results are kept per model; the API's ``model_id`` parameter chooses whose to show.
    Runs beside a running Ronin, or with it stopped.
    """
    from infra.embedded import stores_for

    settings = _settings()
    with stores_for(settings.data_dir, settings.redis_url, settings.database_url) as urls:
        _reprocess(settings, model, camera, since, until, *urls)


def _reprocess(
    settings: Settings,
    model: Path,
    camera: list[str] | None,
    since: datetime | None,
    until: datetime | None,
    redis_url: str,
    database_url: str,
) -> None:
    import psycopg

    from detector.historical import HistoricalConfig, HistoricalDetector, JobFilter
    from detector.historical import reprocess_group as group_for
    from detector.model import OnnxDetector
    from events.archive import EventArchive, EventLog
    from events.catalogue import Topic
    from events.store import RedisEventStore
    from infra.workers.detection import analysis_config, detector_config

    store = RedisEventStore.from_url(redis_url)
    archive = EventArchive(psycopg.connect(database_url))
    detector = OnnxDetector(model, detector_config(settings))
    job_filter = JobFilter(
        camera_ids=_camera_ids(database_url, camera) if camera else None,
        since=_aware(since),
        until=_aware(until),
    )
    group = group_for(detector.model_id)
    if job_filter != JobFilter():
        group += "." + hashlib.sha256(repr(job_filter).encode()).hexdigest()[:8]
    worker = HistoricalDetector(
        store, EventLog(store, archive), detector, settings.recordings_root,
        f"reprocess@{os.getpid()}",
        HistoricalConfig(group=group, reprocess=True, analysis=analysis_config(settings)),
        job_filter,
    )  # fmt: skip
    known = {g.name for g in store.groups(Topic.RECORDINGS)}
    total = (
        worker.backlog()
        if group in known
        else archive.count(Topic.RECORDINGS) + store.length(Topic.RECORDINGS)
    )
    with _progress() as progress:
        task = progress.add_task(f"reprocessing with {detector.model_id}", total=total)
        while worker.step(block_ms=None):
            progress.advance(task)
    console.print(
        f"{detector.model_id}: {worker.jobs_done} segments analysed (group {group}); "
        f"see /api/detections?model_id={detector.model_id}"
    )


def _camera_ids(database_url: str, names: list[str]) -> frozenset[UUID]:
    import psycopg

    from projector.readmodels import cameras

    with psycopg.connect(database_url) as conn:
        found = {c.name: c.camera_id for c in cameras.cameras_named(conn, names)}
    missing = sorted(set(names) - set(found))
    if missing:
        raise RoninError(f"no camera named {', '.join(missing)}")
    return frozenset(found.values())


def _aware(moment: datetime | None) -> datetime | None:
    return moment.astimezone() if moment is not None else None


def _progress() -> Progress:
    columns = (*Progress.get_default_columns()[:-1], MofNCompleteColumn(), TimeRemainingColumn())
    return Progress(*columns, console=console)


def _worker_alive(store: RedisEventStore, name: str) -> bool:
    from events.heartbeat import worker_statuses

    return any(s.name == name and s.alive for s in worker_statuses(store.client))


def _replay_in_worker(
    store: RedisEventStore, projection: str, total: int, progress: Progress, task: TaskID
) -> str:
    """The analytics worker owns the DuckDB file: ask it, and follow its progress."""
    from projector.replay import ReplayRequests

    requests = ReplayRequests(store.client)
    requests.request(projection, total)
    while True:
        status = requests.status(projection)
        if status is not None:
            progress.update(task, completed=status.done)
            if status.state == "done":
                return status.detail
            if status.state == "failed":
                raise RoninError(f"replay of {projection} failed: {status.detail}")
        time.sleep(0.2)


model_app = typer.Typer(help="Detection models: install a known one, add your own, list.")
app.add_typer(model_app, name="model")


def _models() -> ModelStore:
    from detector.model_store import ModelStore

    return ModelStore(_settings().models_dir)


@model_app.command("install")
def model_install(
    name: str = typer.Argument("yolox-nano", help="a known model: yolox-nano"),
    url: str | None = typer.Option(None, help="download from here instead (same sha256)"),
) -> None:
    """Download a known model (URL and sha256 pinned in the code) and use it."""
    entry = _models().install(name, url)
    typer.echo(f"{entry.name}: {entry.path} (sha256 {entry.sha256[:12]}…)"
                  + (", used for detection" if entry.default else ""))  # fmt: skip


@model_app.command("add")
def model_add(
    path: Path = typer.Argument(..., help="a YOLOX or YOLOv8/YOLO11 ONNX file (COCO classes)"),
    name: str | None = typer.Option(None, help="its name here (default: the file's)"),
    use: bool = typer.Option(False, "--use", help="use it for detection from now on"),
) -> None:
    """Register your own ONNX model file (it stays where it is)."""
    store = _models()
    entry = store.add(path, name)
    if use:
        store.choose(entry.name)
    typer.echo(f"{entry.name}: {entry.path}" + (" (used)" if use or entry.default else ""))


@model_app.command("list")
def model_list() -> None:
    """The models here, and which one detection uses when ML_MODEL_PATH is not set."""
    from detector.model_store import KNOWN

    entries = _models().entries()
    for e in entries:
        mark = "*" if e.default else " "
        typer.echo(f"{mark} {e.name}  {e.path}  sha256 {e.sha256[:12]}…")
    if not entries:
        typer.echo("no model yet: " + ", ".join(
            f"`ronin model install {k}` ({m.about})" for k, m in KNOWN.items()))  # fmt: skip


def main() -> None:
    try:
        app()
    except RoninError as e:
        console.print(f"[red]error:[/red] {e}")
        sys.exit(2)


if __name__ == "__main__":
    main()
