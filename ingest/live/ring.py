"""Following a camera's live ring: ffmpeg's third output, read as it is written.

ffmpeg writes the camera's stream a second time as fragmented MP4 with one fragment per
frame into a ring of ``RING_FILES`` files (``live0.mp4`` ...; a new one at the first
keyframe after ``RING_SECONDS``, the oldest overwritten), so a reader that follows the
newest file sees each frame the moment it is written, and the ring never grows. Each
file starts with its own init segment and the timestamps run on from file to file (a
new ffmpeg run starts them again, which :class:`~ingest.live.gop.LiveState` notices).

:class:`RingFollower` is the I/O: it keeps the newest file open, reads what was added
since the last call, and moves to a newer file when the current one stops growing.
"""

from __future__ import annotations

import os
from pathlib import Path

from ingest.live.fmp4 import Piece, StreamParser

RING_FILES = 3
RING_SECONDS = 10
RING_PATTERN = "live%d.mp4"


def ring_files(folder: Path) -> list[Path]:
    return [folder / (RING_PATTERN % i) for i in range(RING_FILES)]


def newest(folder: Path) -> tuple[Path, os.stat_result] | None:
    """The ring file written last (None: no live output yet)."""
    found = []
    for path in ring_files(folder):
        try:
            found.append((path, path.stat()))
        except OSError:
            continue
    return max(found, key=lambda f: f[1].st_mtime_ns) if found else None


class RingFollower:
    """Reads the newest ring file as it grows, as :data:`Piece` s."""

    def __init__(self, folder: Path, chunk: int = 1 << 20) -> None:
        self.folder = folder
        self._chunk = chunk
        self._file: int | None = None
        self._identity: tuple[Path, int] | None = None  # (path, inode): a new run's file
        self._offset = 0
        self._parser = StreamParser()

    def read(self) -> list[Piece]:
        """What was written since the last call (nothing when nothing was)."""
        if self._file is None and not self._open_newest():
            return []
        pieces = self._read_new()
        if pieces:
            return pieces
        if self._truncated() or self._newer_exists():
            self._open_newest()
            return self._read_new()
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
            pieces += self._parser.feed(data)

    def _open_newest(self) -> bool:
        self.close()
        found = newest(self.folder)
        if found is None:
            return False
        try:
            self._file = os.open(found[0], os.O_RDONLY)
            found = (found[0], os.fstat(self._file))
        except OSError:
            self.close()
            return False
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
