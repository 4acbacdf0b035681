"""Children that must not outlive the process that started them."""

from __future__ import annotations

import ctypes
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
