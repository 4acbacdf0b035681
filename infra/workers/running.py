"""What every worker process needs: a stop event set by SIGTERM/SIGINT, and a consumer
name unique to the process."""

from __future__ import annotations

import os
import signal
import socket
import threading


def stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def consumer_name(worker: str) -> str:
    return f"{worker}@{socket.gethostname()}:{os.getpid()}"
