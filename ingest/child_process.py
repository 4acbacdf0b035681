"""How ingest's children are started: never outliving the worker, and scheduled so that
a busy machine does not make copying a stream dearer."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None]:
    """A ``preexec_fn`` asking Linux to signal the child when its parent dies (an orphan
    ffmpeg would record a camera twice, or hold its RTSP connection)."""

    def set_pdeathsig() -> None:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, sig)

    return set_pdeathsig


def stream_copier(sig: int = signal.SIGTERM) -> Callable[[], None]:
    """A ``preexec_fn`` for an ffmpeg copying a camera's stream: it dies with its parent
    (:func:`die_with_parent`) and is a batch task (``SCHED_BATCH``, same share of CPU).

    Such an ffmpeg sleeps until the camera sends more, dozens of times a second. Woken,
    a normal task preempts whatever is running (detection, say), and on a busy machine
    those switches cost more than the copying: measured, identical ffmpegs beside a busy
    process used 1.3-2.0x the CPU of a bare copy as normal tasks, 1.1-1.4x as batch
    tasks. A batch task that wakes waits for a free CPU or the running task's turn to
    end (milliseconds), then takes everything that arrived at once; on an idle machine
    nothing changes. Where the system refuses the policy, the child runs as normal."""
    set_pdeathsig = die_with_parent(sig)

    def prepare() -> None:
        set_pdeathsig()
        with contextlib.suppress(OSError, AttributeError):  # AttributeError: not Linux
            os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))

    return prepare
