"""What the live stream looks like now, for its players (pure).

A player can start only at an init segment followed by a keyframe. :class:`LiveState`
keeps, from the pieces of the live ring as they are written:

- the init segment and the fragments since the last keyframe (the group of pictures
  being written), so that a new WebSocket viewer gets a picture at once and then jumps
  to the live edge;
- the last few *complete* groups of pictures, numbered, each with its init segment and
  duration: the HLS fallback lists them as its media segments, and live detection
  decodes the newest.

It also says when the stream started again: a new init segment that differs from the
one viewers have, or video whose decode time goes backwards (a new ffmpeg run starts
its timestamps at zero). Players must then be fed from scratch, and HLS marks a
discontinuity (each group carries its ``epoch``, the number of restarts before it).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum

from ingest.live.fmp4 import Fragment, InitSegment, Piece


class Step(Enum):
    SEND = "send"  # pass the piece to every viewer
    SKIP = "skip"  # nothing new (the same init segment again, at a ring file's start)
    RESTART = "restart"  # viewers must start again from ``start()``


@dataclass(frozen=True, slots=True)
class Gop:
    """A complete group of pictures: a keyframe's fragment and those up to the next."""

    sequence: int
    epoch: int
    init: InitSegment
    fragments: tuple[Fragment, ...]
    duration_s: float

    @property
    def data(self) -> bytes:
        return b"".join(f.data for f in self.fragments)


class LiveState:
    def __init__(self, keep_gops: int = 8, max_gop_fragments: int = 2000) -> None:
        self.init: InitSegment | None = None
        self.gop: list[Fragment] = []
        """The group of pictures being written (empty until a keyframe)."""
        self.recent: deque[Gop] = deque(maxlen=keep_gops)
        self.last_decode_time: int | None = None
        self._max_gop_fragments = max_gop_fragments
        self._sequence = 0
        self._epoch = 0

    def add(self, piece: Piece) -> Step:
        if isinstance(piece, InitSegment):
            return self._add_init(piece)
        if self.init is None:
            return Step.SKIP
        restarted = (
            piece.decode_time is not None
            and self.last_decode_time is not None
            and piece.decode_time < self.last_decode_time
        )
        if piece.decode_time is not None:
            self.last_decode_time = piece.decode_time
        if restarted:
            self._epoch += 1
            self.gop = [piece] if piece.keyframe else []
            return Step.RESTART
        if piece.keyframe:
            self._complete()
            self.gop = [piece]
        elif self.gop:
            self.gop.append(piece)
            if len(self.gop) > self._max_gop_fragments:
                self.gop = []
        return Step.SEND

    def _add_init(self, init: InitSegment) -> Step:
        if self.init is not None and init.data == self.init.data:
            return Step.SKIP
        first = self.init is None
        if not first:
            self._epoch += 1
        self.init, self.gop, self.last_decode_time = init, [], None
        return Step.SEND if first else Step.RESTART

    def _complete(self) -> None:
        if not self.gop or self.init is None:
            return
        timescale = self.init.video.timescale if self.init.video else 0
        duration = sum(f.duration for f in self.gop) / timescale if timescale else 0.0
        self.recent.append(Gop(self._sequence, self._epoch, self.init, tuple(self.gop), duration))
        self._sequence += 1

    def start(self) -> list[Piece]:
        """What a new viewer is sent first: the init segment and the current GOP (nothing
        until both are there)."""
        if self.init is None or not self.gop:
            return []
        return [self.init, *self.gop]

    def newest(self) -> Gop | None:
        return self.recent[-1] if self.recent else None

    def find(self, sequence: int) -> Gop | None:
        return next((g for g in self.recent if g.sequence == sequence), None)
