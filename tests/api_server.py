"""The API served by a real uvicorn on loopback (a thread), for what TestClient cannot
show: several WebSockets on one event loop, a fuzzer's real HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from api.server import server_config
from tests.ingest_support import free_port


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """The base URL (``http://127.0.0.1:PORT``) while the app is served."""
    port = free_port()
    server = uvicorn.Server(server_config(app, "127.0.0.1", port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
