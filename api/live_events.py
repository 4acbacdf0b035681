"""Server-sent events: alerts and camera status changes as they happen.

``GET /api/events/stream`` follows the ``alerts`` and ``cameras`` streams (plain XREAD,
so every browser gets every event). Each SSE id is the pair of stream positions
``{alerts}_{cameras}``; a browser that reconnects sends it back as Last-Event-ID and
resumes exactly where it stopped. Camera credentials never leave: ciphertexts are
dropped from the payloads. Each user gets the events of the cameras they may see.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID

import orjson
import redis.asyncio as aioredis
from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from api.auth import User
from api.deps import SIGNED_IN, CurrentUser
from api.user_directory import UserDirectory
from events.catalogue import AlertRaised, Topic
from events.codec import decode
from events.errors import CodecError
from events.store import StreamId

router = APIRouter(prefix="/api/events", tags=["events"])

TOPICS = (Topic.ALERTS, Topic.CAMERAS)
KEEPALIVE_MS = 15_000


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
    url: str,
    positions: dict[Topic, str],
    limit: int | None,
    user: User,
    directory: UserDirectory,
) -> AsyncIterator[bytes]:
    # redis-py's async reply types are too loose for Any-free code; its default 5-s socket
    # timeout would cut every blocking XREAD, so the timeout allows the keep-alive wait.
    client: Any = aioredis.Redis.from_url(url, socket_timeout=KEEPALIVE_MS / 1000 + 10)
    sent = 0
    try:
        for topic in TOPICS:  # "$" becomes a concrete id so the cursor can be sent back
            if positions[topic] == "$":
                last = await client.xrevrange(f"ronin:{topic.value}", count=1)
                positions[topic] = last[0][0].decode() if last else "0-0"
        yield b": connected\n\n"
        while (limit is None or sent < limit) and await _still_valid(directory, user):
            reply = await client.xread(
                {f"ronin:{t.value}": positions[t] for t in TOPICS}, block=KEEPALIVE_MS, count=100
            )
            if not reply:
                yield b": keep-alive\n\n"
                continue
            for key, entries in reply:
                topic = Topic(key.decode().split(":", 1)[1])
                for entry_id, fields in entries:
                    positions[topic] = entry_id.decode()
                    try:
                        event = decode(fields)
                    except CodecError:
                        continue
                    if not _visible(user, event):
                        continue
                    data = event.model_dump(mode="json", exclude={"credentials_ciphertext"})
                    if isinstance(event, AlertRaised) and event.snapshot_path:
                        data["snapshot_url"] = f"/api/alerts/{event.alert_id}/snapshot"
                    ident = "_".join(positions[t] for t in TOPICS)
                    yield sse(type(event).__name__, ident, data)
                    sent += 1
                    if limit is not None and sent >= limit:
                        return
    finally:
        await client.aclose()


@router.get("/stream", response_class=StreamingResponse, **SIGNED_IN)
async def event_stream(
    request: Request,
    user: CurrentUser,
    last_event_id: Annotated[str | None, Header()] = None,
    limit: Annotated[int | None, Query(ge=1, le=10_000)] = None,
) -> StreamingResponse:
    """AlertRaised and camera events as server-sent events (text/event-stream), of the
    cameras the user may see; the stream ends when the user's access changes."""
    url: str = request.app.state.redis_url
    return StreamingResponse(
        _follow(url, parse_cursor(last_event_id), limit, user, request.app.state.users),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
