"""The HLS fallback's playlist, made from the live stream's recent groups of pictures
(pure): one media segment per group (``seg{sequence}.m4s``), its init segment named by
a checksum of its bytes (``init{crc32}.mp4``: the same name while it is the same), a
discontinuity where the stream started again (a new ffmpeg run), HLS version 7
(fragmented MP4)."""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Sequence

from ingest.live.fmp4 import InitSegment
from ingest.live.gop import Gop

WINDOW = 6
"""Media segments in the playlist: a player starts three from the end."""


def segment_name(gop: Gop) -> str:
    return f"seg{gop.sequence:08d}.m4s"


def init_name(init: InitSegment) -> str:
    return f"init{zlib.crc32(init.data):08x}.mp4"


def find_init(name: str, inits: Iterable[InitSegment]) -> InitSegment | None:
    return next((i for i in inits if init_name(i) == name), None)


def playlist(recent: Sequence[Gop], window: int = WINDOW) -> str | None:
    """The playlist text (None: no complete group of pictures yet)."""
    shown = list(recent)[-window:]
    if not shown:
        return None
    target = max(1, math.ceil(max(g.duration_s for g in shown)))
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:7",
        f"#EXT-X-TARGETDURATION:{target}",
        f"#EXT-X-MEDIA-SEQUENCE:{shown[0].sequence}",
        f"#EXT-X-DISCONTINUITY-SEQUENCE:{shown[0].epoch}",
        "#EXT-X-INDEPENDENT-SEGMENTS",
    ]
    previous: Gop | None = None
    for gop in shown:
        if previous is not None and gop.epoch != previous.epoch:
            lines.append("#EXT-X-DISCONTINUITY")
        if previous is None or gop.init.data != previous.init.data:
            lines.append(f'#EXT-X-MAP:URI="{init_name(gop.init)}"')
        lines += [f"#EXTINF:{gop.duration_s:.3f},", segment_name(gop)]
        previous = gop
    return "\n".join(lines) + "\n"
