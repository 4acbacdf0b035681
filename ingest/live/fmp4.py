"""Fragmented MP4 as a stream of pieces (pure): an init segment, then fragments.

The live output is one fragment per frame (``frag_every_frame``), so a reader that
forwards each fragment as it is written adds no delay of its own. A player needs the
init segment (``ftyp`` + ``moov``) first and must begin at a keyframe, so each fragment
(``moof`` + ``mdat``) is read far enough to say whether its video starts with a sync
sample, at which decode time, and how long its video lasts. The browser needs the
codecs as an RFC 6381 string (``avc1.42c01f,mp4a.40.2``) before it can open a
SourceBuffer: :func:`codecs_of` reads them from the sample descriptions.

Boxes are length-prefixed (ISO/IEC 14496-12): a 32-bit size (1: a 64-bit size follows;
0: to the end of the file, never used by a live writer) and a four-letter type.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

NON_SYNC = 0x0001_0000
"""``sample_is_non_sync_sample`` in the sample flags."""


@dataclass(frozen=True, slots=True)
class Track:
    track_id: int
    handler: str  # "vide", "soun", ...
    timescale: int
    default_flags: int  # from ``trex``
    default_duration: int


@dataclass(frozen=True, slots=True)
class InitSegment:
    data: bytes
    codecs: str
    video: Track | None
    tracks: tuple[Track, ...] = ()

    @property
    def mime(self) -> str:
        return f'video/mp4; codecs="{self.codecs}"'


@dataclass(frozen=True, slots=True)
class Fragment:
    data: bytes
    keyframe: bool
    """The fragment's video begins with a sync sample (a player may start here)."""
    decode_time: int | None
    """Its video's decode time (``tfdt``) in the video timescale; None without video."""
    duration: int
    """How long its video lasts, in the video timescale."""


Piece = InitSegment | Fragment


def boxes(data: bytes) -> Iterator[tuple[str, bytes]]:
    """(type, payload) of each complete box in ``data``; a truncated one ends the walk."""
    at = 0
    while at + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, at)
        header = 8
        if size == 1:
            if at + 16 > len(data):
                return
            size, header = struct.unpack_from(">Q", data, at + 8)[0], 16
        elif size == 0:
            size = len(data) - at
        if size < header or at + size > len(data):
            return
        yield kind.decode("latin-1"), data[at + header : at + size]
        at += size


def child(payload: bytes, kind: str, skip: int = 0) -> bytes | None:
    """The first child box of ``kind`` (children start ``skip`` bytes in)."""
    return next((p for k, p in boxes(payload[skip:]) if k == kind), None)


def children(payload: bytes, kind: str) -> list[bytes]:
    return [p for k, p in boxes(payload) if k == kind]


def _path(payload: bytes | None, *kinds: str) -> bytes | None:
    for kind in kinds:
        if payload is None:
            return None
        payload = child(payload, kind)
    return payload


class BoxSplitter:
    """Bytes in, complete top-level boxes out; a partial box waits for the next feed."""

    def __init__(self, limit: int = 64 << 20) -> None:
        self._pending = bytearray()
        self._limit = limit

    def feed(self, data: bytes) -> list[tuple[str, bytes]]:
        """Complete boxes as (type, whole box with its header)."""
        self._pending += data
        out, at = [], 0
        buffer = self._pending
        while at + 8 <= len(buffer):
            size, kind = struct.unpack_from(">I4s", buffer, at)
            if size == 1:
                if at + 16 > len(buffer):
                    break
                size = struct.unpack_from(">Q", buffer, at + 8)[0]
            if size < 8 or size > self._limit:
                raise ValueError(f"not an MP4 stream: a {kind!r} box of {size} bytes")
            if at + size > len(buffer):
                break
            out.append((kind.decode("latin-1"), bytes(buffer[at : at + size])))
            at += size
        del self._pending[:at]
        return out


class StreamParser:
    """An fMP4 byte stream in, :data:`Piece` s out: each ``ftyp`` + ``moov`` an init
    segment, each ``moof`` with its ``mdat`` a fragment (other boxes are dropped)."""

    def __init__(self) -> None:
        self._splitter = BoxSplitter()
        self._head: list[bytes] = []
        self._moof: bytes | None = None
        self.init: InitSegment | None = None

    def feed(self, data: bytes) -> list[Piece]:
        pieces: list[Piece] = []
        for kind, box in self._splitter.feed(data):
            if kind == "ftyp":
                self._head, self._moof = [box], None
            elif kind == "moov":
                self.init = init_segment(b"".join(self._head) + box)
                pieces.append(self.init)
                self._head = []
            elif kind == "moof":
                self._moof = box
            elif kind == "mdat" and self._moof is not None and self.init is not None:
                pieces.append(fragment(self._moof + box, self.init.video))
                self._moof = None
        return pieces


def init_segment(data: bytes) -> InitSegment:
    moov = next((p for k, p in boxes(data) if k == "moov"), b"")
    defaults = {}
    for trex in children(child(moov, "mvex") or b"", "trex"):
        track_id, _, duration, _, flags = struct.unpack_from(">IIIII", trex, 4)
        defaults[track_id] = (flags, duration)
    tracks, codecs = [], []
    for trak in children(moov, "trak"):
        track = _track(trak, defaults)
        if track is None:
            continue
        tracks.append(track)
        codec = _codec(trak)
        if codec:
            codecs.append(codec)
    video = next((t for t in tracks if t.handler == "vide"), None)
    return InitSegment(data, ",".join(codecs), video, tuple(tracks))


def _track(trak: bytes, defaults: dict[int, tuple[int, int]]) -> Track | None:
    tkhd, mdhd = child(trak, "tkhd"), _path(trak, "mdia", "mdhd")
    hdlr = _path(trak, "mdia", "hdlr")
    if tkhd is None or mdhd is None or hdlr is None:
        return None
    track_id = struct.unpack_from(">I", tkhd, 20 if tkhd[0] == 1 else 12)[0]
    timescale = struct.unpack_from(">I", mdhd, 20 if mdhd[0] == 1 else 12)[0]
    flags, duration = defaults.get(track_id, (0, 0))
    return Track(track_id, hdlr[8:12].decode("latin-1"), timescale, flags, duration)


_SAMPLE_ENTRY_HEADER = {"vide": 78, "soun": 28}
"""Bytes of a visual or audio sample entry before its child boxes."""


def _codec(trak: bytes) -> str | None:
    """The RFC 6381 codec string of a track's first sample description."""
    hdlr = _path(trak, "mdia", "hdlr")
    stsd = _path(trak, "mdia", "minf", "stbl", "stsd")
    if hdlr is None or stsd is None:
        return None
    entry = next(boxes(stsd[8:]), None)  # after version, flags and the entry count
    if entry is None:
        return None
    kind, body = entry
    skip = _SAMPLE_ENTRY_HEADER.get(hdlr[8:12].decode("latin-1"), 0)
    if kind in ("avc1", "avc3"):
        config = child(body, "avcC", skip)
        return f"{kind}.{config[1:4].hex()}" if config and len(config) >= 4 else kind
    if kind in ("hvc1", "hev1"):
        config = child(body, "hvcC", skip)
        return hevc_codec(kind, config) if config and len(config) >= 13 else kind
    if kind == "mp4a":
        return f"mp4a.40.{_aac_object_type(child(body, 'esds', skip) or b'')}"
    if kind == "Opus":
        return "opus"
    return kind


def hevc_codec(kind: str, config: bytes) -> str:
    """``hvc1.1.6.L93.B0``: profile space and idc, compatibility flags (bit-reversed),
    tier and level, then the constraint bytes without trailing zeros."""
    space, tier, idc = config[1] >> 6, (config[1] >> 5) & 1, config[1] & 0x1F
    compatibility = int(f"{int.from_bytes(config[2:6], 'big'):032b}"[::-1], 2)
    constraints = list(config[6:12])
    while constraints and constraints[-1] == 0:
        constraints.pop()
    parts = [kind, f"{'' if space == 0 else 'ABC'[space - 1]}{idc}", f"{compatibility:x}"]
    parts.append(f"{'LH'[tier]}{config[12]}")
    parts += [f"{b:X}" for b in constraints]
    return ".".join(parts)


def _aac_object_type(esds: bytes) -> int:
    """The audio object type in an ``esds``'s AudioSpecificConfig (2, AAC-LC, if unclear)."""
    at = 4  # version and flags
    while at + 2 <= len(esds):
        tag = esds[at]
        at += 1
        size = 0
        for _ in range(4):  # the size: up to four 7-bit groups
            byte = esds[at]
            at += 1
            size = (size << 7) | (byte & 0x7F)
            if not byte & 0x80 or at >= len(esds):
                break
        if tag == 0x03:  # ES descriptor: id, flags, then nested descriptors
            flags = esds[at + 2] if at + 2 < len(esds) else 0
            at += 3 + (2 if flags & 0x80 else 0) + (2 if flags & 0x20 else 0)
        elif tag == 0x04:  # decoder configuration: 13 bytes, then nested descriptors
            at += 13
        elif tag == 0x05:  # decoder-specific info: the AudioSpecificConfig
            return esds[at] >> 3 if at < len(esds) and esds[at] >> 3 else 2
        else:
            at += size
    return 2


def _spans(data: bytes, start: int, end: int) -> Iterator[tuple[str, int, int]]:
    """(type, payload start, box end) of each complete box in ``data[start:end]``."""
    at = start
    while at + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, at)
        header = 8
        if size == 1:
            size, header = struct.unpack_from(">Q", data, at + 8)[0], 16
        if size < header or at + size > end:
            return
        yield kind.decode("latin-1"), at + header, at + size
        at += size


def shift_decode_times(data: bytes, shifts: dict[int, int]) -> bytes:
    """A ``moof`` + ``mdat`` with each track's ``tfdt`` moved on by ``shifts[track_id]``
    (in that track's timescale): the same bytes otherwise, so offsets stay valid."""
    out = bytearray(data)
    for kind, start, end in _spans(data, 0, len(data)):
        if kind != "moof":
            continue
        for traf_kind, traf_start, traf_end in _spans(data, start, end):
            if traf_kind != "traf":
                continue
            inner = {k: s for k, s, _ in _spans(data, traf_start, traf_end)}
            if "tfhd" not in inner or "tfdt" not in inner:
                continue
            shift = shifts.get(struct.unpack_from(">I", data, inner["tfhd"] + 4)[0], 0)
            at = inner["tfdt"]
            if data[at] == 1:
                value = struct.unpack_from(">Q", data, at + 4)[0]
                struct.pack_into(">Q", out, at + 4, max(0, value + shift) % (1 << 64))
            else:
                value = struct.unpack_from(">I", data, at + 4)[0]
                struct.pack_into(">I", out, at + 4, max(0, value + shift) % (1 << 32))
    return bytes(out)


def fragment(data: bytes, video: Track | None) -> Fragment:
    """A ``moof`` + ``mdat`` pair, read for its video's first sample and duration."""
    moof = next((p for k, p in boxes(data) if k == "moof"), b"")
    for traf in children(moof, "traf"):
        tfhd = child(traf, "tfhd")
        if tfhd is None or video is None:
            continue
        flags = int.from_bytes(tfhd[1:4], "big")
        track_id = struct.unpack_from(">I", tfhd, 4)[0]
        if track_id != video.track_id:
            continue
        at = 8 + (8 if flags & 0x01 else 0) + (4 if flags & 0x02 else 0)
        default_duration = video.default_duration
        if flags & 0x08:
            default_duration = struct.unpack_from(">I", tfhd, at)[0]
        at += 4 if flags & 0x08 else 0
        at += 4 if flags & 0x10 else 0
        default_flags = (
            struct.unpack_from(">I", tfhd, at)[0] if flags & 0x20 else video.default_flags
        )
        tfdt = child(traf, "tfdt")
        decode_time = None
        if tfdt is not None:
            decode_time = struct.unpack_from(">Q" if tfdt[0] == 1 else ">I", tfdt, 4)[0]
        first, duration = _run(child(traf, "trun"), default_flags, default_duration)
        return Fragment(data, not first & NON_SYNC, decode_time, duration)
    return Fragment(data, False, None, 0)


def _run(trun: bytes | None, default_flags: int, default_duration: int) -> tuple[int, int]:
    """(the first sample's flags, the run's total duration)."""
    if trun is None:
        return default_flags, 0
    flags = int.from_bytes(trun[1:4], "big")
    count = struct.unpack_from(">I", trun, 4)[0]
    at = 8 + (4 if flags & 0x01 else 0)
    first = None
    if flags & 0x04:
        first = struct.unpack_from(">I", trun, at)[0]
        at += 4
    fields = [bit for bit in (0x100, 0x200, 0x400, 0x800) if flags & bit]
    total = 0
    for index in range(count):
        sample_flags, duration = default_flags, default_duration
        for bit in fields:
            if at + 4 > len(trun):
                break
            value = struct.unpack_from(">I", trun, at)[0]
            at += 4
            if bit == 0x100:
                duration = value
            elif bit == 0x400:
                sample_flags = value
        if index == 0 and first is None:
            first = sample_flags
        total += duration
    return (default_flags if first is None else first), total
