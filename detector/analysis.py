"""Analysing one recorded segment: sample -> motion gate -> batched inference -> tracking
-> events.

:func:`analyse_segment` is the step the historical worker runs per job; the event
building (:func:`detection_events`, :func:`track_events`, :func:`job_id`) is pure and
deterministic, so a job that is retried or taken over by another worker emits the very
same ids and the projectors keep one row per detection and one piece per track.

While anything is tracked, a frame is analysed every ``recheck_s`` even when the motion
gate sees no motion: a person standing still stays tracked (and becomes stationary)
instead of vanishing when they stop moving. Tracks still in view at the segment's end
are carried (:attr:`AnalysisResult.tracker`) into the next segment's job.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from uuid import UUID, uuid5

from detector.frames import SampledFrame, SamplePlan, read_frames, scaled_size
from detector.model import DetectorBackend, FrameDetection
from detector.motion import MotionConfig, MotionFilter, MotionSample, activity
from detector.tracking import Change, Sighting, TrackChange, TrackerConfig, TrackerState, step
from detector.zones import masked
from events.catalogue import (
    BoundingBox,
    MotionMeasured,
    MotionSpan,
    ObjectDetected,
    SegmentClosed,
    TrackEnded,
    TrackEvent,
    TrackStarted,
    TrackUpdated,
    ZoneConfig,
)
from events.errors import MediaError

JOBS_NAMESPACE = UUID("5d3c1a52-7f0e-4a43-9a1e-0b8f2f6b1c11")


@dataclass(frozen=True, slots=True)
class AnalysisConfig:
    fps: float = 2.0
    batch: int = 8
    max_width: int = 640
    motion: MotionConfig = field(default_factory=MotionConfig)
    tracking: TrackerConfig = field(default_factory=TrackerConfig)
    recheck_s: float = 1.0
    """While something is tracked, analyse a frame at least this often, motion or not."""


@dataclass(slots=True)
class AnalysisResult:
    frames_sampled: int = 0
    frames_analysed: int = 0
    frames_skipped: int = 0
    inference_s: float = 0.0
    events: list[ObjectDetected] = field(default_factory=list)
    tracks: list[TrackEvent] = field(default_factory=list)
    tracker: TrackerState = field(default_factory=TrackerState)
    """What is still in view at the segment's end (for the next segment's job)."""
    motion: list[MotionSample] = field(default_factory=list)
    """What the motion gate measured on each sampled frame."""


def job_id(segment_id: UUID, model_id: str) -> UUID:
    """One job per segment and model."""
    return uuid5(JOBS_NAMESPACE, f"{segment_id}/{model_id}")


def detection_events(
    segment: SegmentClosed,
    model_id: str,
    frame: SampledFrame,
    found: Sequence[FrameDetection],
) -> list[ObjectDetected]:
    """ObjectDetected events for one analysed frame (ids derived from job, frame, rank)."""
    job = job_id(segment.segment_id, model_id)
    at = segment.start + timedelta(seconds=frame.offset_s)
    return [
        ObjectDetected(
            detection_id=uuid5(job, f"{frame.index}/{rank}"),
            camera_id=segment.camera_id,
            segment_id=segment.segment_id,
            offset_s=frame.offset_s,
            detected_at=at,
            label=d.label,
            class_id=d.class_id,
            confidence=d.confidence,
            box=BoundingBox(x1=d.x1, y1=d.y1, x2=d.x2, y2=d.y2),
            frame_number=round(frame.offset_s * segment.fps) if segment.fps else frame.index,
            model_id=model_id,
        )
        for rank, d in enumerate(found)
    ]


_TRACK_EVENTS: dict[Change, type[TrackEvent]] = {
    Change.STARTED: TrackStarted,
    Change.UPDATED: TrackUpdated,
    Change.ENDED: TrackEnded,
}


def track_events(
    camera_id: UUID,
    segment_id: UUID | None,
    model_id: str,
    changes: Sequence[TrackChange],
    required: Sequence[str] = (),
) -> list[TrackEvent]:
    """A report per track change, as the segment's piece of the track (live: no segment);
    ``required`` are the zones the camera requires for an alert."""
    return [
        _TRACK_EVENTS[c.change](
            track_id=c.track.track_id,
            camera_id=camera_id,
            segment_id=segment_id,
            model_id=model_id,
            label=c.track.label,
            start=c.track.start,
            last_seen=c.track.last_seen,
            best_detection_id=c.track.best.detection_id,
            best_at=c.track.best.at,
            best_confidence=c.track.best.confidence,
            best_box=c.track.best.box,
            stationary=c.track.stationary,
            sightings=c.track.sightings,
            best_frame_path=c.track.best.frame_path,
            zones=c.track.zones,
            in_required_zone=not required or any(z in required for z in c.track.zones),
        )
        for c in changes
    ]


def sightings_of(events: Sequence[ObjectDetected]) -> list[Sighting]:
    return [
        Sighting(e.detection_id, e.detected_at, e.label, e.confidence, e.box, e.frame_path)
        for e in events
    ]


def unmasked(found: Sequence[ObjectDetected], zones: ZoneConfig) -> list[ObjectDetected]:
    """The detections that do not stand in an object mask (those are ignored)."""
    return [d for d in found if not masked(d.box, zones.object_masks)]


class SegmentTracks:
    """The tracker over one segment: frames in, track reports out, what goes on at the end."""

    def __init__(
        self,
        segment: SegmentClosed,
        model_id: str,
        config: TrackerConfig,
        carried: TrackerState,
        zones: ZoneConfig,
    ) -> None:
        self._segment, self._model_id, self._config = segment, model_id, config
        self._zones = zones
        job = job_id(segment.segment_id, model_id)
        self._id_of = lambda n, _seen: uuid5(job, f"track/{n}")
        self.state = carried
        self.events: list[TrackEvent] = []

    def frame(self, detections: Sequence[ObjectDetected], at_s: float) -> None:
        at = self._segment.start + timedelta(seconds=at_s)
        self._apply(
            step(
                self.state,
                at,
                sightings_of(detections),
                self._config,
                self._id_of,
                self._zones.zones,
            )
        )

    def end(self) -> TrackerState:
        """End what was lost before the segment's end; report what goes on as updated."""
        self._apply(
            step(self.state, self._segment.end, [], self._config, self._id_of, self._zones.zones)
        )
        going_on = [TrackChange(Change.UPDATED, t) for t in self.state.tracks]
        self.events += self._events(going_on)
        return self.state

    def _apply(self, stepped: tuple[TrackerState, list[TrackChange]]) -> None:
        self.state, changes = stepped
        self.events += self._events(changes)

    def _events(self, changes: Sequence[TrackChange]) -> list[TrackEvent]:
        segment = self._segment
        return track_events(
            segment.camera_id, segment.segment_id, self._model_id, changes,
            self._zones.required_zones,
        )  # fmt: skip


def analyse_segment(
    segment: SegmentClosed,
    storage_root: Path,
    detector: DetectorBackend,
    config: AnalysisConfig,
    progress: Callable[[AnalysisResult, float], None] = lambda result, offset_s: None,
    carried: TrackerState | None = None,
    zones: ZoneConfig | None = None,
) -> AnalysisResult:
    """Run the model over a segment's sampled, moving frames (and, while something is
    tracked, one every ``recheck_s``) and track what it finds, going on from ``carried``
    (the previous segment's tracks) inside the camera's ``zones`` and masks; events are
    returned, not sent."""
    path = storage_root / segment.path
    if not path.is_file():
        raise MediaError(f"segment file {segment.path} is missing (purged or moved)")
    width, height = scaled_size(segment.width, segment.height, config.max_width)
    plan = SamplePlan(fps=config.fps, width=width, height=height)
    zones = zones or ZoneConfig()
    motion = MotionFilter(config.motion, zones.motion_masks)
    tracks = SegmentTracks(
        segment, detector.model_id, config.tracking, carried or TrackerState(), zones
    )
    result = AnalysisResult()
    pending: list[SampledFrame] = []
    last_analysed_s: float | None = None

    def flush() -> None:
        started = time.perf_counter()
        found = detector.detect([f.image for f in pending])
        result.inference_s += time.perf_counter() - started
        for frame, objects in zip(pending, found, strict=True):
            detections = unmasked(
                detection_events(segment, detector.model_id, frame, objects), zones
            )
            result.events.extend(detections)
            tracks.frame(detections, frame.offset_s)
        result.frames_analysed += len(pending)
        progress(result, pending[-1].offset_s)
        pending.clear()

    for frame in read_frames(path, plan):
        result.frames_sampled += 1
        if pending and frame.offset_s - pending[0].offset_s >= config.recheck_s:
            flush()  # what the waiting frames hold decides whether to re-check this one
        moved = motion.should_analyse(frame.image, frame.offset_s)
        result.motion.append(MotionSample(frame.offset_s, motion.changed))
        watching = tracks.state.active
        recheck = watching and (
            last_analysed_s is None or frame.offset_s - last_analysed_s >= config.recheck_s
        )
        if moved or recheck:
            last_analysed_s = frame.offset_s
            pending.append(frame)
            if len(pending) >= config.batch:
                flush()
        else:
            result.frames_skipped += 1
            progress(result, frame.offset_s)
    if pending:
        flush()
    result.tracker = tracks.end()
    result.tracks = tracks.events
    return result


def motion_measured(
    segment: SegmentClosed, samples: Sequence[MotionSample], config: MotionConfig
) -> MotionMeasured:
    """The segment's spans of motion as an event (times on the segment's clock)."""
    spans = [
        MotionSpan(
            start=segment.start + timedelta(seconds=a.start_s),
            end=segment.start + timedelta(seconds=a.end_s),
            peak=min(1.0, a.peak),
        )
        for a in activity(samples, config.min_changed)
    ]
    return MotionMeasured(
        segment_id=segment.segment_id, camera_id=segment.camera_id, spans=tuple(spans[:20_000])
    )
