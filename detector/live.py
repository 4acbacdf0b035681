"""Live detection: frames tapped from each camera's live ring, never an RTSP session of its own.

- :class:`RingTap` follows one camera's live ring (``ingest.live.ring``; its sub-stream's
  when it has one: a smaller picture to decode); each newly complete group of pictures
  (init segment + its fragments) is decoded by ffmpeg at
  LIVE_DETECTION_FPS (only its keyframe when that is at most one frame per group),
  passed through the motion pre-filter, saved as a short-lived JPEG still under
  ``{storage}/.frames/`` and announced as FrameSampled.
- :class:`LiveDetector` is a consumer group on FrameSampled: it runs the model on batches
  of stills and emits ObjectDetected without a segment (``frame_path`` set), which the
  alerts worker debounces. Stills older than ``max_age_s`` are skipped as stale.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid5

import numpy as np

from detector.analysis import unmasked
from detector.frames import SamplePlan, read_frames, scaled_size
from detector.live_tracking import LiveTracks
from detector.model import DetectorBackend, Frame, FrameDetection
from detector.motion import MotionConfig, MotionFilter
from events.catalogue import (
    BoundingBox,
    Event,
    FrameSampled,
    ObjectDetected,
    Polygon,
    Topic,
    ZoneConfig,
)
from events.codec import decode
from events.errors import CodecError, MediaError
from events.progress import LiveRate
from events.store import ZERO, Message, RedisEventStore
from ingest.live.gop import LiveState
from ingest.live.ring import RingFollower

log = logging.getLogger(__name__)

FRAMES_DIR = ".frames"
LIVE_GROUP = "live-detector"


def frames_wanted(fps: float, segment_s: float) -> int:
    """How many stills to take from a segment of ``segment_s`` seconds."""
    return max(1, round(fps * segment_s))


@dataclass(slots=True)
class TapStats:
    frames: int = 0
    skipped: int = 0
    started: float = field(default_factory=time.monotonic)
    last_frame_at: float | None = None

    def fps(self) -> float:
        return self.frames / max(time.monotonic() - self.started, 1e-3)


class RingTap:
    """Samples one camera's newest groups of pictures into FrameSampled stills."""

    def __init__(
        self,
        camera_id: UUID,
        stream_dir: Path,
        storage_root: Path,
        fps: float,
        motion: MotionConfig | None = None,
        max_width: int = 1280,
        watching: Callable[[UUID], bool] = lambda camera_id: False,
        recheck_s: float = 1.0,
        motion_masks: Sequence[Polygon] = (),
    ) -> None:
        self.camera_id = camera_id
        self._root, self._fps = storage_root, fps
        self._max_width = max_width
        self.motion_masks = tuple(motion_masks)
        self._motion = MotionFilter(motion, self.motion_masks)
        self._watching, self._recheck_s = watching, recheck_s
        self._passed_at: float | None = None
        self._follower = RingFollower(stream_dir)
        self._state = LiveState(keep_gops=2)
        self._last: int | None = None
        self._frame_number = 0
        self._size: tuple[int, int] | None = None
        self.stats = TapStats()

    @property
    def stream_dir(self) -> Path:
        """The ring it follows."""
        return self._follower.folder

    @property
    def frames_dir(self) -> Path:
        return self._root / FRAMES_DIR / str(self.camera_id)

    def poll(self) -> list[FrameSampled]:
        """Stills from the group of pictures completed since the last poll (the newest
        only; it was complete when the next keyframe arrived, about now)."""
        for piece in self._follower.read():
            self._state.add(piece)
        gop = self._state.newest()
        if gop is None or gop.sequence == self._last:
            return []
        self._last = gop.sequence
        wanted = frames_wanted(self._fps, gop.duration_s)
        media = gop.fragments[0].data if wanted == 1 else gop.data  # its keyframe only
        return self._sample(gop.init.data + media, datetime.now(UTC), gop.duration_s)

    def close(self) -> None:
        self._follower.close()

    def _sample(self, data: bytes, written_at: datetime, duration: float) -> list[FrameSampled]:
        import cv2

        wanted = frames_wanted(self._fps, duration)
        events = []
        try:
            frames = list(self._decode(data, wanted, duration))
        except MediaError as e:
            log.warning("camera %s: cannot decode the live segment: %s", self.camera_id, e)
            return []
        start = written_at - timedelta(seconds=duration)
        self.frames_dir.mkdir(parents=True, exist_ok=True)
        for offset, image in frames:
            captured = start + timedelta(seconds=offset)
            self._frame_number += 1
            if not self._worth_looking(image, captured.timestamp()):
                self.stats.skipped += 1
                continue
            path = self.frames_dir / f"{int(captured.timestamp() * 1000)}.jpg"
            ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
            if not ok:
                continue
            path.write_bytes(encoded.tobytes())
            self.stats.frames += 1
            self.stats.last_frame_at = time.time()
            events.append(
                FrameSampled(
                    camera_id=self.camera_id,
                    source_path=str(path.relative_to(self._root)),
                    offset_s=offset,
                    captured_at=captured,
                    frame_number=self._frame_number,
                )
            )
        return events

    def _worth_looking(self, image: Frame, at: float) -> bool:
        """Motion, or something tracked here not looked at for ``recheck_s`` (a person who
        stands still stays tracked)."""
        moved = self._motion.should_analyse(image, at)
        due = self._passed_at is None or at - self._passed_at >= self._recheck_s
        if moved or (due and self._watching(self.camera_id)):
            self._passed_at = at
            return True
        return False

    def _decode(self, data: bytes, wanted: int, duration: float) -> list[tuple[float, Frame]]:
        if self._size is None or wanted == 1:  # a segment starts with a keyframe: cheap
            first = _first_frame(data)
            self._size = scaled_size(first.shape[1], first.shape[0], self._max_width)
            if wanted == 1:
                return [(0.0, _fit(first, self._size))]
        width, height = self._size
        plan = SamplePlan(fps=wanted / max(duration, 1e-3), width=width, height=height)
        return [(f.offset_s, f.image.copy()) for f in read_frames("-", plan, stdin_data=data)]

    def prune(self, keep_s: float = 120.0) -> None:
        """Delete stills older than ``keep_s`` (alerts copy what they keep)."""
        cutoff = time.time() - keep_s
        for path in self.frames_dir.glob("*.jpg"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
            except OSError:
                pass


def _first_frame(data: bytes) -> Frame:
    """The first frame of an fMP4 segment, decoded in this process (OpenCV's FFmpeg) from
    a scratch file in memory: a sixth of the CPU of an ffmpeg process per still (0.02 s
    against 0.15 s for a 1080p keyframe), which at one still a second per camera is most
    of live detection's sampling."""
    import cv2

    memory = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    with tempfile.NamedTemporaryFile(suffix=".mp4", dir=memory) as scratch:
        scratch.write(data)
        scratch.flush()
        capture = cv2.VideoCapture(scratch.name)
        try:
            ok, image = capture.read()
        finally:
            capture.release()
    if not ok or image is None:
        raise MediaError("no picture in the live segment")
    return np.asarray(image, dtype=np.uint8)


def _fit(image: Frame, size: tuple[int, int]) -> Frame:
    import cv2

    if (image.shape[1], image.shape[0]) == size:
        return image
    return np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


def live_rates(taps: Sequence[RingTap]) -> dict[UUID, LiveRate]:
    """What the status page shows of each live camera's sampling."""
    return {
        t.camera_id: LiveRate(t.stats.fps(), t.stats.frames, t.stats.skipped, t.stats.last_frame_at)
        for t in taps
    }


@dataclass(frozen=True, slots=True)
class LiveConfig:
    batch: int = 8
    max_age_s: float = 30.0


class LiveDetector:
    """The consumer group on FrameSampled: stills in, live ObjectDetected and the tracks
    they make out."""

    def __init__(
        self,
        store: RedisEventStore,
        detector: DetectorBackend,
        storage_root: Path,
        consumer: str,
        config: LiveConfig | None = None,
        tracks: LiveTracks | None = None,
        zones: Callable[[UUID], ZoneConfig] = lambda camera_id: ZoneConfig(),
    ) -> None:
        self._store, self._detector, self._root = store, detector, storage_root
        self._consumer = consumer
        self.config = config or LiveConfig()
        self.tracks = tracks or LiveTracks(store.client, detector.model_id)
        self._zones = zones
        self._started = False
        self.inference_s = 0.0
        self.frames = 0

    def step(self, block_ms: int | None = None) -> int:
        if not self._started:
            latest = self._store.last_id(Topic.FRAMES) or ZERO  # live: only new frames
            self._store.ensure_group(Topic.FRAMES, LIVE_GROUP, latest)
            self._started = True
        messages = self._store.read_own_pending(
            Topic.FRAMES, LIVE_GROUP, self._consumer, self.config.batch
        ) or self._store.read_group(
            Topic.FRAMES, LIVE_GROUP, self._consumer, self.config.batch, block_ms
        )
        if messages:
            self._handle(messages)
        else:
            self._expire()
        return len(messages)

    def _expire(self) -> None:
        ended = self.tracks.expire(datetime.now(UTC))
        if ended:
            self._store.append_many(ended)
            self.tracks.save()

    def _handle(self, messages: Sequence[Message]) -> None:
        import cv2

        frames: list[tuple[FrameSampled, Frame]] = []
        now = datetime.now(UTC)
        for message in messages:
            try:
                event = decode(message.fields)
            except CodecError as e:
                self._store.dead_letter(Topic.FRAMES, LIVE_GROUP, message, str(e))
                continue
            if not isinstance(event, FrameSampled):
                continue
            if (now - event.captured_at).total_seconds() > self.config.max_age_s:
                continue  # stale: a live alert about the past helps nobody
            image = cv2.imread(str(self._root / event.source_path), cv2.IMREAD_COLOR)
            if image is not None:
                frames.append((event, np.asarray(image, dtype=np.uint8)))
        if frames:
            started = time.perf_counter()
            found = self._detector.detect([image for _, image in frames])
            self.inference_s += time.perf_counter() - started
            self.frames += len(frames)
            events: list[Event] = []
            for (frame, _), objects in zip(frames, found, strict=True):
                zones = self._zones(frame.camera_id)
                detections = unmasked(self._detections(frame, objects), zones)
                events += detections
                events += self.tracks.frame(frame.camera_id, frame.captured_at, detections, zones)
            if events:
                self._store.append_many(events)
            self.tracks.save()
        self._store.ack(Topic.FRAMES, LIVE_GROUP, [m.stream_id for m in messages])

    def _detections(
        self, frame: FrameSampled, objects: Sequence[FrameDetection]
    ) -> list[ObjectDetected]:
        return [
            ObjectDetected(
                detection_id=uuid5(frame.event_id, str(rank)),
                camera_id=frame.camera_id,
                detected_at=frame.captured_at,
                label=d.label,
                class_id=d.class_id,
                confidence=d.confidence,
                box=BoundingBox(x1=d.x1, y1=d.y1, x2=d.x2, y2=d.y2),
                frame_number=frame.frame_number,
                model_id=self._detector.model_id,
                frame_path=frame.source_path,
            )
            for rank, d in enumerate(objects)
        ]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
