"""Pure parts of staying up: restart schedules, exit reasons, the quick-start command,
the outbox, byte ranges of a growing file, and the open-segment read model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from fastapi import HTTPException
from hypothesis import given
from hypothesis import strategies as st

from api.recordings import byte_range
from events.catalogue import CameraConnected, Event, SegmentOpened
from events.errors import StoreUnavailable
from events.outbox import Outbox
from infra.supervisor import backoff_s as supervisor_backoff_s
from ingest.ffmpeg_command import RecorderPlan, codec_probe_command, recorder_command
from ingest.ffmpeg_log import needs_probing
from ingest.recorder import RecorderSettings, exit_reason, retry_delay_s
from projector.readmodels import recordings_projection
from projector.readmodels.segments import OPEN_SEGMENTS
from projector.rows import Delete, DeleteWhere, Upsert, fold
from tests.factories import segment_closed

SETTINGS = RecorderSettings(log_dir=Path("/tmp"), backoff_base_s=1, backoff_cap_s=10)


@given(st.integers(0, 200), st.floats(0, 179.9))
def test_an_outage_is_probed_every_second_at_first(failures: int, outage_s: float) -> None:
    assert retry_delay_s(failures, outage_s, SETTINGS) == SETTINGS.fast_retry_s


@given(st.integers(0, 200), st.floats(180, 1e6) | st.none())
def test_later_and_never_connected_cameras_back_off_to_the_cap(
    failures: int, outage_s: float | None
) -> None:
    delay = retry_delay_s(failures, outage_s, SETTINGS)
    assert 1 <= delay <= 10
    assert retry_delay_s(failures + 1, outage_s, SETTINGS) >= delay


def test_supervisor_restarts_at_once_then_backs_off() -> None:
    assert supervisor_backoff_s(0) == 0.0 and supervisor_backoff_s(1) == 0.25
    assert supervisor_backoff_s(4) == 2.0 and supervisor_backoff_s(1000) == 30.0


def test_exit_reasons_say_what_happened() -> None:
    assert exit_reason([], 0) == "the camera ended the stream (it closed the connection)"
    assert exit_reason([], -9) == "ffmpeg was killed (signal 9)"
    assert exit_reason([], 1) == "ffmpeg exited with code 1"
    refused = ["[tcp @ 0x1] Connection to tcp://127.0.0.1:9 failed: Connection refused"]
    assert exit_reason(refused, 1).startswith("connection refused")


def test_quick_start_reads_parameters_from_the_session_description() -> None:
    plan = RecorderPlan("rtsp://c/1", Path("/s/run"), Path("/s/hls"))
    command = recorder_command(plan)
    assert command[command.index("-fpsprobesize") + 1] == "0"
    assert command.index("-fpsprobesize") < command.index("-i")
    assert "frag_duration=500000" in command[command.index("tee") + 1]
    slow = recorder_command(RecorderPlan("rtsp://c/1", Path("/a"), Path("/b"), quick_start=False))
    assert "-fpsprobesize" not in slow
    assert needs_probing(["Could not find codec parameters for stream 0 (Video: h264)"])
    assert not needs_probing(["Connection refused"])
    probe = codec_probe_command("rtsp://c/1", 3)
    assert probe[-1] == "rtsp://c/1" and "stream=codec_name" in probe


def test_outbox_keeps_order_through_an_outage() -> None:
    appended: list[Event] = []
    down, clock = [True], [0.0]

    def append(event: Event) -> None:
        if down[0]:
            raise StoreUnavailable("down")
        appended.append(event)

    outbox = Outbox(append, retry_s=1.0, clock=lambda: clock[0])
    events = [CameraConnected(camera_id=uuid4(), worker="w") for _ in range(3)]
    for event in events:
        outbox.emit(event)
    assert len(outbox) == 3 and appended == []
    down[0] = False
    assert not outbox.flush()  # not before retry_s
    clock[0] = 1.5
    assert outbox.flush() and appended == events and len(outbox) == 0


@given(st.integers(1, 10_000), st.integers(0, 20_000), st.integers(0, 20_000))
def test_byte_ranges_stay_inside_what_is_written(size: int, first: int, last: int) -> None:
    try:
        got = byte_range(f"bytes={first}-{last}", size)
    except HTTPException as e:
        assert e.status_code == 416 and (first >= size or last < first)
        return
    assert got is not None
    start, end = got
    assert 0 <= start < end <= size and start == first and end == min(last + 1, size)


def test_byte_range_forms() -> None:
    assert byte_range(None, 100) is None and byte_range("items=0-1", 100) is None
    assert byte_range("bytes=90-", 100) == (90, 100)
    assert byte_range("bytes=-10", 100) == (90, 100)
    assert byte_range("bytes=0-1,5-6", 100) is None
    with pytest.raises(HTTPException):
        byte_range("bytes=100-", 100)


def test_open_segment_is_replaced_by_the_next_and_removed_by_its_close() -> None:
    projection = recordings_projection()
    camera = uuid4()
    start = datetime(2026, 12, 1, 8, tzinfo=UTC)

    def opened(n: int) -> SegmentOpened:
        return SegmentOpened(segment_id=uuid4(), camera_id=camera, path=f".incoming/r/{n}.mp4",
                             start=start + timedelta(seconds=10 * n), video_codec="h264",
                             width=640, height=360)  # fmt: skip

    first, second = opened(0), opened(1)
    closed = segment_closed(camera).model_copy(update={"opened_as": first.segment_id})
    ops = [op for e in (first, second, closed) for op in projection.handlers[type(e)](e)]
    assert DeleteWhere(OPEN_SEGMENTS, "camera_id", camera) in ops
    assert Delete(OPEN_SEGMENTS, (first.segment_id,)) in ops
    folded = fold(ops)
    assert list(folded.upserts["open_segments"]) == [(second.segment_id,)]
    assert isinstance(ops[1], Upsert) and ops[1].row["path"] == ".incoming/r/0.mp4"
