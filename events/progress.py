"""What the detector tells the status page while it works, and nothing else needs: the
progress of running jobs and each live camera's sampling rate.

These churn (a job's progress changes every few frames), so they are not events; they
are this small shared board in Redis, written by the detector and read by the API,
with its keys and shapes defined here and nowhere else. Finished work (frames analysed,
inference time) is in the events and so in the ``detections.jobs`` read model.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from uuid import UUID

import orjson
import redis

DETECTION_GROUP = "detector"
"""The consumer group that analyses every recorded segment with the primary model."""


@dataclass(frozen=True, slots=True)
class RunningJob:
    job_id: UUID
    segment_id: UUID
    camera_id: UUID
    model_id: str
    progress: float
    frames_analysed: int
    updated_at: float


@dataclass(frozen=True, slots=True)
class LiveRate:
    fps: float
    frames: int
    skipped: int
    last_frame_at: float | None


class JobBoard:
    """Running jobs' progress (a job that stops reporting for a while is left out)."""

    RUNNING = "ronin:detector:running"

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def update(self, job: RunningJob) -> None:
        payload = orjson.dumps(
            {
                "job_id": str(job.job_id),
                "segment_id": str(job.segment_id),
                "camera_id": str(job.camera_id),
                "model_id": job.model_id,
                "progress": job.progress,
                "frames_analysed": job.frames_analysed,
                "updated_at": job.updated_at,
            }
        )
        self._redis.hset(self.RUNNING, str(job.job_id), payload)

    def finish(self, job: UUID) -> None:
        self._redis.hdel(self.RUNNING, str(job))

    def running(self, stale_after_s: float = 120.0) -> list[RunningJob]:
        now = time.time()
        jobs = []
        for raw in self._redis.hvals(self.RUNNING):
            data = orjson.loads(raw)
            job = RunningJob(
                job_id=UUID(data["job_id"]),
                segment_id=UUID(data["segment_id"]),
                camera_id=UUID(data["camera_id"]),
                model_id=data["model_id"],
                progress=float(data["progress"]),
                frames_analysed=int(data["frames_analysed"]),
                updated_at=float(data["updated_at"]),
            )
            if now - job.updated_at < stale_after_s:
                jobs.append(job)
        return jobs


class LiveStats:
    """Each live camera's sampling figures (gone a minute after the detector stops)."""

    KEY = "ronin:live:stats"

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def publish(self, rates: Mapping[UUID, LiveRate]) -> None:
        if not rates:
            return
        now = time.time()
        self._redis.hset(
            self.KEY,
            mapping={
                str(camera): orjson.dumps(
                    {
                        "fps": round(r.fps, 3),
                        "frames": r.frames,
                        "skipped": r.skipped,
                        "last_frame_at": r.last_frame_at,
                        "updated_at": now,
                    }
                )
                for camera, r in rates.items()
            },
        )
        self._redis.expire(self.KEY, 60)

    def read(self) -> dict[UUID, LiveRate]:
        out = {}
        for key, raw in self._redis.hgetall(self.KEY).items():
            data = orjson.loads(raw)
            camera = UUID(key.decode() if isinstance(key, bytes) else key)
            out[camera] = LiveRate(
                fps=float(data.get("fps") or 0.0),
                frames=int(data.get("frames") or 0),
                skipped=int(data.get("skipped") or 0),
                last_frame_at=data.get("last_frame_at"),
            )
        return out
