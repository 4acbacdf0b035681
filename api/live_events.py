"""Server-sent events: alerts and camera status changes as they happen.

``GET /api/events/stream`` follows the ``alerts`` and ``cameras`` streams (one reader
per API process, ``event_fanout``, so every browser gets every event). Each SSE id is
the pair of stream positions ``{alerts}_{cameras}``; a browser that reconnects sends it
back as Last-Event-ID and resumes exactly where it stopped. Camera credentials never
leave: ciphertexts are dropped from the payloads. Each user gets the events of the
cameras they may see.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any
from uuid import UUID

import orjson
from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from api.auth import User
from api.deps import SIGNED_IN, CurrentUser
from api.event_fanout import TOPICS, EventFanout
from api.stream_quota import StreamQuota, TooManyStreams
from api.user_directory import UserDirectory
from events.catalogue import AlertRaised, Topic
from events.codec import decode
from events.errors import CodecError
from events.store import StreamId

router = APIRouter(prefix="/api/events", tags=["events"])

KEEPALIVE_MS = 15_000
RECHECK_S = 5.0
"""How often a quiet stream checks that its user's session and access still stand."""


def parse_cursor(last_event_id: str | None) -> dict[Topic, str]:
    """Positions to resume from; "$" (only new events) when absent or malformed."""
    positions = dict.fromkeys(TOPICS, "$")
    if last_event_id:
        parts = last_event_id.split("_")
        if len(parts) == len(TOPICS):
            try:
                for topic, part in zip(TOPICS, parts, strict=True):
                    positions[topic] = str(StreamId.parse(part))
            except ValueError:
                return dict.fromkeys(TOPICS, "$")
    return positions


def sse(event: str, ident: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\nid: {ident}\ndata: ".encode() + orjson.dumps(data) + b"\n\n"


def _visible(user: User, event: object) -> bool:
    camera_id = getattr(event, "camera_id", None)
    return not isinstance(camera_id, UUID) or user.may_see(camera_id)


async def _still_valid(directory: UserDirectory, user: User) -> bool:
    """The user's role, cameras and sessions are as they were when the stream began."""
    now = await run_in_threadpool(directory.get, user.username)
    return now is not None and (now.generation, now.user_id) == (user.generation, user.user_id)


async def _follow(
    fanout: EventFanout,
    positions: dict[Topic, str],
    limit: int | None,
    user: User,
    directory: UserDirectory,
    release: Callable[[], None],
) -> AsyncIterator[bytes]:
    try:
        newest = fanout.newest()  # "$" becomes a concrete id, so the cursor can be sent back
        cursor = {t: newest[t] if p == "$" else StreamId.parse(p) for t, p in positions.items()}
        sent, quiet_since = 0, time.monotonic()
        yield b": connected\n\n"
        while (limit is None or sent < limit) and await _still_valid(directory, user):
            entries = await fanout.after(cursor)
            if not entries:
                news = await fanout.wait(RECHECK_S)  # access is rechecked every few seconds
                if not news and time.monotonic() - quiet_since >= KEEPALIVE_MS / 1000:
                    quiet_since = time.monotonic()
                    yield b": keep-alive\n\n"
                continue
            quiet_since = time.monotonic()
            for entry in entries:
                cursor[entry.topic] = entry.entry_id
                chunk = _event(user, entry.fields, "_".join(str(cursor[t]) for t in TOPICS))
                if chunk is None:
                    continue
                yield chunk
                sent += 1
                if limit is not None and sent >= limit:
                    return
    finally:
        release()


def _event(user: User, fields: dict[bytes, bytes], ident: str) -> bytes | None:
    """One entry as an SSE message, or None: undecodable, or of a camera the user may
    not see. Camera credentials never leave."""
    try:
        event = decode(fields)
    except CodecError:
        return None
    if not _visible(user, event):
        return None
    data = event.model_dump(mode="json", exclude={"credentials_ciphertext"})
    if isinstance(event, AlertRaised) and event.snapshot_path:
        data["snapshot_url"] = f"/api/alerts/{event.alert_id}/snapshot"
    return sse(type(event).__name__, ident, data)


@router.get("/stream", response_class=StreamingResponse, **SIGNED_IN)
async def event_stream(
    request: Request,
    user: CurrentUser,
    last_event_id: Annotated[str | None, Header()] = None,  # malformed: from now on
    limit: Annotated[int | None, Query(ge=1, le=10_000)] = None,
) -> StreamingResponse:
    """AlertRaised and camera events as server-sent events (text/event-stream), of the
    cameras the user may see; the stream ends when the user's access changes. At most a
    few streams per user at once (429 beyond)."""
    quota: StreamQuota = request.app.state.stream_quota
    try:
        quota.take("events", user.username)
    except TooManyStreams as e:
        raise HTTPException(429, str(e), {"Retry-After": "10"}) from e
    fanout: EventFanout = request.app.state.event_fanout
    try:
        await fanout.start()
    except BaseException:
        quota.give_back("events", user.username)
        raise
    follow = _follow(fanout, parse_cursor(last_event_id), limit, user, request.app.state.users,
                     lambda: quota.give_back("events", user.username))  # fmt: skip
    return StreamingResponse(
        follow,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
