"""Exports: any time range of a camera into one MP4, as a background job.

The job runs in a thread of the API process that accepted it; its state lives in Redis
(``ronin:export:{id}``) and its file under ``{STORAGE_ROOT}/.exports/``, so any API
process answers for it. Files are found by export id, never by a path from the request.
An export spans at most ``export_max_hours``; each user runs at most
``EXPORTS_PER_USER`` at once and this process ``EXPORTS_AT_ONCE``. A job is seen only by
its owner and admins, and by nobody who may no longer see its camera.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import FileResponse
from pydantic import BaseModel

from api.auth import User
from api.deps import MEDIA, SIGNED_IN, Connection, CurrentUser, Media, VisibleCamera
from api.inputs import Instant
from api.recordings import segment_file
from events.errors import RoninError
from ingest.lifecycle.export import ExportPiece, plan_export, run_export
from projector.readmodels import segments

router = APIRouter(prefix="/api", tags=["exports"])


class ExportRequest(BaseModel):
    start: Instant
    end: Instant


class ExportJob(BaseModel):
    export_id: UUID
    camera_id: UUID
    owner: str = ""
    owner_id: UUID | None = None
    """The owner's account id: a later account of the same name is someone else."""
    state: Literal["pending", "running", "done", "failed"]
    progress: float
    error: str | None = None
    download_url: str | None = None


def _key(export_id: UUID) -> str:
    return f"ronin:export:{export_id}"


def _save(client: Any, job: ExportJob) -> None:
    client.set(_key(job.export_id), job.model_dump_json(), ex=7 * 86400)


def _load(client: Any, export_id: UUID, user: User) -> ExportJob:
    raw = client.get(_key(export_id))
    job = None if raw is None else ExportJob.model_validate_json(raw)
    if job is None or not user.may_see(job.camera_id):
        raise HTTPException(404, "no such export")
    if not user.is_admin and (job.owner, job.owner_id) != (user.username, user.user_id):
        raise HTTPException(404, "no such export")
    return job


def remove_exports_of(client: Any, root: Path, username: str) -> int:
    """Delete a removed user's exports, records and files; how many there were."""
    removed = 0
    for key in client.scan_iter("ronin:export:*", count=500):
        raw = client.get(key)
        if raw is None:
            continue
        job = ExportJob.model_validate_json(raw)
        if job.owner == username:
            _file(root, job.export_id).unlink(missing_ok=True)
            client.delete(key)
            removed += 1
    return removed


EXPORTS_PER_USER = 2
EXPORTS_AT_ONCE = 4


class Running:
    """Exports running in this process, by owner."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owners: list[str] = []

    def claim(self, owner: str) -> None:
        with self._lock:
            if len(self._owners) >= EXPORTS_AT_ONCE:
                raise HTTPException(429, "the server is busy with other exports: try again soon",
                                    {"Retry-After": "30"})  # fmt: skip
            if self._owners.count(owner) >= EXPORTS_PER_USER:
                raise HTTPException(429, f"you have {EXPORTS_PER_USER} exports running: wait"
                                    " for one to finish", {"Retry-After": "30"})  # fmt: skip
            self._owners.append(owner)

    def release(self, owner: str) -> None:
        with self._lock:
            self._owners.remove(owner)


_running = Running()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _file(root: Path, export_id: UUID) -> Path:
    return root / ".exports" / f"{export_id}.mp4"


@router.post("/cameras/{camera_id}/exports", response_model=ExportJob,
             status_code=status.HTTP_202_ACCEPTED,
             responses={429: {"description": "this user's exports are running: wait"}},
             **SIGNED_IN)  # fmt: skip
def start_export(
    camera_id: VisibleCamera, body: ExportRequest, request: Request, user: CurrentUser,
    conn: Connection,
) -> ExportJob:  # fmt: skip
    """Start cutting ``[start, end)`` into one MP4 (keyframe cut, no re-encoding).

    ``end`` must follow ``start``, by at most ``EXPORT_MAX_HOURS``, and the cut must fit
    the size limit (422 otherwise)."""
    if body.end <= body.start:
        raise HTTPException(422, "end must follow start")
    max_hours: float = request.app.state.config.export_max_hours
    if (body.end - body.start).total_seconds() > max_hours * 3600:
        raise HTTPException(422, f"an export spans at most {max_hours:g} hours")
    root: Path = request.app.state.storage_root
    rows = segments.overlapping(conn, camera_id, body.start, body.end)
    pieces = [ExportPiece(segment_file(root, r.path), r.start_at, r.end_at) for r in rows]
    try:
        plan = plan_export(pieces, body.start, body.end)
    except RoninError as e:
        raise HTTPException(404, str(e)) from e
    budget: int = request.app.state.config.export_max_bytes
    if sum(_size(p.path) for p in pieces) > budget:  # stream copy: about the footage's size
        gb = f"{budget / 1e9:g} GB"
        raise HTTPException(
            422, f"this export would not fit in the exports' budget ({gb}): choose a shorter span"
        )
    job = ExportJob(export_id=uuid4(), camera_id=camera_id, owner=user.username,
                    owner_id=user.user_id, state="pending", progress=0.0)  # fmt: skip
    client = request.app.state.store.client
    _running.claim(user.username)
    try:
        _save(client, job)
    except BaseException:
        _running.release(user.username)
        raise

    def work() -> None:
        def progress(done: float) -> None:
            _save(client, job.model_copy(update={"state": "running", "progress": done}))

        try:
            run_export(plan, _file(root, job.export_id), progress)
        except RoninError as e:
            _save(client, job.model_copy(update={"state": "failed", "error": str(e)}))
            return
        finally:
            _running.release(job.owner)
        url = f"/api/exports/{job.export_id}/download"
        _save(client, job.model_copy(update={"state": "done", "progress": 1.0,
                                             "download_url": url}))  # fmt: skip

    threading.Thread(target=work, name=f"export-{job.export_id}", daemon=True).start()
    return job


@router.get("/exports/{export_id}", response_model=ExportJob, **SIGNED_IN)
def export_status(export_id: UUID, request: Request, user: CurrentUser) -> ExportJob:
    return _load(request.app.state.store.client, export_id, user)


@router.get("/exports/{export_id}/download", response_class=FileResponse,
            responses={409: {"description": "the export is not done"}}, **MEDIA)  # fmt: skip
def download_export(export_id: UUID, request: Request, grant: Media) -> FileResponse:
    job = _load(request.app.state.store.client, export_id, grant.user)
    if not grant.opens(f"export:{export_id}", job.camera_id):
        raise HTTPException(404, "no such export")
    path = _file(request.app.state.storage_root, export_id)
    if job.state != "done" or not path.is_file():
        raise HTTPException(409, f"the export is {job.state}")
    return FileResponse(path, media_type="video/mp4", filename=f"export-{export_id}.mp4")
