"""Analysing one recorded segment: sample -> motion gate -> batched inference -> events.

:func:`analyse_segment` is the step the historical worker runs per job; the event
building (:func:`detection_events`, :func:`job_id`) is pure and deterministic, so a
job that is retried or taken over by another worker emits the very same ids and the
projectors keep one row per detection.
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
from detector.motion import MotionConfig, MotionFilter
from events.catalogue import BoundingBox, ObjectDetected, SegmentClosed
from events.errors import MediaError

JOBS_NAMESPACE = UUID("5d3c1a52-7f0e-4a43-9a1e-0b8f2f6b1c11")


@dataclass(frozen=True, slots=True)
class AnalysisConfig:
    fps: float = 2.0
    batch: int = 8
    max_width: int = 640
    motion: MotionConfig = field(default_factory=MotionConfig)


@dataclass(slots=True)
class AnalysisResult:
    frames_sampled: int = 0
    frames_analysed: int = 0
    frames_skipped: int = 0
    inference_s: float = 0.0
    events: list[ObjectDetected] = field(default_factory=list)


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


def analyse_segment(
    segment: SegmentClosed,
    storage_root: Path,
    detector: DetectorBackend,
    config: AnalysisConfig,
    progress: Callable[[AnalysisResult, float], None] = lambda result, offset_s: None,
) -> AnalysisResult:
    """Run the model over a segment's sampled, moving frames; events are returned, not sent."""
    path = storage_root / segment.path
    if not path.is_file():
        raise MediaError(f"segment file {segment.path} is missing (purged or moved)")
    width, height = scaled_size(segment.width, segment.height, config.max_width)
    plan = SamplePlan(fps=config.fps, width=width, height=height)
    motion = MotionFilter(config.motion)
    result = AnalysisResult()
    pending: list[SampledFrame] = []

    def flush() -> None:
        started = time.perf_counter()
        found = detector.detect([f.image for f in pending])
        result.inference_s += time.perf_counter() - started
        for frame, objects in zip(pending, found, strict=True):
            result.events.extend(detection_events(segment, detector.model_id, frame, objects))
        result.frames_analysed += len(pending)
        progress(result, pending[-1].offset_s)
        pending.clear()

    for frame in read_frames(path, plan):
        result.frames_sampled += 1
        if motion.should_analyse(frame.image, frame.offset_s):
            pending.append(frame)
            if len(pending) >= config.batch:
                flush()
        else:
            result.frames_skipped += 1
            progress(result, frame.offset_s)
    if pending:
        flush()
    return result
