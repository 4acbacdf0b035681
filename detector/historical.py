"""Historical detection: a consumer group on SegmentClosed, one job per segment and model.

Each SegmentClosed is a job: DetectionJobStarted -> ObjectDetected... -> DetectionJobCompleted
(or DetectionJobFailed). A job's message stays pending in the group until the job's
events are appended, so a worker killed mid-job leaves it to another worker, which
claims it once it has been idle ``claim_idle_ms`` (a live worker keeps resetting that
clock while it works). Detection ids are derived from the job, the frame and the rank,
so a redone job appends the same ids and the projection keeps one row each.
Segments of a camera whose detection is off are skipped. A job whose file is gone fails
at once; one that keeps failing for another reason is retried up to ``max_attempts``
deliveries, then failed for good and dead-lettered.

The primary group (``detector``) follows new footage; ``ronin reprocess`` runs another
group (``reprocess.{model_id}``) over the whole history, archive included, with a
second model. Running progress lives in :class:`JobBoard` (Redis) for the ML status page.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from uuid import UUID

from detector.analysis import (
    AnalysisConfig,
    AnalysisResult,
    analyse_segment,
    job_id,
    motion_measured,
)
from detector.model import DetectorBackend
from detector.track_carry import TrackCarry
from events.archive import EventLog
from events.catalogue import (
    DetectionJobCompleted,
    DetectionJobFailed,
    DetectionJobStarted,
    Event,
    SegmentClosed,
    Topic,
    ZoneConfig,
)
from events.codec import decode
from events.errors import CodecError, MediaError, StoreUnavailable
from events.progress import DETECTION_GROUP, JobBoard, RunningJob
from events.store import ZERO, Message, RedisEventStore, StreamId

log = logging.getLogger(__name__)

PRIMARY_GROUP = DETECTION_GROUP


def reprocess_group(model_id: str) -> str:
    return f"reprocess.{model_id}"


@dataclass(frozen=True, slots=True)
class JobFilter:
    """Which segments a group analyses (``ronin reprocess --camera/--since/--until``)."""

    camera_ids: frozenset[UUID] | None = None
    since: datetime | None = None
    until: datetime | None = None

    def accepts(self, segment: SegmentClosed) -> bool:
        if self.camera_ids is not None and segment.camera_id not in self.camera_ids:
            return False
        if self.since is not None and segment.end <= self.since:
            return False
        return not (self.until is not None and segment.start >= self.until)


@dataclass(frozen=True, slots=True)
class HistoricalConfig:
    group: str = PRIMARY_GROUP
    reprocess: bool = False
    max_attempts: int = 3
    claim_idle_ms: int = 60_000
    touch_every_s: float = 5.0
    events_per_append: int = 500
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)


class HistoricalDetector:
    """One consumer of a detection group; ``step()`` runs at most one job."""

    def __init__(
        self,
        store: RedisEventStore,
        event_log: EventLog,
        detector: DetectorBackend,
        storage_root: Path,
        consumer: str,
        config: HistoricalConfig | None = None,
        job_filter: JobFilter | None = None,
        detection_cameras: Callable[[], Collection[UUID]] | None = None,
        camera_zones: Callable[[UUID], ZoneConfig] = lambda camera_id: ZoneConfig(),
    ) -> None:
        self._store, self._log, self._detector = store, event_log, detector
        self._root, self._consumer = storage_root, consumer
        self.config = config or HistoricalConfig()
        self._filter = job_filter or JobFilter()
        self._detection_cameras = detection_cameras
        self._camera_zones = camera_zones
        self._enabled: tuple[float, Collection[UUID]] = (0.0, ())
        self.board = JobBoard(store.client)
        self._carry = TrackCarry(store.client)
        self._started = False
        self.jobs_done = 0

    @property
    def _backlog_key(self) -> str:
        return f"ronin:detector:{self.config.group}:backlog"

    def step(self, block_ms: int | None = None) -> int:
        """Handle one message; 0 when there was nothing to do."""
        if not self._started:
            self._start()
        archived = self._next_archived()
        if archived is not None:
            self._handle(archived, from_group=False)
            return 1
        message = self._next_message(block_ms)
        if message is None:
            return 0
        self._handle(message, from_group=True)
        return 1

    def backlog(self) -> int:
        """SegmentClosed messages the group has not finished (pending and not yet read)."""
        for group in self._store.groups(Topic.RECORDINGS):
            if group.name == self.config.group:
                return group.pending + (group.lag or 0)
        return 0

    # --- steps ---------------------------------------------------------------------

    def _start(self) -> None:
        """Create the group; entries already trimmed into the archive become a backlog."""
        names = {g.name for g in self._store.groups(Topic.RECORDINGS)}
        if self.config.group not in names:
            first = self._store.first_id(Topic.RECORDINGS)
            if first is None:  # all trimmed (or nothing yet): whatever exists is archived
                seconds, micros = self._store.client.time()
                first = StreamId(int(seconds) * 1000 + int(micros) // 1000, 0)
            self._store.ensure_group(Topic.RECORDINGS, self.config.group, ZERO)
            if first > ZERO:
                self._store.client.hset(
                    self._backlog_key, mapping={"cursor": str(ZERO), "end": str(first)}
                )
        self._started = True

    def _next_archived(self) -> Message | None:
        state = self._store.client.hgetall(self._backlog_key)
        if not state:
            return None
        cursor, end = StreamId.parse(state[b"cursor"]), StreamId.parse(state[b"end"])
        for batch in self._log.read_after(Topic.RECORDINGS, cursor, batch=1):
            message = batch[0]
            if message.stream_id < end:
                return message
            break
        self._store.client.delete(self._backlog_key)
        return None

    def _next_message(self, block_ms: int | None) -> Message | None:
        group, consumer = self.config.group, self._consumer
        for messages in (
            self._store.read_own_pending(Topic.RECORDINGS, group, consumer, 1),
            self._store.claim_stale(
                Topic.RECORDINGS, group, consumer, self.config.claim_idle_ms, 1
            ),
        ):
            if messages:
                return messages[0]
        messages = self._store.read_group(Topic.RECORDINGS, group, consumer, 1, block_ms)
        return messages[0] if messages else None

    def _handle(self, message: Message, from_group: bool) -> None:
        try:
            event = decode(message.fields)
        except CodecError as e:
            if from_group:
                self._store.dead_letter(Topic.RECORDINGS, self.config.group, message, str(e))
            else:
                self._done(message, from_group)
            return
        if (
            isinstance(event, SegmentClosed)
            and self._filter.accepts(event)
            and self._detection_on(event.camera_id)
        ):
            self._run_job(message, event, from_group)
        else:
            self._done(message, from_group)

    def _detection_on(self, camera_id: UUID) -> bool:
        """The camera's ``detection_enabled`` (read at most every 10 s); reprocessing, which
        the operator asks for explicitly, analyses every camera it is pointed at."""
        if self._detection_cameras is None or self.config.reprocess:
            return True
        checked, cameras = self._enabled
        if time.monotonic() - checked > 10.0:
            cameras = self._detection_cameras()
            self._enabled = (time.monotonic(), cameras)
        return camera_id in cameras

    def _done(self, message: Message, from_group: bool) -> None:
        if from_group:
            self._store.ack(Topic.RECORDINGS, self.config.group, [message.stream_id])
        else:
            self._store.client.hset(self._backlog_key, "cursor", str(message.stream_id))

    def _attempt(self, message: Message, from_group: bool) -> int:
        if not from_group:
            return 1
        counts = self._store.delivery_counts(
            Topic.RECORDINGS, self.config.group, [message.stream_id]
        )
        return max(1, counts.get(message.stream_id, 1))

    def _run_job(self, message: Message, segment: SegmentClosed, from_group: bool) -> None:
        model_id = self._detector.model_id
        job = job_id(segment.segment_id, model_id)
        attempt = self._attempt(message, from_group)
        if attempt > self.config.max_attempts:
            reason = f"gave up after {attempt - 1} attempts"
            self._fail(
                message, segment, job, attempt - 1, reason, final=True, from_group=from_group
            )
            return
        self._store.append(
            DetectionJobStarted(
                job_id=job,
                segment_id=segment.segment_id,
                camera_id=segment.camera_id,
                segment_start=segment.start,
                model_id=model_id,
                attempt=attempt,
                reprocess=self.config.reprocess,
            )
        )
        started = time.monotonic()
        within = self.config.analysis.tracking.lost_after_s
        try:
            result = analyse_segment(
                segment,
                self._root,
                self._detector,
                self.config.analysis,
                self._progress_reporter(message, segment, job, from_group),
                carried=self._carry.before(segment, model_id, within),
                zones=self._camera_zones(segment.camera_id),
            )
        except StoreUnavailable:
            raise
        except MediaError as e:  # the file is gone or unreadable: retrying cannot help
            self._fail(message, segment, job, attempt, str(e), final=True, from_group=from_group)
            return
        except Exception as e:
            final = attempt >= self.config.max_attempts
            log.exception("job %s (segment %s) failed", job, segment.path)
            self._fail(message, segment, job, attempt, repr(e), final, from_group)
            return
        motion = motion_measured(segment, result.motion, self.config.analysis.motion)
        found = [*result.events, *result.tracks, motion]
        for chunk in _chunks(found, self.config.events_per_append):
            self._store.append_many(chunk)
        self._carry.save(segment, model_id, result.tracker)
        self._store.append(
            DetectionJobCompleted(
                job_id=job,
                segment_id=segment.segment_id,
                model_id=model_id,
                frames_sampled=result.frames_sampled,
                frames_analysed=result.frames_analysed,
                frames_skipped=result.frames_skipped,
                detections=len(result.events),
                inference_s=result.inference_s,
                elapsed_s=time.monotonic() - started,
            )
        )
        self.board.finish(job)
        self._done(message, from_group)
        self.jobs_done += 1

    def _fail(
        self,
        message: Message,
        segment: SegmentClosed,
        job: UUID,
        attempt: int,
        reason: str,
        final: bool,
        from_group: bool,
    ) -> None:
        log.warning("job %s for %s failed (final=%s): %s", job, segment.path, final, reason)
        self._store.append(
            DetectionJobFailed(
                job_id=job,
                segment_id=segment.segment_id,
                model_id=self._detector.model_id,
                attempt=max(1, attempt),
                reason=reason[:4000],
                final=final,
            )
        )
        self.board.finish(job)
        if not final:
            return  # stays pending: redelivered to us on the next step
        if from_group:
            self._store.dead_letter(Topic.RECORDINGS, self.config.group, message, reason)
        else:
            self._done(message, from_group)

    def _progress_reporter(
        self, message: Message, segment: SegmentClosed, job: UUID, from_group: bool
    ) -> _Progress:
        return _Progress(self, message, segment, job, from_group)


class _Progress:
    """Publishes a running job's progress and keeps its message from being claimed."""

    def __init__(
        self,
        worker: HistoricalDetector,
        message: Message,
        segment: SegmentClosed,
        job: UUID,
        from_group: bool,
    ) -> None:
        self._worker, self._message, self._segment = worker, message, segment
        self._job, self._from_group = job, from_group
        self._last_touch = self._last_publish = time.monotonic()

    def __call__(self, result: AnalysisResult, offset_s: float) -> None:
        worker = self._worker
        now = time.monotonic()
        if now - self._last_publish < 0.5:
            return
        self._last_publish = now
        duration = max(self._segment.duration_s, 1e-3)
        worker.board.update(
            RunningJob(
                job_id=self._job,
                segment_id=self._segment.segment_id,
                camera_id=self._segment.camera_id,
                model_id=worker._detector.model_id,
                progress=min(1.0, offset_s / duration),
                frames_analysed=result.frames_analysed,
                updated_at=time.time(),
            )
        )
        if self._from_group and now - self._last_touch >= worker.config.touch_every_s:
            worker._store.touch(
                Topic.RECORDINGS, worker.config.group, worker._consumer, [self._message.stream_id]
            )
            self._last_touch = now


def _chunks(events: Sequence[Event], size: int) -> Iterator[Sequence[Event]]:
    for start in range(0, len(events), size):
        yield events[start : start + size]
