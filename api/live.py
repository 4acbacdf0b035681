"""Live streams, protected: every path needs a media token for that camera.

``POST /api/cameras/{id}/stream/start`` answers two URLs with a short-lived media token
in their query:

- ``socket_url``: a WebSocket carrying the camera's fragmented MP4 as it is written
  (one fragment per frame, from the live ring), for Media Source Extensions: first a
  text message ``{"mime": "video/mp4; codecs=..."}``, then the init segment and
  fragments as binary messages, starting at the newest keyframe. It closes with a code
  that says why: 4401 no valid token or the session ended, 4404 no such camera, 4429
  too many live streams open for this user, 4000 the stream started again, 4008 the
  connection is too slow (the player reconnects);
- ``playlist_url``: the HLS playlist, the fallback for browsers without MSE, made from
  the same feed (one media segment per group of pictures, served from memory); every
  URI in it carries the same token, so hls.js and a ``<video>`` element play while a
  stranger gets 401.

``?stream=sub`` asks for the camera's sub-stream (the grid's tiles do): its own ring
while it runs, else the main stream's, so a tile always shows the camera.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Awaitable
from typing import Annotated
from uuid import UUID

import anyio
from fastapi import APIRouter, HTTPException, Path, Request, WebSocket
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect

from api.auth import AuthError, Tokens
from api.deps import (
    MEDIA,
    SIGNED_IN,
    Connection,
    CurrentUser,
    Media,
    MediaGrant,
    VisibleCamera,
    socket_grant,
    still_valid,
)
from api.inputs import CONTROL_FREE
from api.known_cameras import KnownCameras
from api.live_feed import Ending, LiveFeeds, Viewer
from api.media_resources import LIVE_TOKEN_S, live_resource
from api.stream_quota import StreamQuota, TooManyStreams
from ingest.live.fmp4 import InitSegment
from ingest.live.hls import find_init, playlist
from ingest.live.ring import LiveStreamKind
from projector.readmodels import cameras

router = APIRouter(prefix="/api/cameras", tags=["live"])

_LIVE_FILE = re.compile(r"^(stream\.m3u8|init[0-9a-f]{8}\.mp4|seg(\d{8})\.m4s)$")


RECHECK_S = 5.0
"""How often an open live socket checks that its user's session and access still stand
(a viewer whose access is removed loses the picture within seconds)."""


class LiveStream(BaseModel):
    camera_id: UUID
    socket_url: str
    playlist_url: str
    expires_in: int
    status: str


def rewrite_playlist(text: str, token: str, kind: LiveStreamKind = LiveStreamKind.MAIN) -> str:
    """Append the query (``?token=``, and ``&stream=sub`` for a sub-stream) to every URI
    in an HLS playlist (pure)."""
    query = f"token={token}" + ("" if kind is LiveStreamKind.MAIN else f"&stream={kind}")
    out = []
    for line in text.splitlines():
        if line.startswith("#EXT-X-MAP:"):
            line = re.sub(r'URI="([^"?]+)"', rf'URI="\1?{query}"', line)
        elif line and not line.startswith("#"):
            line = f"{line}?{query}"
        out.append(line)
    return "\n".join(out) + "\n"


@router.post("/{camera_id}/stream/start", response_model=LiveStream,
             responses={409: {"description": "the camera is disabled"}}, **SIGNED_IN)  # fmt: skip
def start_stream(
    camera_id: VisibleCamera,
    request: Request,
    user: CurrentUser,
    conn: Connection,
    stream: LiveStreamKind = LiveStreamKind.MAIN,
) -> LiveStream:
    """Confirm the camera's live stream (ingest runs it while the camera is enabled) and
    give its URLs with a media token for this camera's live stream only."""
    row = cameras.camera(conn, camera_id)
    if row is None:
        raise HTTPException(404, "no such camera")
    if not row.enabled:
        raise HTTPException(409, "the camera is disabled")
    tokens: Tokens = request.app.state.tokens
    token = tokens.issue(user, "media", LIVE_TOKEN_S, resource=live_resource(camera_id))
    query = f"token={token}" + ("" if stream is LiveStreamKind.MAIN else f"&stream={stream}")
    return LiveStream(
        camera_id=camera_id,
        socket_url=f"/api/cameras/{camera_id}/live/socket?{query}",
        playlist_url=f"/api/cameras/{camera_id}/live/stream.m3u8?{query}",
        expires_in=LIVE_TOKEN_S,
        status=row.status,
    )


@router.get(
    "/{camera_id}/live/{name}",
    response_class=Response,
    responses={401: {"description": "no valid media token"}},
    **MEDIA,
)
async def live_file(
    camera_id: UUID,
    name: Annotated[str, Path(max_length=200, pattern=CONTROL_FREE)],
    request: Request,
    grant: Media,
    stream: LiveStreamKind = LiveStreamKind.MAIN,
) -> Response:
    """The live HLS playlist (with the token on every URI), an init segment or a media
    segment (a group of pictures), from the camera's live feed."""
    if not grant.opens(live_resource(camera_id), camera_id):
        raise HTTPException(404, "no such camera")
    found = _LIVE_FILE.match(name)
    known: KnownCameras = request.app.state.known_cameras
    if found is not None and not await run_in_threadpool(known.exists, camera_id):
        raise HTTPException(404, "no such camera")
    if found is None:
        raise HTTPException(404, "no such live file")
    feeds: LiveFeeds = request.app.state.live_feeds
    state = await feeds.for_hls(camera_id, stream)
    headers = {"Cache-Control": "no-cache"}
    if name == "stream.m3u8":
        text = playlist(state.recent)
        if text is None:
            raise HTTPException(404, "the live stream is not running")
        return PlainTextResponse(
            rewrite_playlist(text, grant.token, stream),
            media_type="application/vnd.apple.mpegurl",
            headers=headers,
        )
    if name.startswith("init"):
        init = find_init(name, [g.init for g in state.recent])
        if init is None:
            raise HTTPException(404, "no longer live: reload the playlist")
        return Response(init.data, media_type="video/mp4", headers=headers)
    gop = state.find(int(found.group(2)))
    if gop is None:
        raise HTTPException(404, "no longer live: reload the playlist")
    return Response(gop.data, media_type="video/iso.segment", headers=headers)


@router.websocket("/{camera_id}/live/socket")
async def live_socket(
    websocket: WebSocket,
    camera_id: UUID,
    token: str | None = None,
    stream: LiveStreamKind = LiveStreamKind.MAIN,
) -> None:
    """The camera's live fragmented MP4 for Media Source Extensions (see the module)."""
    await websocket.accept()
    try:
        grant = await run_in_threadpool(socket_grant, websocket, token)
    except AuthError as e:
        await websocket.close(4401, str(e)[:120])
        return
    known: KnownCameras = websocket.app.state.known_cameras
    if not grant.opens(live_resource(camera_id), camera_id) or not await run_in_threadpool(
        known.exists, camera_id
    ):
        await websocket.close(4404, "no such camera")
        return
    quota: StreamQuota = websocket.app.state.stream_quota
    try:
        quota.take("live", grant.user.username)
    except TooManyStreams as e:
        await websocket.close(4429, str(e)[:120])
        return
    feeds: LiveFeeds = websocket.app.state.live_feeds
    viewer = feeds.join(camera_id, stream)
    try:
        async with anyio.create_task_group() as group:
            for step in (_send(websocket, viewer), _until_closed(websocket),
                         _until_invalid(websocket, grant)):  # fmt: skip
                group.start_soon(_then_stop, step, group.cancel_scope)
    finally:
        feeds.leave(viewer)
        quota.give_back("live", grant.user.username)


async def _then_stop(step: Awaitable[None], scope: anyio.CancelScope) -> None:
    """Run one of a socket's tasks; when it ends, so do the others."""
    await step
    scope.cancel()


async def _send(websocket: WebSocket, viewer: Viewer) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            piece = await viewer.next()
            if isinstance(piece, Ending):
                await websocket.close(piece.code, piece.reason)
                return
            if isinstance(piece, InitSegment):
                await websocket.send_text(json.dumps({"mime": piece.mime}))
            await websocket.send_bytes(piece.data)


async def _until_closed(websocket: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return


async def _until_invalid(websocket: WebSocket, grant: MediaGrant) -> None:
    while True:
        await asyncio.sleep(RECHECK_S)  # read each time: tests shorten it
        if not await run_in_threadpool(still_valid, websocket, grant):
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                await websocket.close(4401, "this session has ended: log in again")
            return
