"""Any range of recordings as one MP4 that is never written: a layout of byte ranges.

Recordings are fragmented MP4 (an init segment, then ``moof`` + ``mdat`` fragments, each
beginning at a keyframe or every half second). A range of footage across segment files
is therefore the first file's init segment followed by the chosen fragments of each file,
with each ``moof``'s decode times (``tfdt``) moved so that media time is wall-clock time
since the first frame (a gap in the recording is a gap in media time), and a ``mfra``
index at the end listing each keyframe fragment, so a ``<video>`` seeks without reading
the whole file. Only the ``moof`` boxes (a few hundred bytes each) are held in memory;
every ``mdat`` is served straight from its segment file.

:func:`index_file` is the I/O (it reads box headers and ``moof`` boxes, skipping the
media); :func:`plan_range` and :class:`Layout` are pure.
"""

from __future__ import annotations

import struct
from array import array
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from ingest.live.fmp4 import InitSegment, fragment, init_segment, shift_decode_times


@dataclass(frozen=True, slots=True)
class IndexedFragment:
    moof: bytes
    mdat_offset: int
    mdat_size: int
    decode_time: int  # the video's, in the video timescale
    duration: int
    keyframe: bool


@dataclass(frozen=True, slots=True)
class FileIndex:
    path: Path
    init: InitSegment
    fragments: tuple[IndexedFragment, ...]


def index_file(path: Path) -> FileIndex | None:
    """The init segment and complete video fragments of a recording (None: no init
    segment yet, or no video). A fragment still being written is left out."""
    head: list[bytes] = []
    init: InitSegment | None = None
    fragments: list[IndexedFragment] = []
    moof: bytes | None = None
    with path.open("rb") as file:
        size = file.seek(0, 2)
        at = 0
        while at + 8 <= size:
            file.seek(at)
            header = file.read(16)
            length, kind = struct.unpack_from(">I4s", header)
            start = 8
            if length == 1:
                length, start = struct.unpack_from(">Q", header, 8)[0], 16
            if length < start or at + length > size:
                break
            if kind in (b"ftyp", b"moov", b"moof"):
                file.seek(at)
                box = file.read(length)
                if kind == b"ftyp":
                    head = [box]
                elif kind == b"moov":
                    init = init_segment(b"".join(head) + box)
                else:
                    moof = box
            elif kind == b"mdat" and moof is not None and init is not None and init.video:
                piece = fragment(moof, init.video)
                if piece.decode_time is not None:
                    fragments.append(IndexedFragment(
                        moof, at, length, piece.decode_time, piece.duration, piece.keyframe,
                    ))  # fmt: skip
                moof = None
            at += length
    if init is None or init.video is None:
        return None
    return FileIndex(path, init, tuple(fragments))


@dataclass(frozen=True, slots=True)
class Source:
    """A recording and the wall-clock time of its first frame."""

    index: FileIndex
    start: datetime


Part = bytes | tuple[Path, int, int]
"""Bytes to send, or (file, offset, length) to read."""


class Layout:
    """Where each byte of the virtual file comes from, held compactly: per fragment its
    recording, its place in that recording's index, how far its decode times move and
    where its ``moof`` begins in the file (a day is about 170,000 fragments: a few MB
    here, and no ``moof`` copied). :meth:`slices` rewrites only the ``moof`` boxes of
    the bytes asked for, as they are sent."""

    __slots__ = ("_head", "_items", "_moved", "_offsets", "_sources", "_tail", "_which",
                 "origin", "size")  # fmt: skip

    def __init__(
        self, head: bytes, sources: tuple[Source, ...], picks: list[tuple[int, int, int]],
        tail: bytes, origin: datetime | None = None,
    ) -> None:  # fmt: skip
        """``picks``: (recording, fragment, video ticks moved) in file order."""
        self._head, self._sources, self._tail = head, sources, tail
        self._which = array("H", (p[0] for p in picks))
        self._items = array("I", (p[1] for p in picks))
        self._moved = array("q", (p[2] for p in picks))
        self._offsets = array("q", [len(head)])
        for which, item, _ in picks:
            fragment = sources[which].index.fragments[item]
            self._offsets.append(self._offsets[-1] + len(fragment.moof) + fragment.mdat_size)
        self.origin = origin
        """The wall-clock time of media time zero (the first frame)."""
        self.size = self._offsets[-1] + len(tail)

    def slices(self, start: int, end: int) -> Iterator[Part]:
        """What makes bytes ``[start, end)`` of the file, in order."""
        yield from _cut(self._head, 0, start, end)
        first = max(0, bisect_right(self._offsets, start) - 1)
        for k in range(first, len(self._which)):
            at = self._offsets[k]
            if at >= end:
                break
            source = self._sources[self._which[k]]
            item = source.index.fragments[self._items[k]]
            moof_end = at + len(item.moof)
            if start < moof_end:
                moof = shift_decode_times(item.moof, _shifts(source, self._moved[k]))
                yield from _cut(moof, at, start, end)
            lo, hi = max(start, moof_end), min(end, moof_end + item.mdat_size)
            if lo < hi:
                yield (source.index.path, item.mdat_offset + lo - moof_end, hi - lo)
        yield from _cut(self._tail, self._offsets[-1], start, end)


def _cut(data: bytes, at: int, start: int, end: int) -> Iterator[bytes]:
    """The part of ``data`` (placed at ``at``) inside ``[start, end)``, if any."""
    lo, hi = max(start, at), min(end, at + len(data))
    if lo < hi:
        yield data[lo - at : hi - at]


def plan_range(sources: list[Source], start: datetime, end: datetime) -> Layout | None:
    """The layout of ``[start, end)`` from recordings in time order: from the keyframe
    at or before ``start`` to the last fragment that begins before ``end``; every
    recording must share the first one's init segment (the range ends where one does
    not). None: nothing recorded in the range."""
    first = next((s for s in sources if s.index.fragments), None)
    if first is None:
        return None
    span = (end - start).total_seconds()
    timeline: list[tuple[int, int, float, float]] = []  # (recording, fragment, begins, ends)
    for n, source in enumerate(sources):
        if source.index.init.data != first.index.init.data:
            break
        video = source.index.init.video
        assert video is not None
        zero = source.index.fragments[0].decode_time if source.index.fragments else 0
        base = (source.start - start).total_seconds()
        for k, item in enumerate(source.index.fragments):
            at = base + (item.decode_time - zero) / video.timescale
            if at >= span:
                break
            timeline.append((n, k, at, at + item.duration / video.timescale))
    inside = next((n for n, t in enumerate(timeline) if t[3] > 0), None)
    if inside is None:
        return None
    begin, recording = inside, timeline[inside][0]  # back to the keyframe it needs
    while (not sources[recording].index.fragments[timeline[begin][1]].keyframe and begin > 0
           and timeline[begin - 1][0] == recording):  # fmt: skip
        begin -= 1
    origin_at = timeline[begin][2]
    picks: list[tuple[int, int, int]] = []
    keyframes: list[tuple[int, int]] = []  # (media time, moof offset)
    offset = len(first.index.init.data)
    assert first.index.init.video is not None
    timescale = first.index.init.video.timescale
    for which, k, at, _ in timeline[begin:]:
        item = sources[which].index.fragments[k]
        media = round((at - origin_at) * timescale)
        if item.keyframe:
            keyframes.append((media, offset))
        picks.append((which, k, media - item.decode_time))
        offset += len(item.moof) + item.mdat_size
    tail = _mfra(first.index.init.video.track_id, keyframes)
    return Layout(first.index.init.data, tuple(sources), picks, tail,
                  start + timedelta(seconds=origin_at))  # fmt: skip


def _shifts(source: Source, moved: int) -> dict[int, int]:
    """Per track: what moves a fragment's decode times by ``moved`` video ticks (the
    same instant in each other track's timescale)."""
    video = source.index.init.video
    assert video is not None
    return {
        t.track_id: round(moved * t.timescale / video.timescale) for t in source.index.init.tracks
    }


def _mfra(track_id: int, keyframes: list[tuple[int, int]]) -> bytes:
    """A movie fragment random access box: where each keyframe's fragment begins."""
    entries = b"".join(struct.pack(">QQBBB", time, offset, 1, 1, 1) for time, offset in keyframes)
    body = struct.pack(">B3sII", 1, b"\0\0\0", track_id, 0) + struct.pack(">I", len(keyframes))
    tfra = _box(b"tfra", body + entries)
    mfro_size = 16
    size = 8 + len(tfra) + mfro_size
    mfro = _box(b"mfro", struct.pack(">I", 0) + struct.pack(">I", size))
    return _box(b"mfra", tfra + mfro)


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload
