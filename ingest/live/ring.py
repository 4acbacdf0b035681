"""Following a camera's live ring: ffmpeg's third output, read as it is written.

ffmpeg writes the camera's stream a second time as fragmented MP4 with one fragment per
frame into a ring of ``RING_FILES`` files (``live0.mp4`` ...; a new one at the first
keyframe after ``RING_SECONDS``, the oldest overwritten), so a reader that follows the
newest file sees each frame the moment it is written, and the ring never grows.

Each file starts with its own init segment, and ffmpeg starts each file's decode times
at zero. A player needs one timeline, so the follower moves every later file's decode
times on to where the stream had reached (:class:`Rebase`, pure: the next file, or a
new ffmpeg run's, continues the same timeline; a player sees a continuous stream).

:class:`RingFollower` is the I/O: it keeps the newest file open, reads what was added
since the last call, and moves to a newer file once it has read the current one to its
end.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import stat
import time
from enum import StrEnum
from pathlib import Path
from uuid import UUID

from ingest.live.fmp4 import Fragment, InitSegment, Piece, StreamParser, shift_decode_times

RING_FILES = 3
RING_SECONDS = 10
RING_PATTERN = "live%d.mp4"


STREAMS_DIR = ".streams"
"""The folder under the storage root that holds every camera's live rings when the
machine has no shared memory (:func:`default_streams_root`)."""
MEMORY_DIR = Path("/dev/shm")
FRESH_S = 5.0
"""A ring whose newest file was written within this long is running."""


class LiveStreamKind(StrEnum):
    """Which of a camera's streams: ``main`` (recorded; the enlarged view) or ``sub``
    (its low-resolution second stream, when it has one: the grid and live detection)."""

    MAIN = "main"
    SUB = "sub"


MEMORY_LEAST_BYTES = 256 << 20
"""Shared memory smaller than this (a container's default ``/dev/shm`` is 64 MB) would
be filled by a few cameras' rings (live view gone, recording unharmed): the rings then
go beside the recordings."""


def default_streams_root(
    recordings_root: Path, memory: Path = MEMORY_DIR, least_bytes: int = MEMORY_LEAST_BYTES
) -> Path:
    """Where the live rings go unless ``LIVE_DIR`` says: in memory when the machine has
    a writable ``/dev/shm`` (a folder named after the recordings folder, so that two
    installations on one machine stay apart), else beside the recordings.

    A ring is rewritten every few seconds and never kept: on disk it doubled what each
    camera writes (the kernel writes the ring back before it is overwritten); in memory
    it costs no disk writes and no journal work. It takes about ``RING_FILES`` x
    ``RING_SECONDS`` of each stream's bitrate (15 MB for a 4 Mbit/s camera).

    The folder is made here, readable by this user only (rings are live video, and
    ``/dev/shm`` is open to every user); one that another user made first, or a link,
    is never used: the rings then go beside the recordings. So they do when the shared
    memory is smaller than ``least_bytes``.
    """
    if _usable(memory, least_bytes):
        digest = hashlib.sha256(str(recordings_root).encode()).hexdigest()[:12]
        candidate = memory / f"ronin-{digest}"
        if private_folder(candidate):
            return candidate
    return recordings_root / STREAMS_DIR


def _usable(memory: Path, least_bytes: int) -> bool:
    try:
        big_enough = shutil.disk_usage(memory).total >= least_bytes
    except OSError:
        return False
    return big_enough and memory.is_dir() and os.access(memory, os.W_OK | os.X_OK)


def private_folder(path: Path) -> bool:
    """Make ``path`` a folder that only this user may open; False when it cannot be one
    (it is a link, or another user's folder, which in a world-writable place it may be)."""
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        info = path.lstat()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
            return False
        if stat.S_IMODE(info.st_mode) & 0o077:
            path.chmod(0o700)
        return True
    except OSError:
        return False


def ring_dir(streams_root: Path, camera_id: UUID, kind: LiveStreamKind) -> Path:
    """Where a camera's ring of that stream lies (``{root}/{id}``, ``{root}/{id}.sub``:
    siblings, so that a new main run, which empties its folder, leaves the sub ring)."""
    name = str(camera_id) if kind is LiveStreamKind.MAIN else f"{camera_id}.sub"
    return streams_root / name


def running(folder: Path, now: float | None = None) -> bool:
    """Whether a ring is being written (its newest file changed within ``FRESH_S``)."""
    found = newest(folder)
    wall = time.time() if now is None else now
    return found is not None and wall - found[1].st_mtime < FRESH_S


def ring_to_read(streams_root: Path, camera_id: UUID, kind: LiveStreamKind) -> Path:
    """The ring a reader of ``kind`` follows: the sub ring while it runs, else the main
    one (a camera without a sub-stream, or whose sub-stream is down, shows its main)."""
    if kind is LiveStreamKind.SUB:
        sub = ring_dir(streams_root, camera_id, LiveStreamKind.SUB)
        if running(sub):
            return sub
    return ring_dir(streams_root, camera_id, LiveStreamKind.MAIN)


def ring_files(folder: Path) -> list[Path]:
    return [folder / (RING_PATTERN % i) for i in range(RING_FILES)]


def by_age(folder: Path) -> list[tuple[Path, os.stat_result]]:
    """The ring's files, the one written last first."""
    found = []
    for path in ring_files(folder):
        try:
            found.append((path, path.stat()))
        except OSError:
            continue
    return sorted(found, key=lambda f: f[1].st_mtime_ns, reverse=True)


def newest(folder: Path) -> tuple[Path, os.stat_result] | None:
    """The ring file written last (None: no live output yet)."""
    files = by_age(folder)
    return files[0] if files else None


class Rebase:
    """Keeps one timeline across ring files: the first video fragment of each new file
    is moved to where the previous one ended, every track by the same time."""

    def __init__(self) -> None:
        self._init: InitSegment | None = None
        self._shift: dict[int, int] = {}
        self._video_shift = 0
        self._reached: int | None = None  # the video's end so far, on the one timeline
        self._new_file = False

    def next_file(self) -> None:
        self._new_file = True

    def apply(self, piece: Piece) -> Piece:
        if isinstance(piece, InitSegment):
            self._init = piece
            return piece
        video = self._init.video if self._init else None
        if piece.decode_time is None or video is None:
            return self._shifted(piece)
        if self._new_file and self._reached is not None:
            self._video_shift = self._reached - piece.decode_time
            self._shift = {
                t.track_id: round(self._video_shift * t.timescale / video.timescale)
                for t in (self._init.tracks if self._init else ())
            }
        self._new_file = False
        shifted = self._shifted(piece)
        assert shifted.decode_time is not None
        self._reached = shifted.decode_time + shifted.duration
        return shifted

    def _shifted(self, piece: Fragment) -> Fragment:
        if not any(self._shift.values()):
            return piece
        data = shift_decode_times(piece.data, self._shift)
        time = None if piece.decode_time is None else piece.decode_time + self._video_shift
        return dataclasses.replace(piece, data=data, decode_time=time)


class RingFollower:
    """Reads the newest ring file as it grows, as :data:`Piece` s."""

    def __init__(self, folder: Path, chunk: int = 1 << 20) -> None:
        self.folder = folder
        self._chunk = chunk
        self._file: int | None = None
        self._identity: tuple[Path, int] | None = None  # (path, inode): a new run's file
        self._offset = 0
        self._parser = StreamParser()
        self._rebase = Rebase()

    def read(self) -> list[Piece]:
        """What was written since the last call (nothing when nothing was)."""
        if self._file is None and not self._open_newest():
            return []
        pieces = self._read_new()
        if pieces:
            return pieces
        if self._truncated():
            self._open_newest()
            return self._read_new()
        if self._newer_exists():
            rest = self._read_new()  # what was written between the last read and now
            self._open_newest()
            return rest + self._read_new()
        return []

    def close(self) -> None:
        if self._file is not None:
            os.close(self._file)
            self._file = None

    def _read_new(self) -> list[Piece]:
        assert self._file is not None
        pieces: list[Piece] = []
        while True:
            data = os.pread(self._file, self._chunk, self._offset)
            if not data:
                return pieces
            self._offset += len(data)
            pieces += [self._rebase.apply(p) for p in self._parser.feed(data)]

    def _open_newest(self) -> bool:
        """The newest file; the first time, the one before it, if any, so that a new
        reader starts with a full ring file's groups of pictures, not a file just begun
        (it moves on to the newest at the next read)."""
        self.close()
        files = by_age(self.folder)
        if not files:
            return False
        found = files[1] if self._identity is None and len(files) > 1 else files[0]
        try:
            self._file = os.open(found[0], os.O_RDONLY)
            found = (found[0], os.fstat(self._file))
        except OSError:
            self.close()
            return False
        if self._identity is not None:
            self._rebase.next_file()
        self._identity = (found[0], found[1].st_ino)
        self._offset, self._parser = 0, StreamParser()
        return True

    def _truncated(self) -> bool:
        """The file was started again (the ring came round to it, or a new run)."""
        assert self._file is not None
        return os.fstat(self._file).st_size < self._offset

    def _newer_exists(self) -> bool:
        found = newest(self.folder)
        return found is not None and (found[0], found[1].st_ino) != self._identity
