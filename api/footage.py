"""Any time range of a camera's footage as one MP4, built on the fly.

``GET /api/cameras/{id}/footage.mp4?start=&end=`` cuts ``[start, end)`` out of the
segments that cover it (the one being written included) by stream copy, never a
re-encode, into one fragmented MP4 with an index of its fragments at the end, so a
``<video>`` plays and seeks it across segment files, across midnight and across days.
A stream copy must begin at a keyframe, so the file begins at the first keyframe at or
after ``start`` (at most one GOP late). A gap in the recording is skipped (the file holds what was
recorded, back to back).

The file is built once per range and content (the segments and their sizes: a growing
segment gives a new file) under ``{storage}/.cache/footage/`` and served with Range
requests from there; files older than ``KEEP_S`` are removed on the next request.
"""

from __future__ import annotations

import hashlib
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, Response

from api.deps import MEDIA, Connection, Media
from api.recordings import segment_file
from ingest.lifecycle.export import FRAGMENTED, ExportFailed, ExportPiece, plan_export, run_export
from projector.readmodels import segments

router = APIRouter(prefix="/api", tags=["recordings"])

MAX_SPAN_S = 3 * 3600
"""The longest range served at once: the player asks for the next one as it plays."""
KEEP_S = 600.0
CACHE = Path(".cache") / "footage"


def footage_resource(camera_id: UUID) -> str:
    return f"footage:{camera_id}"


def footage_camera(camera_id: UUID, grant: Media) -> UUID:
    """A camera whose footage the token opens (others do not exist for the caller); a
    dependency, so it answers before the range is even read."""
    if not grant.opens(footage_resource(camera_id), camera_id):
        raise HTTPException(404, "no such camera")
    return camera_id


def _pieces(conn: Connection, camera_id: UUID, start: datetime, end: datetime,
            root: Path) -> list[ExportPiece]:  # fmt: skip
    """The files covering ``[start, end)``, the segment being written included."""
    pieces = [
        ExportPiece(segment_file(root, row.path), row.start_at, row.end_at)
        for row in segments.overlapping(conn, camera_id, start, end)
    ]
    growing = segments.open_segment(conn, camera_id)
    if growing is not None and growing.start_at < end:
        try:
            path = segment_file(root, growing.path)
        except HTTPException:
            return pieces  # the run ended without closing it: its file is gone
        written_to = datetime.fromtimestamp(path.stat().st_mtime, growing.start_at.tzinfo)
        if written_to > start:
            pieces.append(ExportPiece(path, growing.start_at, written_to))
    return pieces


def cache_key(camera_id: UUID, start: datetime, end: datetime, pieces: list[ExportPiece]) -> str:
    """The same range of the same files (path and size) is the same file."""
    parts = [str(camera_id), start.isoformat(), end.isoformat()]
    for piece in pieces:
        parts.append(f"{piece.path}:{piece.path.stat().st_size}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def _prune(folder: Path) -> None:
    cutoff = time.time() - KEEP_S
    for path in folder.glob("*.mp4"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except OSError:
            pass


@router.get(
    "/cameras/{camera_id}/footage.mp4",
    response_class=FileResponse,
    responses={206: {"description": "the requested byte range"},
               404: {"description": "no recording in that range"}},
    **MEDIA,
)  # fmt: skip
def footage(
    camera_id: Annotated[UUID, Depends(footage_camera)],
    request: Request,
    conn: Connection,
    start: datetime,
    end: datetime,
) -> Response:
    """``[start, end)`` of the camera's footage as one fragmented, seekable MP4 (stream
    copy; it starts at the first keyframe from ``start`` on); Range requests honoured."""
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        raise HTTPException(422, "start and end need a time zone, and end must follow start")
    if (end - start).total_seconds() > MAX_SPAN_S:
        raise HTTPException(422, f"at most {MAX_SPAN_S // 3600} hours at once")
    root: Path = request.app.state.storage_root
    pieces = _pieces(conn, camera_id, start, end, root)
    try:
        plan = plan_export(pieces, start, end)
    except ExportFailed as e:
        raise HTTPException(404, str(e)) from e
    folder = root / CACHE
    target = folder / f"{cache_key(camera_id, start, end, list(plan.pieces))}.mp4"
    if not target.is_file():
        try:
            run_export(plan, target, lambda done: None, FRAGMENTED)
        except ExportFailed as e:
            raise HTTPException(404, f"the recording cannot be read: {e}") from e
        _prune(folder)
    return FileResponse(target, media_type="video/mp4", headers={"Cache-Control": "no-store"})
