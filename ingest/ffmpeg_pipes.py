"""ffmpeg's output pipes, read without threads: one ``poll`` waits on every camera's.

Each recorder's ffmpeg writes its progress to stdout (a dozen lines a second) and its
log to stderr (a few lines a second). A reader thread per pipe woke the process for
every write, and each wake-up of a sleeping process costs more CPU than reading the
lines. Instead both pipes are non-blocking and read at the worker's ticks; between
ticks one ``poll`` waits on every camera's pipes for what cannot wait: a hang-up (an
ffmpeg exited: restart it at once). (A run's first progress report fixes its wall-clock
anchor, "now minus the media time", so the recorder reads that one in a short-lived
thread of the run's, the moment it is written.) The pipes are enlarged so that a
chatty ffmpeg never blocks on its log while a tick is late.

:class:`LineBuffer` and :func:`latest_out_time_us` are pure; :class:`PipeReader` and
:func:`wait_readable` are the I/O.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import select
import time
from collections.abc import Mapping
from typing import IO

_CHUNK = 65536
_PIPE_BYTES = 1 << 20  # Linux's limit for unprivileged processes (fs.pipe-max-size)


class LineBuffer:
    """Bytes in, complete lines out; an unfinished last line waits for the next feed."""

    def __init__(self) -> None:
        self._partial = b""

    def feed(self, data: bytes) -> list[bytes]:
        if not data:
            return []
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        return lines

    def rest(self) -> list[bytes]:
        """At the end of the stream: the unfinished line, if any."""
        rest, self._partial = self._partial, b""
        return [rest] if rest else []


def latest_out_time_us(lines: list[bytes]) -> int | None:
    """The newest ``out_time_us`` in a batch of ffmpeg ``-progress`` lines (None if none
    is there, or ffmpeg has no time yet: it prints ``N/A`` or a negative value)."""
    for line in reversed(lines):
        if line.startswith(b"out_time_us="):
            value = line[12:].strip()
            if value.isdigit():
                return int(value)
    return None


class PipeReader:
    """Non-blocking reads of one pipe, split into lines. ``at_end`` once the writer
    closed it (ffmpeg exited)."""

    def __init__(self, stream: IO[bytes] | None) -> None:
        self._stream = stream
        self._fd = stream.fileno() if stream is not None else -1
        self._buffer = LineBuffer()
        self.at_end = stream is None
        if stream is not None:
            os.set_blocking(self._fd, False)
            with contextlib.suppress(OSError):  # keeps the default 64 KiB where refused
                fcntl.fcntl(self._fd, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)

    def fileno(self) -> int:
        return self._fd

    def read_lines(self) -> list[bytes]:
        """Every complete line available now, without waiting."""
        if self.at_end:
            return []
        lines: list[bytes] = []
        while True:
            try:
                data = os.read(self._fd, _CHUNK)
            except BlockingIOError:
                return lines
            except OSError:
                data = b""
            if not data:
                lines.extend(self._buffer.rest())
                self.close()
                return lines
            lines.extend(self._buffer.feed(data))
            if len(data) < _CHUNK:
                return lines

    def close(self) -> None:
        self.at_end = True
        if self._stream is not None:
            self._stream.close()
            self._stream = None


def wait_readable(fds: Mapping[int, bool], timeout_s: float) -> set[int]:
    """Wait at most ``timeout_s`` for one of the pipes ``fds`` to hang up (its writer
    closed it) or, where ``fds`` maps it to True, to have data; return those ready."""
    if not fds:
        time.sleep(max(0.0, timeout_s))
        return set()
    poller = select.poll()
    for fd, on_data in fds.items():
        poller.register(fd, select.POLLIN if on_data else 0)  # hang-ups always count
    # rounded up: a wait cut short of the deadline would be followed by a busy loop
    return {fd for fd, _ in poller.poll(max(0, math.ceil(timeout_s * 1000)))}
