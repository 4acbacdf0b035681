"""The ``ingest`` worker: records every camera (one ffmpeg each), see ``ingest.worker``."""

from __future__ import annotations

import redis

from events.store import RedisEventStore
from infra.settings import Settings
from infra.workers.running import stop_on_signals
from ingest.camera_config.credentials import CredentialCipher
from ingest.recorder import RecorderSettings
from ingest.segment_store import SegmentStore
from ingest.worker import IngestWorker, PostgresCameraCatalog
from projector.postgres import TableChanges, reconnecting_connection
from projector.readmodels.cameras import CHANGES_CHANNEL


def run_ingest(settings: Settings, name: str = "ingest") -> None:
    redis_url, database_url = settings.require_urls()
    # short timeouts: a hung Redis must not hold up closing segments for long
    client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
    store = RedisEventStore(client)
    cipher = CredentialCipher(settings.encryption_key_value())
    worker = IngestWorker(
        name=name,
        catalog=PostgresCameraCatalog(
            reconnecting_connection(database_url),
            cipher,
            TableChanges(database_url, CHANGES_CHANNEL),
        ),
        store=SegmentStore(settings.recordings_root, store.append_once, store.was_appended),
        settings=RecorderSettings(
            log_dir=settings.log_dir / "cameras",
            segment_seconds=settings.segment_seconds,
            stall_s=settings.ingest_stall_s,
            streams_root=settings.streams_root,
        ),
        client=store.client,
        emit=store.append,
        heartbeat_file=settings.heartbeat_file,
    )
    worker.run(stop_on_signals())
