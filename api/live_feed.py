"""Live video for browsers: one follower of a camera's live ring, any number of viewers.

The camera's one ffmpeg writes a fragment per frame into its live ring
(``ingest.live.ring``); a :class:`CameraFeed` follows the newest ring file while anyone
watches (every ``poll_s``) and hands each fragment to every WebSocket viewer's queue,
so many viewers of a camera cost one reader, and nothing is decoded or re-encoded. The
same feed keeps the last complete groups of pictures, which the HLS fallback serves
from memory (an HLS request keeps the feed going for ``linger_s``). A new viewer
starts with the init segment and the current group of pictures (a picture at once; the
player then jumps to the live edge). A viewer that falls ``max_backlog`` pieces or
``max_bytes`` behind (a stalled network) loses its backlog, is closed and reconnects;
when the stream starts again (a new ffmpeg run) every viewer is told to start again.

A viewer asks for a camera's ``main`` or ``sub`` stream; ``sub`` is read from the
sub-stream's ring while that is written (``ingest.live.ring.ring_to_read``), else from the
main ring. A feed of a sub ring that stops being written tells its viewers to start
again, so that they come back to the main ring.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID

from ingest.live.fmp4 import Piece
from ingest.live.gop import LiveState, Step
from ingest.live.ring import (
    LiveStreamKind,
    RingFollower,
    ring_dir,
    ring_to_read,
    running,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Ending:
    """Why a viewer's stream ends: a WebSocket close code (4000-4999: ours) and words."""

    code: int
    reason: str


RESTARTED = Ending(4000, "the stream started again: reconnect")
TOO_SLOW = Ending(4008, "the connection is too slow for live video: reconnect")


@dataclass(eq=False, slots=True)
class Viewer:
    """One viewer's queue, bounded in pieces and in bytes: a viewer that falls behind
    either is too slow for live video. Its backlog is dropped and the close goes out
    next, at once (not after every frame it could not take)."""

    max_backlog: int
    max_bytes: int = 8 * 2**20
    queue: asyncio.Queue[Piece | Ending] = field(default_factory=asyncio.Queue)
    queued_bytes: int = 0
    started: bool = False
    ended: bool = False

    def push(self, pieces: list[Piece]) -> None:
        if self.ended:
            return
        size = sum(len(p.data) for p in pieces)
        if (self.queue.qsize() + len(pieces) > self.max_backlog
                or self.queued_bytes + size > self.max_bytes):  # fmt: skip
            self._drop_backlog()
            self.end(TOO_SLOW)
            return
        for piece in pieces:
            self.queue.put_nowait(piece)
        self.queued_bytes += size

    async def next(self) -> Piece | Ending:
        piece = await self.queue.get()
        if not isinstance(piece, Ending):
            self.queued_bytes -= len(piece.data)
        return piece

    def end(self, why: Ending) -> None:
        if not self.ended:
            self.ended = True
            self.queue.put_nowait(why)

    def _drop_backlog(self) -> None:
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queued_bytes = 0


class CameraFeed:
    """One camera's live ring, read while anyone watches."""

    def __init__(
        self,
        folder: Path,
        poll_s: float,
        max_backlog: int,
        linger_s: float,
        ends_when_idle: bool = False,
    ) -> None:
        self._follower = RingFollower(folder)
        self._ends_when_idle = ends_when_idle  # a sub ring: viewers then go to the main one
        self._checked_at = 0.0
        self._poll_s, self._max_backlog, self._linger_s = poll_s, max_backlog, linger_s
        self.state = LiveState()
        self.viewers: set[Viewer] = set()
        self.task: asyncio.Task[None] | None = None
        self.caught_up = asyncio.Event()
        self._hls_until = 0.0

    def watched_over_hls(self) -> None:
        """An HLS player asked for something: keep the feed going a while."""
        self._hls_until = asyncio.get_running_loop().time() + self._linger_s
        self._ensure_running()

    def _ensure_running(self) -> None:
        if self.task is None or self.task.done():
            self.caught_up.clear()
            self.task = asyncio.create_task(self._follow())

    def join(self) -> Viewer:
        viewer = Viewer(self._max_backlog)
        self._offer_start(viewer)
        self.viewers.add(viewer)
        self._ensure_running()
        return viewer

    def leave(self, viewer: Viewer) -> None:
        self.viewers.discard(viewer)

    async def _follow(self) -> None:
        idle_since: float | None = None
        loop = asyncio.get_running_loop()
        try:
            while caught := self._follower.read():  # catching up: only the newest GOP is sent
                for piece in caught:
                    self.state.add(piece)
            self.caught_up.set()
            for viewer in list(self.viewers):
                self._offer_start(viewer)
            while True:
                for piece in self._follower.read():
                    self._dispatch(piece)
                if self.viewers or loop.time() < self._hls_until:
                    idle_since = None
                elif idle_since is None:
                    idle_since = loop.time()
                elif loop.time() - idle_since > self._linger_s:
                    return
                if self._ring_stopped(loop.time()):
                    self._end_all(RESTARTED)
                    return
                await asyncio.sleep(self._poll_s)
        except Exception:  # a broken file must not take the API down: viewers reconnect
            log.exception("the live feed of %s failed", self._follower.folder)
            self._end_all(RESTARTED)
        finally:
            self._follower.close()

    def _ring_stopped(self, now: float) -> bool:
        """Whether a feed that ends when its ring stops (once a second) should end now."""
        if not self._ends_when_idle or now - self._checked_at < 1.0:
            return False
        self._checked_at = now
        return not running(self._follower.folder)

    def _end_all(self, why: Ending) -> None:
        for viewer in self.viewers:
            viewer.end(why)

    def _dispatch(self, piece: Piece) -> None:
        step = self.state.add(piece)
        if step is Step.SKIP:
            return
        for viewer in list(self.viewers):
            if step is Step.RESTART:
                viewer.end(RESTARTED)
                self.viewers.discard(viewer)
            elif viewer.started:
                viewer.push([piece])
            else:
                self._offer_start(viewer)

    def _offer_start(self, viewer: Viewer) -> None:
        start = self.state.start()
        if start:
            viewer.started = True
            viewer.push(start)


class LiveFeeds:
    """Every camera's feed in this API process."""

    def __init__(
        self,
        streams_root: Path,
        poll_s: float = 0.02,
        max_backlog: int = 250,
        linger_s: float = 10.0,
    ) -> None:
        self._root = streams_root  # every camera's live rings
        self._poll_s, self._max_backlog, self._linger_s = poll_s, max_backlog, linger_s
        self._feeds: dict[Path, CameraFeed] = {}  # by the ring they follow

    def join(self, camera_id: UUID, kind: LiveStreamKind = LiveStreamKind.MAIN) -> Viewer:
        return self._feed(camera_id, kind).join()

    async def for_hls(
        self, camera_id: UUID, kind: LiveStreamKind = LiveStreamKind.MAIN, wait_s: float = 5.0
    ) -> LiveState:
        """The camera's live state once its feed has read the ring (an HLS request)."""
        feed = self._feed(camera_id, kind)
        feed.watched_over_hls()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(feed.caught_up.wait(), wait_s)
        return feed.state

    def _feed(self, camera_id: UUID, kind: LiveStreamKind) -> CameraFeed:
        self._evict_idle()
        folder = ring_to_read(self._root, camera_id, kind)
        feed = self._feeds.get(folder)
        if feed is None or (feed.task is not None and feed.task.done()):
            main = ring_dir(self._root, camera_id, LiveStreamKind.MAIN)
            feed = CameraFeed(folder, self._poll_s, self._max_backlog, self._linger_s,
                              ends_when_idle=folder != main)  # fmt: skip
            self._feeds[folder] = feed
        return feed

    def leave(self, viewer: Viewer) -> None:
        for feed in self._feeds.values():
            feed.leave(viewer)

    def _evict_idle(self) -> None:
        """Forget feeds that ended (nobody watched for ``linger_s``)."""
        for folder, feed in list(self._feeds.items()):
            if feed.task is not None and feed.task.done() and not feed.viewers:
                del self._feeds[folder]

    def __len__(self) -> int:
        return len(self._feeds)

    def viewers(self, camera_id: UUID, kind: LiveStreamKind = LiveStreamKind.MAIN) -> int:
        folder = ring_dir(self._root, camera_id, kind)
        feed = self._feeds.get(folder)
        return len(feed.viewers) if feed else 0

    async def close(self) -> None:
        for feed in self._feeds.values():
            if feed.task is not None:
                feed.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await feed.task
