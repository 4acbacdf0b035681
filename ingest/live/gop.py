"""What a live stream's newest viewer needs, and when viewers must start again (pure).

A player can start only at an init segment followed by a keyframe. :class:`LiveState`
keeps the init segment and the fragments since the last keyframe (the current group of
pictures), so a new viewer gets a picture at once and then jumps to the live edge. It
also says when the stream started again: a new init segment that differs from the one
viewers have, or video whose decode time goes backwards (a new ffmpeg run starts its
timestamps at zero); a player must then be fed from scratch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from ingest.live.fmp4 import Fragment, InitSegment, Piece


class Step(Enum):
    SEND = "send"  # pass the piece to every viewer
    SKIP = "skip"  # nothing new (the same init segment again, at a ring file's start)
    RESTART = "restart"  # viewers must start again from ``start()``


@dataclass(slots=True)
class LiveState:
    max_gop_fragments: int = 2000
    """Beyond this many fragments without a keyframe the oldest are dropped (a new viewer
    then waits for the next keyframe)."""
    init: InitSegment | None = None
    gop: list[Fragment] = field(default_factory=list)
    last_decode_time: int | None = None

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
            self.gop = [piece] if piece.keyframe else []
            return Step.RESTART
        if piece.keyframe:
            self.gop = [piece]
        elif self.gop:
            self.gop.append(piece)
            if len(self.gop) > self.max_gop_fragments:
                self.gop = []
        return Step.SEND

    def _add_init(self, init: InitSegment) -> Step:
        if self.init is not None and init.data == self.init.data:
            return Step.SKIP
        first = self.init is None
        self.init, self.gop, self.last_decode_time = init, [], None
        return Step.SEND if first else Step.RESTART

    def start(self) -> list[Piece]:
        """What a new viewer is sent first: the init segment and the current GOP (nothing
        until both are there)."""
        if self.init is None or not self.gop:
            return []
        return [self.init, *self.gop]
