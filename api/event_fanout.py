"""One reader of the event streams per API process, any number of SSE followers.

Each server-sent event stream used to hold its own Redis client and blocking XREAD: a
hundred open browser tabs were a hundred Redis connections. Now one task reads the
``alerts`` and ``cameras`` streams (XREAD BLOCK) into a short in-memory history and
wakes every follower; a follower that resumes from further back than that history
(Last-Event-ID after a long disconnection) catches up with XRANGE on the same client
(its pool is small and shared) until it reaches the history.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from events.catalogue import Topic
from events.store import StreamId

log = logging.getLogger(__name__)

TOPICS = (Topic.ALERTS, Topic.CAMERAS)


@dataclass(frozen=True, slots=True)
class Entry:
    topic: Topic
    entry_id: StreamId
    fields: dict[bytes, bytes]


class EventFanout:
    def __init__(self, url: str, history: int = 512, block_ms: int = 5_000) -> None:
        # redis-py's async reply types are too loose for Any-free code
        self._client: Any = aioredis.Redis.from_url(
            url, socket_timeout=block_ms / 1000 + 10, max_connections=4
        )
        self._block_ms = block_ms
        self._history: dict[Topic, deque[Entry]] = {t: deque(maxlen=history) for t in TOPICS}
        self._complete_after: dict[Topic, StreamId] = {}
        """Per topic: the history holds every entry after this id."""
        self._news = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._starting = asyncio.Lock()  # streams opened together start one reader

    async def start(self) -> None:
        """Begin at the streams' ends (once; later calls do nothing)."""
        async with self._starting:
            if self._task is not None:
                return
            for topic in TOPICS:
                self._complete_after[topic] = await self._last_id(topic)
            self._task = asyncio.create_task(self._read())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._client.aclose()

    def newest(self) -> dict[Topic, StreamId]:
        """Where "only what comes from now on" starts."""
        return {t: (h[-1].entry_id if h else self._complete_after[t])
                for t, h in self._history.items()}  # fmt: skip

    async def after(self, positions: dict[Topic, StreamId], count: int = 100) -> list[Entry]:
        """Entries after ``positions`` (each topic's own), oldest first per topic."""
        out: list[Entry] = []
        for topic in TOPICS:
            since = positions[topic]
            if since < self._complete_after[topic]:  # further back than the history
                out.extend(await self._range(topic, since, count))
            else:
                out.extend(e for e in self._history[topic] if e.entry_id > since)
        return out

    async def wait(self, timeout_s: float) -> bool:
        """Wait for news (True) or the timeout (False)."""
        news = self._news
        try:
            await asyncio.wait_for(news.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    async def _read(self) -> None:
        while True:
            try:
                reply = await self._client.xread(
                    {f"ronin:{t.value}": str(i) for t, i in self.newest().items()},
                    block=self._block_ms, count=100,
                )  # fmt: skip
            except RedisError as e:  # Redis restarting: followers wait, nothing is lost
                log.warning("the event streams cannot be read: %s", e)
                await asyncio.sleep(1.0)
                continue
            self._take(reply or [])

    def _take(self, reply: list[Any]) -> None:
        if not reply:
            return
        for key, entries in reply:
            topic = Topic(key.decode().split(":", 1)[1])
            history = self._history[topic]
            for entry_id, fields in entries:
                if len(history) == history.maxlen:
                    self._complete_after[topic] = history[0].entry_id
                history.append(Entry(topic, StreamId.parse(entry_id.decode()), fields))
        news, self._news = self._news, asyncio.Event()
        news.set()

    async def _range(self, topic: Topic, since: StreamId, count: int) -> list[Entry]:
        found = await self._client.xrange(f"ronin:{topic.value}", min=f"({since}", count=count)
        return [Entry(topic, StreamId.parse(i.decode()), f) for i, f in found]

    async def _last_id(self, topic: Topic) -> StreamId:
        last = await self._client.xrevrange(f"ronin:{topic.value}", count=1)
        return StreamId.parse(last[0][0].decode()) if last else StreamId.parse("0-0")
