"""Live streams, protected: the HLS playlist and its segments need a token too.

``POST /api/cameras/{id}/stream/start`` answers the playlist URL with a short-lived
media token in its query; the playlist is rewritten on each request so that every
segment URL carries the same token, so hls.js and a ``<video>`` element play while a
stranger gets 401.
"""

from __future__ import annotations

import re
from pathlib import Path
from uuid import UUID

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, PlainTextResponse, Response
from pydantic import BaseModel

from api.auth import Tokens
from api.deps import MEDIA, SIGNED_IN, Connection, CurrentUser, Media, VisibleCamera
from api.media_resources import LIVE_TOKEN_S, live_resource
from projector.readmodels import cameras

router = APIRouter(prefix="/api/cameras", tags=["live"])

_LIVE_FILE = re.compile(r"^(stream\.m3u8|init\.mp4|seg\d{8}\.m4s)$")


class LiveStream(BaseModel):
    camera_id: UUID
    playlist_url: str
    expires_in: int
    status: str


def rewrite_playlist(text: str, token: str) -> str:
    """Append ``?token=`` to every URI in an HLS playlist (pure)."""
    out = []
    for line in text.splitlines():
        if line.startswith("#EXT-X-MAP:"):
            line = re.sub(r'URI="([^"?]+)"', rf'URI="\1?token={token}"', line)
        elif line and not line.startswith("#"):
            line = f"{line}?token={token}"
        out.append(line)
    return "\n".join(out) + "\n"


@router.post("/{camera_id}/stream/start", response_model=LiveStream, **SIGNED_IN)
def start_stream(
    camera_id: VisibleCamera, request: Request, user: CurrentUser, conn: Connection
) -> LiveStream:
    """Confirm the camera's live stream (ingest runs it while the camera is enabled) and
    give its playlist URL with a media token for this camera's live stream only."""
    row = cameras.camera(conn, camera_id)
    if row is None:
        raise HTTPException(404, "no such camera")
    if not row.enabled:
        raise HTTPException(409, "the camera is disabled")
    tokens: Tokens = request.app.state.tokens
    token = tokens.issue(user, "media", LIVE_TOKEN_S, resource=live_resource(camera_id))
    return LiveStream(
        camera_id=camera_id,
        playlist_url=f"/api/cameras/{camera_id}/live/stream.m3u8?token={token}",
        expires_in=LIVE_TOKEN_S,
        status=row.status,
    )


@router.get(
    "/{camera_id}/live/{name}",
    response_class=Response,
    responses={401: {"description": "no valid media token"}},
    **MEDIA,
)
def live_file(camera_id: UUID, name: str, request: Request, grant: Media) -> Response:
    """The live playlist (rewritten with the token) or one of its files."""
    if not grant.opens(live_resource(camera_id), camera_id):
        raise HTTPException(404, "no such camera")
    if not _LIVE_FILE.match(name):
        raise HTTPException(404, "no such live file")
    folder: Path = request.app.state.storage_root / ".streams" / str(camera_id)
    path = folder / name
    if not path.is_file():
        raise HTTPException(404, "the live stream is not running")
    headers = {"Cache-Control": "no-cache"}
    if name == "stream.m3u8":
        return PlainTextResponse(
            rewrite_playlist(path.read_text(), grant.token),
            media_type="application/vnd.apple.mpegurl",
            headers=headers,
        )
    media = "video/mp4" if name.endswith(".mp4") else "video/iso.segment"
    return FileResponse(path, media_type=media, headers=headers)
