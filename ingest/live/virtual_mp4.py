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
from dataclasses import dataclass, field
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


@dataclass(frozen=True, slots=True)
class Layout:
    parts: tuple[Part, ...]
    size: int = field(init=False)
    origin: datetime | None = None
    """The wall-clock time of media time zero (the first frame)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "size", sum(_length(p) for p in self.parts))

    def slices(self, start: int, end: int) -> list[Part]:
        """What makes bytes ``[start, end)`` of the file."""
        out: list[Part] = []
        at = 0
        for part in self.parts:
            length = _length(part)
            lo, hi = max(start, at), min(end, at + length)
            if lo < hi:
                if isinstance(part, bytes):
                    out.append(part[lo - at : hi - at])
                else:
                    out.append((part[0], part[1] + lo - at, hi - lo))
            at += length
            if at >= end:
                break
        return out


def _length(part: Part) -> int:
    return len(part) if isinstance(part, bytes) else part[2]


def plan_range(sources: list[Source], start: datetime, end: datetime) -> Layout | None:
    """The layout of ``[start, end)`` from recordings in time order: from the keyframe
    at or before ``start`` to the last fragment that begins before ``end``; every
    recording must share the first one's init segment (the range ends where one does
    not). None: nothing recorded in the range."""
    first = next((s for s in sources if s.index.fragments), None)
    if first is None:
        return None
    span = (end - start).total_seconds()
    timeline: list[tuple[Source, IndexedFragment, float, float]] = []  # (.., begins, ends)
    for source in sources:
        if source.index.init.data != first.index.init.data:
            break
        video = source.index.init.video
        assert video is not None
        zero = source.index.fragments[0].decode_time if source.index.fragments else 0
        base = (source.start - start).total_seconds()
        for item in source.index.fragments:
            at = base + (item.decode_time - zero) / video.timescale
            if at >= span:
                break
            timeline.append((source, item, at, at + item.duration / video.timescale))
    inside = next((n for n, t in enumerate(timeline) if t[3] > 0), None)
    if inside is None:
        return None
    begin, recording = inside, timeline[inside][0]  # back to the keyframe it needs
    while not timeline[begin][1].keyframe and begin > 0 and timeline[begin - 1][0] is recording:
        begin -= 1
    chosen = [(source, item, at) for source, item, at, _ in timeline[begin:]]
    origin_at = chosen[0][2]
    parts: list[Part] = [first.index.init.data]
    keyframes: list[tuple[int, int]] = []  # (media time, moof offset)
    offset = len(first.index.init.data)
    for source, item, at in chosen:
        shifts = _shifts(source, item, at - origin_at)
        moof = shift_decode_times(item.moof, shifts)
        video = source.index.init.video
        assert video is not None
        if item.keyframe:
            keyframes.append((round((at - origin_at) * video.timescale), offset))
        parts += [moof, (source.index.path, item.mdat_offset, item.mdat_size)]
        offset += len(moof) + item.mdat_size
    assert first.index.init.video is not None
    parts.append(_mfra(first.index.init.video.track_id, keyframes))
    return Layout(tuple(parts), start + timedelta(seconds=origin_at))


def _shifts(source: Source, item: IndexedFragment, media_s: float) -> dict[int, int]:
    """Per track: what moves this fragment's decode times to ``media_s`` (video) and the
    same instant in each other track's timescale."""
    video = source.index.init.video
    assert video is not None
    moved = round(media_s * video.timescale) - item.decode_time
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
