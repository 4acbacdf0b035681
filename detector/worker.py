"""The detector worker process: historical jobs in one thread, live detection in another.

``run()`` only calls named steps. Historical jobs can take tens of seconds each, so live
sampling (every camera's ring tap) and live inference run in their own loop and never wait
for a job. When no model is configured the worker stays up, records nothing, and says in
its heartbeat (and so on the ML status page) that detection is off and how to turn it on.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from uuid import UUID

import psycopg

from detector.historical import HistoricalDetector
from detector.live import LiveDetector, RingTap, live_rates
from detector.motion import MotionConfig
from events.catalogue import FrameSampled, ZoneConfig
from events.errors import StoreUnavailable
from events.heartbeat import WorkerHeartbeat
from events.progress import LiveStats
from ingest.live.ring import LiveStreamKind, ring_to_read
from projector.readmodels import cameras

log = logging.getLogger(__name__)

DETECTION_OFF_HINT = (
    "run `ronin model install yolox-nano` (YOLOX-Nano from the YOLOX project's releases), "
    "or `ronin model add FILE` / ML_MODEL_PATH=FILE for a YOLOX or YOLOv8/YOLO11 ONNX "
    "file with the COCO classes; and ML_ENABLED=true"
)


class LiveCameras(Protocol):
    def detection_cameras(self) -> list[UUID]: ...
    def zones(self, camera_id: UUID) -> ZoneConfig: ...


class PostgresLiveCameras:
    """Cameras that are enabled and have detection on, and every camera's zones and
    masks (read again at most every ``refresh_s``), from the cameras read model."""

    def __init__(self, conn: psycopg.Connection, refresh_s: float = 10.0) -> None:
        self._conn, self._refresh_s = conn, refresh_s
        self._zones: dict[UUID, ZoneConfig] = {}
        self._zones_read = -math.inf

    def detection_cameras(self) -> list[UUID]:
        return cameras.detection_cameras(self._conn)

    def zones(self, camera_id: UUID) -> ZoneConfig:
        if time.monotonic() - self._zones_read >= self._refresh_s:
            self._zones = {c.camera_id: c.zones() for c in cameras.all_cameras(self._conn)}
            self._zones_read = time.monotonic()
        return self._zones.get(camera_id, ZoneConfig())


@dataclass(frozen=True, slots=True)
class LiveTapConfig:
    streams_root: Path
    storage_root: Path
    fps: float
    motion: MotionConfig = field(default_factory=MotionConfig)
    refresh_s: float = 10.0


class LiveTaps:
    """One ring tap per camera with detection on; the set follows the cameras read model.
    A tap reads the camera's sub-stream while it runs, else its main stream (checked at
    each refresh: a tap moves when the sub-stream starts or stops)."""

    def __init__(
        self,
        cameras: LiveCameras,
        config: LiveTapConfig,
        watching: Callable[[UUID], bool] = lambda camera_id: False,
    ) -> None:
        self._cameras, self.config, self._watching = cameras, config, watching
        self.taps: dict[UUID, RingTap] = {}
        self._refreshed = 0.0

    def poll(self) -> list[FrameSampled]:
        if time.monotonic() - self._refreshed >= self.config.refresh_s:
            self._refresh()
        events: list[FrameSampled] = []
        for tap in self.taps.values():
            events.extend(tap.poll())
        return events

    def _refresh(self) -> None:
        wanted = set(self._cameras.detection_cameras())
        for gone in set(self.taps) - wanted:
            self.taps.pop(gone).close()
        for camera_id, tap in list(self.taps.items()):
            masks = self._cameras.zones(camera_id).motion_masks
            if tap.motion_masks != masks or tap.stream_dir != self._ring(camera_id):
                self.taps.pop(camera_id).close()  # made again with the new masks or ring
        for camera_id in wanted - set(self.taps):
            self.taps[camera_id] = RingTap(
                camera_id,
                self._ring(camera_id),
                self.config.storage_root,
                self.config.fps,
                self.config.motion,
                watching=self._watching,
                motion_masks=self._cameras.zones(camera_id).motion_masks,
            )
        for tap in self.taps.values():
            tap.prune()
        self._refreshed = time.monotonic()

    def _ring(self, camera_id: UUID) -> Path:
        return ring_to_read(self.config.streams_root, camera_id, LiveStreamKind.SUB)


class DetectionWorker:
    def __init__(
        self,
        heartbeat: WorkerHeartbeat,
        historical: HistoricalDetector | None,
        live: LiveDetector | None,
        taps: LiveTaps | None,
        live_stats: LiveStats | None,
        emit_frames: Callable[[list[FrameSampled]], object],
        detail: dict[str, object],
    ) -> None:
        self._heartbeat, self._historical, self._live = heartbeat, historical, live
        self._taps, self._live_stats, self._emit_frames = taps, live_stats, emit_frames
        self._detail = detail

    def run(self, stop: threading.Event) -> None:
        threads = [threading.Thread(target=self._historical_loop, args=(stop,), daemon=True)]
        if self._live is not None and self._taps is not None:
            threads.append(threading.Thread(target=self._live_loop, args=(stop,), daemon=True))
        for thread in threads:
            thread.start()
        try:
            while not stop.is_set():
                self._beat()
                stop.wait(1.0)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
            self._heartbeat.stop()

    def _beat(self) -> None:
        try:
            jobs = self._historical.jobs_done if self._historical else 0
            self._heartbeat.beat(**self._detail, jobs_done=jobs)
            if self._live_stats is not None and self._taps is not None:
                self._live_stats.publish(live_rates(list(self._taps.taps.values())))
        except StoreUnavailable as e:
            log.warning("store unavailable: %s", e)

    def _historical_loop(self, stop: threading.Event) -> None:
        if self._historical is None:
            return
        while not stop.is_set():
            try:
                if self._historical.step(block_ms=1000) == 0:
                    stop.wait(0.2)
            except StoreUnavailable as e:
                log.warning("store unavailable, retrying: %s", e)
                stop.wait(1.0)
            except Exception:  # a bug must not silently end historical detection
                log.exception("historical detection step failed; retrying")
                stop.wait(5.0)

    def _live_loop(self, stop: threading.Event) -> None:
        assert self._live is not None and self._taps is not None
        period = max(0.1, 0.5 / self._taps.config.fps)
        while not stop.is_set():
            started = time.monotonic()
            try:
                frames = self._taps.poll()
                if frames:
                    self._emit_frames(frames)
                while self._live.step(block_ms=None):
                    pass
            except StoreUnavailable as e:
                log.warning("store unavailable, retrying: %s", e)
                stop.wait(1.0)
            except Exception:  # a bug must not silently end live detection
                log.exception("live detection step failed; retrying")
                stop.wait(5.0)
            stop.wait(max(0.0, period - (time.monotonic() - started)))
