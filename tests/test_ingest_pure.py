"""Pure parts of ingest: names, the ffmpeg command, stderr summaries, segment lists."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from ingest.camera_config.credentials import CredentialCipher, Credentials, with_credentials
from ingest.camera_config.naming import safe_directory, segment_path, unique_directory
from ingest.child_process import stream_copier
from ingest.ffmpeg_command import (
    RecorderPlan,
    SubStreamPlan,
    codec_probe_command,
    demuxer_options,
    recorder_command,
    sub_stream_command,
)
from ingest.ffmpeg_log import summarise
from ingest.probe import parse_probe
from ingest.recorder import backoff_s, redact
from ingest.segment_list import ListedSegment, SegmentListReader, parse_line, wall_clock
from ingest.source_input import concat_script
from ingest.sub_stream import RelaySettings, retry_delay, stalled


@given(st.text(max_size=300))
def test_safe_directory_is_one_harmless_path_component(name: str) -> None:
    folder = safe_directory(name)
    assert folder and folder not in (".", "..")
    assert "/" not in folder and "\\" not in folder and "\x00" not in folder
    assert not folder.startswith(".")
    assert all(c.isprintable() for c in folder)
    assert len(folder) <= 100


def test_safe_directory_keeps_unicode_readable() -> None:
    assert safe_directory("Porte d'entrée ☂") == "Porte d'entrée ☂"
    assert safe_directory("../../etc/passwd") == "_.._etc_passwd"
    assert safe_directory("a\nb\tc") == "a b c"


@given(st.lists(st.text(max_size=20), max_size=8))
def test_unique_directory_never_clashes(names: list[str]) -> None:
    taken: list[str] = []
    for name in names:
        taken.append(unique_directory(name, taken))
    assert len({t.casefold() for t in taken}) == len(taken)


def test_segment_path_uses_local_date_and_time() -> None:
    start = datetime(2026, 11, 24, 14, 32, 5)
    assert segment_path("Door", start) == "Door/2026-11-24/14-32-05.mp4"
    assert segment_path("Door", start, 2) == "Door/2026-11-24/14-32-05-2.mp4"


def test_one_rtsp_connection_two_outputs_video_copied() -> None:
    plan = RecorderPlan(
        "rtsp://cam/1", Path("/s/run"), Path("/s/.streams/x"), 10, video_codec="hevc"
    )
    command = recorder_command(plan)
    assert command.count("-i") == 1
    assert command[command.index("-c:v") + 1] == "copy"
    assert command[command.index("-c:a") + 1] == "aac"
    assert command[command.index("-tag:v") + 1] == "hvc1"
    tee = command[command.index("tee") + 1]
    recording, ring = tee.split("]/s/run/%08d.mp4|")
    assert "f=segment" in recording and "segment_time=10" in recording
    assert "frag_keyframe+empty_moov" in recording and "segment_list=/s/run/segments.csv" in tee
    assert "frag_every_frame" in ring and "segment_wrap=3" in ring and "onfail=ignore" in ring
    assert ring.endswith("/s/.streams/x/live%d.mp4")
    assert "-tag:v" not in recorder_command(RecorderPlan("rtsp://c", Path("/a"), Path("/b")))


def test_a_sub_stream_is_copied_into_a_ring_of_its_own_and_never_recorded() -> None:
    command = sub_stream_command(SubStreamPlan("rtsp://cam/sub", Path("/s/.streams/x.sub")))
    assert command.count("-i") == 1 and command[command.index("-i") + 1] == "rtsp://cam/sub"
    assert command[command.index("-c:v") + 1] == "copy" and "-an" in command
    assert "tee" not in command and "-progress" not in command
    assert command[command.index("-f", command.index("-i")) + 1] == "segment"
    assert command[command.index("-segment_wrap") + 1] == "3"
    assert "frag_every_frame" in command[command.index("-segment_format_options") + 1]
    assert command[-1] == "/s/.streams/x.sub/live%d.mp4"
    secret = SubStreamPlan("rtsp://u:pw@cam/sub", Path("/r"), source_script=Path("/p/s.ffconcat"))
    assert "pw" not in " ".join(sub_stream_command(secret))
    assert secret.source_script_text and "rtsp://u:pw@cam/sub" in secret.source_script_text


@given(
    wrote_for=st.none() | st.floats(0, 1e5),
    failures=st.integers(0, 100),
)
def test_a_sub_stream_that_was_running_comes_back_at_once(
    wrote_for: float | None, failures: int
) -> None:
    settings = RelaySettings()
    delay = retry_delay(wrote_for, failures, settings)
    if wrote_for is not None and wrote_for >= settings.restart_after_s:
        assert delay == 0
    else:
        assert settings.backoff_base_s <= delay <= settings.backoff_cap_s


def test_a_sub_stream_is_stalled_when_its_ring_stops_growing() -> None:
    settings = RelaySettings(stall_s=15, connect_timeout_s=30)
    assert not stalled(started=0, wrote_at=None, now=29, settings=settings)
    assert stalled(started=0, wrote_at=None, now=31, settings=settings)
    assert not stalled(started=0, wrote_at=100, now=114, settings=settings)
    assert stalled(started=0, wrote_at=100, now=116, settings=settings)


def test_stderr_summaries_say_what_is_wrong() -> None:
    cases = {
        "method DESCRIBE failed: 401 Unauthorized": "401 Unauthorized",
        "rtsp://h: Connection refused": "connection refused",
        "Connection to tcp://10.9.9.9:554 failed: No route to host": "host unreachable",
        "Stream map '0:v:0' matches no streams.": "no video stream",
        "Error writing trailer: No space left on device": "disk full",
        "watchdog: stalled: timeout, no data from the camera": "timeout",
    }
    for line, expected in cases.items():
        assert expected in (summarise(["Input #0", line]) or "")
    assert summarise(["frame=  10 fps=15"]) is None


def test_redact_hides_credentials() -> None:
    line = "Input #0, rtsp, from 'rtsp://admin:s3cr3t@10.0.0.5:554/live':"
    assert redact(line) == "Input #0, rtsp, from 'rtsp://***@10.0.0.5:554/live':"


@given(st.integers(0, 100))
def test_backoff_doubles_and_is_capped(failures: int) -> None:
    assert backoff_s(failures, 1, 60) <= 60
    assert backoff_s(failures + 1, 1, 60) >= backoff_s(failures, 1, 60)
    assert backoff_s(0, 1, 60) == 1 and backoff_s(3, 1, 60) == 8


def test_segment_list_lines_and_wall_clock() -> None:
    assert parse_line("00000001.mp4,10.000000,20.500000") == ListedSegment("00000001.mp4", 10, 20.5)
    assert parse_line("garbage") is None and parse_line("a,b,c") is None
    anchor = datetime(2026, 1, 1, tzinfo=UTC)
    first = wall_clock(anchor, ListedSegment("a", 0, 10.5))
    second = wall_clock(anchor, ListedSegment("b", 10.5, 21))
    assert first[1] == second[0]


def test_segment_list_reader_waits_for_complete_lines(tmp_path: Path) -> None:
    path = tmp_path / "segments.csv"
    reader = SegmentListReader(str(path))
    assert reader.new_entries() == []
    path.write_text("00000000.mp4,0.0,10.0\n00000001.mp4,10.0,")
    assert [e.name for e in reader.new_entries()] == ["00000000.mp4"]
    with path.open("a") as f:
        f.write("20.0\n")
    assert reader.new_entries() == [ListedSegment("00000001.mp4", 10.0, 20.0)]


def test_parse_probe() -> None:
    output = json.dumps({
        "streams": [
            {"codec_type": "video", "codec_name": "hevc", "width": 1920, "height": 1080,
             "avg_frame_rate": "25/1"},
            {"codec_type": "audio", "codec_name": "aac"},
        ],
        "format": {"duration": "10.04"},
    })  # fmt: skip
    info = parse_probe(output)
    assert (info.video_codec, info.width, info.fps, info.audio_codec) == ("hevc", 1920, 25.0, "aac")
    assert info.duration_s == 10.04


def test_credentials_round_trip_and_url() -> None:
    cipher = CredentialCipher(CredentialCipher.new_key())
    token = cipher.encrypt(Credentials("admin", "p@ss:word"))
    assert "p@ss" not in token
    creds = cipher.decrypt(token)
    assert "p@ss" not in repr(creds)
    assert with_credentials("rtsp://cam:554/s", creds) == "rtsp://admin:p%40ss%3Aword@cam:554/s"


def test_a_url_with_credentials_goes_to_a_script_not_to_the_command_line() -> None:
    url = "rtsp://admin:p%40ss@cam.lan/stream"
    plan = RecorderPlan(url, Path("/s/run"), Path("/s/hls"), source_script=Path("/p/c.ffconcat"))
    command = recorder_command(plan)
    assert not [part for part in command if "p%40ss" in part]
    assert command[command.index("-i") + 1] == "/p/c.ffconcat"
    assert command[command.index("-f") + 1] == "concat"
    assert plan.source_script_text == (
        "ffconcat version 1.0\nfile 'rtsp://admin:p%40ss@cam.lan/stream'\n"
        "option rtsp_transport 'tcp'\noption timeout '5000000'\n"
        "option fpsprobesize '0'\noption probesize '4096'\n"
    )
    plain = RecorderPlan("rtsp://cam.lan/stream", Path("/a"), Path("/b"))
    assert plain.source_script_text is None
    assert recorder_command(plain)[recorder_command(plain).index("-i") + 1] == plain.input_url
    probe = codec_probe_command(url, 3, script=Path("/p/c.probe"))
    assert probe[-1] == "/p/c.probe" and "p%40ss" not in " ".join(probe)


def test_concat_script_quotes_what_it_must() -> None:
    assert concat_script("rtsp://u:p@h/it's", []) == (
        "ffconcat version 1.0\nfile 'rtsp://u:p@h/it'\\''s'\n"
    )


def test_the_quick_start_keeps_what_its_probe_read() -> None:
    # "nobuffer" drops the probed packets: the camera's first keyframe with them
    assert ("fflags", "nobuffer") not in demuxer_options(True) + demuxer_options(False)


def test_stream_copying_children_are_batch_tasks() -> None:
    child = subprocess.Popen(["sleep", "10"], preexec_fn=stream_copier())
    try:
        assert os.sched_getscheduler(child.pid) == os.SCHED_BATCH
    finally:
        child.kill()
        child.wait()
