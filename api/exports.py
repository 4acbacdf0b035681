"""Exports: any time range of a camera into one MP4, as a background job.

The job runs in a thread of the API process that accepted it; its state lives in Redis
(``ronin:export:{id}``) and its file under ``{STORAGE_ROOT}/.exports/``, so any API
process answers for it. Files are found by export id, never by a path from the request.
"""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import FileResponse
from pydantic import BaseModel

from api.deps import Connection, CurrentUser, MediaToken
from api.recordings import segment_file
from events.errors import RoninError
from ingest.export import ExportPiece, plan_export, run_export

router = APIRouter(prefix="/api", tags=["exports"])


class ExportRequest(BaseModel):
    start: datetime
    end: datetime


class ExportJob(BaseModel):
    export_id: UUID
    camera_id: UUID
    state: Literal["pending", "running", "done", "failed"]
    progress: float
    error: str | None = None
    download_url: str | None = None


def _key(export_id: UUID) -> str:
    return f"ronin:export:{export_id}"


def _save(client: Any, job: ExportJob) -> None:
    client.set(_key(job.export_id), job.model_dump_json(), ex=7 * 86400)


def _load(client: Any, export_id: UUID) -> ExportJob:
    raw = client.get(_key(export_id))
    if raw is None:
        raise HTTPException(404, "no such export")
    return ExportJob.model_validate_json(raw)


def _file(root: Path, export_id: UUID) -> Path:
    return root / ".exports" / f"{export_id}.mp4"


@router.post("/cameras/{camera_id}/exports", response_model=ExportJob,
             status_code=status.HTTP_202_ACCEPTED)  # fmt: skip
def start_export(
    camera_id: UUID, body: ExportRequest, request: Request, _user: CurrentUser, conn: Connection
) -> ExportJob:
    """Start cutting ``[start, end)`` into one MP4 (keyframe cut, no re-encoding)."""
    if body.start.tzinfo is None or body.end.tzinfo is None or body.end <= body.start:
        raise HTTPException(422, "start and end need a time zone, and end must follow start")
    root: Path = request.app.state.storage_root
    rows = conn.execute(
        "SELECT path, start_at, end_at FROM recordings.segments WHERE camera_id = %s"
        " AND end_at > %s AND start_at < %s ORDER BY start_at",
        (camera_id, body.start, body.end),
    ).fetchall()
    pieces = [ExportPiece(segment_file(root, path), s, e) for path, s, e in rows]
    try:
        plan = plan_export(pieces, body.start, body.end)
    except RoninError as e:
        raise HTTPException(404, str(e)) from e
    job = ExportJob(export_id=uuid4(), camera_id=camera_id, state="pending", progress=0.0)
    client = request.app.state.store.client
    _save(client, job)

    def work() -> None:
        def progress(done: float) -> None:
            _save(client, job.model_copy(update={"state": "running", "progress": done}))

        try:
            run_export(plan, _file(root, job.export_id), progress)
        except RoninError as e:
            _save(client, job.model_copy(update={"state": "failed", "error": str(e)}))
            return
        url = f"/api/exports/{job.export_id}/download"
        _save(client, job.model_copy(update={"state": "done", "progress": 1.0,
                                             "download_url": url}))  # fmt: skip

    threading.Thread(target=work, name=f"export-{job.export_id}", daemon=True).start()
    return job


@router.get("/exports/{export_id}", response_model=ExportJob)
def export_status(export_id: UUID, request: Request, _user: CurrentUser) -> ExportJob:
    return _load(request.app.state.store.client, export_id)


@router.get("/exports/{export_id}/download", response_class=FileResponse)
def download_export(export_id: UUID, request: Request, _token: MediaToken) -> FileResponse:
    job = _load(request.app.state.store.client, export_id)
    path = _file(request.app.state.storage_root, export_id)
    if job.state != "done" or not path.is_file():
        raise HTTPException(409, f"the export is {job.state}")
    return FileResponse(path, media_type="video/mp4", filename=f"export-{export_id}.mp4")
