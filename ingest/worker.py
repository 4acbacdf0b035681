"""The ingest worker: records every enabled camera it holds the lease for.

Several ingest processes share the cameras through Redis leases
(``ronin:lease:camera:{id}``, a few seconds, renewed at every step): a camera is
recorded by exactly one worker at a time and taken over within seconds when its worker
dies. A worker takes at most its fair share (cameras / live ingest workers, rounded up)
so that a new worker gets cameras too.

Recording never waits on a store. While Redis or PostgreSQL is unreachable, the worker
keeps recording every camera it holds (with the last camera list it read), segments
wait on disk and status events in an outbox. When Redis is back the worker first
re-asserts its leases and takes no new camera for one lease time, so that every other
worker can re-assert its own first: a camera is never recorded by two workers, even
after a Redis that restarted without the leases. A worker restarted under the same name
on the same host holds the same leases, so it records its cameras again at once.

The worker steps every two seconds (more often only when its leases are shorter than
five seconds): each step costs round trips to Redis, and a camera's recorder has nothing
to do between steps. An ffmpeg that exits still wakes the worker at once
(:func:`ingest.recorder.pump_until`), so a restart never waits for a step. The camera
list is read again when the cameras read model announces a change (PostgreSQL
``LISTEN``), and every ``REREAD_EVERY_S`` whatever it says; how many ingest workers
share the cameras is looked at every ``BALANCE_EVERY_S``.
"""

from __future__ import annotations

import logging
import math
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol
from uuid import UUID

import psycopg
import redis

from events.catalogue import Event
from events.errors import ConfigurationError, StoreUnavailable
from events.heartbeat import WorkerHeartbeat, worker_statuses
from events.outbox import Outbox
from events.store import Lease, hold_leases
from ingest.camera_config.credentials import CredentialCipher, with_credentials
from ingest.live.ring import LiveStreamKind, ring_dir
from ingest.recorder import (
    CameraRecorder,
    CameraSource,
    RecorderSettings,
    ffmpeg_logger,
    pump_until,
)
from ingest.segment_store import SegmentStore
from ingest.sub_stream import RelaySettings, SubStreamRelay
from projector.postgres import TableChanges
from projector.readmodels import cameras

log = logging.getLogger(__name__)

RECONNECTS_KEY = "ronin:metrics:reconnects"
"""Per camera id: how many recording runs ended and were started again (a counter that
every ingest worker adds to)."""


BALANCE_EVERY_S = 2.0
"""How often the live ingest workers are counted (cameras handed to a new worker, or
taken from a dead one); leases are renewed at every step."""
REREAD_EVERY_S = 30.0
"""The camera list is read at least this often, announced changes or not."""


class CameraCatalog(Protocol):
    def enabled(self) -> list[CameraSource]: ...

    def changed(self) -> bool:
        """Whether the list may have changed since it was last read (never waits)."""
        ...


class PostgresCameraCatalog:
    """Enabled cameras from the ``cameras`` read model, credentials decrypted (a lost
    connection is StoreUnavailable; give it a reconnecting connection), and whether it
    changed (``changes`` listens to what the read model announces)."""

    def __init__(
        self, conn: psycopg.Connection, cipher: CredentialCipher | None, changes: TableChanges
    ) -> None:
        self._conn, self._cipher, self._changes = conn, cipher, changes

    def changed(self) -> bool:
        return self._changes.changed()

    def enabled(self) -> list[CameraSource]:
        sources = []
        for row in cameras.enabled_cameras(self._conn):  # none until the projector starts
            credentials = None
            if row.credentials_ciphertext:
                if self._cipher is None:
                    raise ConfigurationError(
                        "a camera has credentials but no ENCRYPTION_KEY is set"
                    )
                credentials = self._cipher.decrypt(row.credentials_ciphertext)
            url = with_credentials(row.rtsp_url, credentials)
            sub = row.sub_rtsp_url and with_credentials(row.sub_rtsp_url, credentials)
            sources.append(CameraSource(row.camera_id, row.name, row.directory, url, sub))
        return sources


class IngestWorker:
    def __init__(
        self,
        name: str,
        catalog: CameraCatalog,
        store: SegmentStore,
        settings: RecorderSettings,
        client: redis.Redis,
        emit: Callable[[Event], object],
        lease_ttl_ms: int = 5000,
        heartbeat_file: Path | None = None,
    ) -> None:
        self.name = name
        self._catalog, self._store, self._settings = catalog, store, settings
        self._redis, self._ttl = client, lease_ttl_ms
        self._outbox = Outbox(emit)
        self._owner = f"{name}@{socket.gethostname()}"
        self._leases: dict[UUID, Lease] = {}
        self.recorders: dict[UUID, CameraRecorder] = {}
        self.relays: dict[UUID, SubStreamRelay] = {}  # cameras with a sub-stream
        self._counted: dict[UUID, int] = {}  # reconnects already added to RECONNECTS_KEY
        self._wanted: dict[UUID, CameraSource] | None = None  # the last list read
        self._catalog_down = False
        self._unreachable_since: float | None = None
        self._take_after = 0.0
        self._balance_due = 0.0
        self._reread_due = 0.0
        self._redis_run_id: str | None = None
        # liveness counts for the fair share: it must expire about as fast as a lease
        ttl_s = max(2.0, 2 * lease_ttl_ms / 1000)
        self._heartbeat = WorkerHeartbeat(client, name, ttl_s, beat_file=heartbeat_file)

    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                now = time.monotonic()
                self.step(now)
                pump_until(self.recorders.values(), self._next_step(now))  # or ffmpeg exited
        finally:
            self.shutdown("ingest worker stopped")

    @property
    def step_s(self) -> float:
        """Seconds between steps: two, or less with a lease shorter than five seconds (a
        lease is renewed at least twice in its time)."""
        return min(2.0, self._ttl / 2500)

    def _next_step(self, now: float) -> float:
        """The next step: after ``step_s``, or sooner when a recorder or relay is due to
        start ffmpeg (a camera that came back is recorded at once, not at a step)."""
        recorders = [r.wake_at(now) for r in self.recorders.values()]
        relays = [r.wake_at(now) for r in self.relays.values()]
        return min([now + self.step_s, *recorders, *relays])

    def step(self, now: float) -> None:
        """Follow the camera list and the leases when the stores answer; record always."""
        try:
            self._keep_leases()
            self._follow_cameras(now)
            self._reachable(now)
        except StoreUnavailable as e:
            self._unreachable(now, e)
        self._outbox.flush()
        for recorder in list(self.recorders.values()):
            recorder.tick(now)
        self._count_reconnects()
        for relay in list(self.relays.values()):
            relay.tick(now)

    def shutdown(self, reason: str) -> None:
        for recorder in self.recorders.values():
            recorder.signal_stop()  # all ffmpegs finish together, then each is collected
        for camera_id in list(self.recorders):
            self._drop(camera_id, reason)
        self._outbox.flush()
        self._heartbeat.stop()

    # --- steps ---------------------------------------------------------------------

    def _keep_leases(self) -> None:
        self._heartbeat.beat(cameras=len(self.recorders), waiting=len(self._outbox))
        self._renew_leases()

    def _follow_cameras(self, now: float) -> None:
        """Take, hand over or restart cameras when the list changed, and balance them
        between the ingest workers every ``BALANCE_EVERY_S``."""
        changed = self._read_cameras(now)
        if self._wanted is None or not (changed or now >= self._balance_due):
            return
        self._balance_due = now + BALANCE_EVERY_S
        share = self._fair_share(len(self._wanted))
        self._release_unwanted(self._wanted)
        self._release_excess(share)
        if self._may_take(self._wanted, share) and self._redis_kept_leases(now):
            self._take_cameras(self._wanted, share)

    def _read_cameras(self, now: float) -> bool:
        """Read the camera list if it changed (or is due): whether it was read."""
        try:
            if not (self._catalog.changed() or now >= self._reread_due or self._catalog_down):
                return False
            self._wanted = {c.camera_id: c for c in self._catalog.enabled()}
            self._reread_due = now + REREAD_EVERY_S
            self._catalog_down = False
            return True
        except StoreUnavailable as e:  # PostgreSQL: go on with the cameras held
            if not self._catalog_down:
                log.warning("camera list unavailable, recording the cameras held: %s", e)
            self._catalog_down = True
            return False

    def _reachable(self, now: float) -> None:
        if self._unreachable_since is not None:
            log.warning("Redis is back after %.1f s", now - self._unreachable_since)
            self._unreachable_since = None

    def _unreachable(self, now: float, error: StoreUnavailable) -> None:
        if self._unreachable_since is None:
            log.warning(
                "Redis unreachable; recording %d camera(s) on: %s", len(self.recorders), error
            )
            self._unreachable_since = now
        # when it answers again, every worker re-asserts its leases before anyone takes
        self._take_after = now + self._ttl / 1000

    def _may_take(self, wanted: dict[UUID, CameraSource], share: int) -> bool:
        """Whether a camera is there to take (one wanted and not held, within our share)."""
        return len(self.recorders) < share and any(c not in self.recorders for c in wanted)

    def _redis_kept_leases(self, now: float) -> bool:
        """False while holding back after Redis was unreachable or restarted.

        A Redis that restarted (its run id changed) may have lost leases, even when the
        client's retries hid the outage: hold back from taking cameras, as after one. The
        run id is asked for only here, before a take: renewals re-assert the leases held.
        """
        self._notice_redis_restart(now)
        return now >= self._take_after

    def _notice_redis_restart(self, now: float) -> None:
        try:
            run_id = str(self._redis.info("server").get("run_id", ""))
        except (redis.ConnectionError, redis.TimeoutError) as e:
            raise StoreUnavailable(f"Redis is unreachable: {e}") from e
        if self._redis_run_id is not None and run_id != self._redis_run_id:
            log.warning("Redis restarted: re-asserting leases before taking cameras")
            self._take_after = now + self._ttl / 1000
        self._redis_run_id = run_id

    def _renew_leases(self) -> None:
        held = list(self._leases.items())
        kept = hold_leases(self._redis, [lease for _, lease in held])
        for (camera_id, _), ours in zip(held, kept, strict=True):
            if not ours:
                self._drop(camera_id, "another ingest worker took the camera over")

    def _release_unwanted(self, wanted: dict[UUID, CameraSource]) -> None:
        for camera_id, recorder in list(self.recorders.items()):
            source = wanted.get(camera_id)
            if source is None:
                self._drop(camera_id, "camera removed or disabled")
            elif source.recorded != recorder.source.recorded:
                self._drop(camera_id, "camera configuration changed")
            elif source.sub_url != recorder.source.sub_url:  # recording goes on as it is
                recorder.source = source
                self._relay(source)

    def _release_excess(self, share: int) -> None:
        """Hand cameras beyond our share to a newly started worker (it takes them within
        a second; the recording gap is that second)."""
        for camera_id in list(self.recorders)[share:]:
            self._drop(camera_id, "handed over to another ingest worker")

    def _take_cameras(self, wanted: dict[UUID, CameraSource], share: int) -> None:
        for camera_id, source in wanted.items():
            if camera_id in self.recorders or len(self.recorders) >= share:
                continue
            lease = Lease(self._redis, f"ronin:lease:camera:{camera_id}", self._owner, self._ttl)
            if not lease.try_acquire():
                continue
            self._leases[camera_id] = lease
            recorder = CameraRecorder(
                source,
                self._store,
                self._settings,
                self._outbox.emit,
                self.name,
            )
            self.recorders[camera_id] = recorder  # it records first, then recovers
            self._relay(source)

    def _fair_share(self, cameras: int) -> int:
        live = [s for s in worker_statuses(self._redis, "ingest") if s.alive]
        workers = max(1, len(live) + (0 if any(s.name == self.name for s in live) else 1))
        return math.ceil(cameras / workers)

    def _count_reconnects(self) -> None:
        """Add each recorder's new reconnects to the shared counter (when Redis answers)."""
        added = {cid: r.reconnects - self._counted.get(cid, 0) for cid, r in self.recorders.items()}
        added = {cid: n for cid, n in added.items() if n > 0}
        if not added:
            return
        try:
            with self._redis.pipeline() as pipe:
                for camera_id, n in added.items():
                    pipe.hincrby(RECONNECTS_KEY, str(camera_id), n)
                pipe.execute()
        except (redis.ConnectionError, redis.TimeoutError):
            return  # counted next time
        for camera_id in added:
            self._counted[camera_id] = self.recorders[camera_id].reconnects

    def _relay(self, source: CameraSource) -> None:
        """(Re)start the relay of the camera's sub-stream, or stop it when it has none."""
        relay = self.relays.pop(source.camera_id, None)
        if relay is not None:
            relay.stop()
        if source.sub_url is None:
            return
        log_dir, streams = self._settings.log_dir, self._settings.streams(self._store.root)
        self.relays[source.camera_id] = SubStreamRelay(
            source.sub_url,
            ring_dir(streams, source.camera_id, LiveStreamKind.SUB),
            log_dir / "sources" / f"{source.camera_id}.sub.ffconcat",
            ffmpeg_logger(log_dir, source.camera_id),
            RelaySettings(ffmpeg=self._settings.ffmpeg),
        )

    def _drop(self, camera_id: UUID, reason: str) -> None:
        relay = self.relays.pop(camera_id, None)
        if relay is not None:
            relay.stop()
        recorder = self.recorders.pop(camera_id)
        recorder.stop(reason)
        self._counted.pop(camera_id, None)
        lease = self._leases.pop(camera_id, None)
        if lease is not None:
            lease.release()
