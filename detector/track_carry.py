"""Tracks in view at a segment's end, kept for the job of the segment that follows.

Segments of one run share their boundary exactly, so the next segment's job finds the
previous one's tracker state by time: the latest state saved for the camera and model
that ended at most ``within_s`` before its start (a restart's hole shorter than that
still carries a track across). States are the detector's own (Redis keys under
``ronin:tracking:``, kept a day); nothing else reads them. When the previous job has not
finished yet (two workers), the next one starts afresh: the object gets a second track,
nothing is lost.
"""

from __future__ import annotations

from typing import Any

import redis
from pydantic import TypeAdapter

from detector.tracking import TrackerState
from events.catalogue import SegmentClosed

_STATE = TypeAdapter(TrackerState)
_KEEP_S = 86_400


def _ms(segment_time: Any) -> int:
    return int(segment_time.timestamp() * 1000)


class TrackCarry:
    def __init__(self, client: redis.Redis) -> None:
        self._redis: Any = client

    @staticmethod
    def _keys(model_id: str, segment: SegmentClosed) -> tuple[str, str]:
        base = f"ronin:tracking:{model_id}:{segment.camera_id}"
        return f"{base}:ends", f"{base}:states"

    def save(self, segment: SegmentClosed, model_id: str, state: TrackerState) -> None:
        ends, states = self._keys(model_id, segment)
        end = _ms(segment.end)
        pipe = self._redis.pipeline()
        pipe.zadd(ends, {str(segment.segment_id): end})
        pipe.hset(states, str(segment.segment_id), _STATE.dump_json(state))
        old = self._redis.zrangebyscore(ends, "-inf", end - _KEEP_S * 1000)
        if old:
            pipe.zrem(ends, *old)
            pipe.hdel(states, *old)
        pipe.expire(ends, _KEEP_S)
        pipe.expire(states, _KEEP_S)
        pipe.execute()

    def before(self, segment: SegmentClosed, model_id: str, within_s: float) -> TrackerState:
        """The state the previous segment ended with (empty when there is none)."""
        ends, states = self._keys(model_id, segment)
        start = _ms(segment.start)
        found = self._redis.zrevrangebyscore(ends, start + 500, start - within_s * 1000)
        for member in found:
            if member.decode() == str(segment.segment_id):
                continue
            raw = self._redis.hget(states, member)
            if raw is not None:
                return _STATE.validate_json(raw)
        return TrackerState()
