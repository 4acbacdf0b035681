"""Reading ffmpeg's pipes without threads: line splitting, progress, the log's file
openings (pure), and non-blocking reads of a real child's pipes."""

from __future__ import annotations

import subprocess
import sys
import time

from hypothesis import given
from hypothesis import strategies as st

from ingest.ffmpeg_log import opened_file
from ingest.ffmpeg_pipes import LineBuffer, PipeReader, latest_out_time_us, wait_readable

LINE = st.binary(max_size=40).map(lambda b: b.replace(b"\n", b""))


@given(st.lists(LINE, max_size=20), st.lists(st.integers(0, 400), max_size=10))
def test_lines_come_out_whole_however_the_bytes_are_cut(
    lines: list[bytes], cuts: list[int]
) -> None:
    data = b"".join(line + b"\n" for line in lines)
    buffer, out, at = LineBuffer(), [], 0
    for cut in [*sorted(c for c in cuts if c <= len(data)), len(data)]:
        out += buffer.feed(data[at:cut])
        at = cut
    assert out == lines
    assert buffer.rest() == []


def test_an_unfinished_last_line_is_kept_for_the_end() -> None:
    buffer = LineBuffer()
    assert buffer.feed(b"a\nb") == [b"a"]
    assert buffer.rest() == [b"b"]


def test_the_newest_progress_time_wins_and_unknown_times_are_skipped() -> None:
    block = [b"frame=10", b"out_time_us=1000000", b"progress=continue"]
    assert latest_out_time_us([*block, b"out_time_us=2000000"]) == 2_000_000
    assert latest_out_time_us([b"out_time_us=N/A", b"out_time_us=-5"]) is None
    assert latest_out_time_us([]) is None


def test_file_openings_name_the_muxer_and_path() -> None:
    segment = "[segment @ 0x55de4ca97780] Opening '/r/.incoming/c/run-1/00000005.mp4' for writing"
    live = "[hls @ 0x55de4ca7c180] Opening '/r/.streams/c/seg00000046.m4s.tmp' for writing"
    assert opened_file(segment) == ("segment", "/r/.incoming/c/run-1/00000005.mp4")
    assert opened_file(live) == ("hls", "/r/.streams/c/seg00000046.m4s.tmp")
    assert opened_file("Output #0, tee, to '...':") is None


def test_pipes_are_read_without_blocking_until_their_writer_exits() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys,time; print('one', flush=True); time.sleep(0.5);"
         " sys.stdout.write('two\\nthr'); sys.stdout.flush(); time.sleep(0.3)"],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    reader = PipeReader(child.stdout)
    lines: list[bytes] = []
    started = time.monotonic()
    while not reader.at_end and time.monotonic() - started < 10:
        if wait_readable({reader.fileno(): True}, 1.0):
            lines += reader.read_lines()
        else:
            assert reader.read_lines() == []  # nothing there: no wait
    child.wait()
    assert lines == [b"one", b"two", b"thr"]
    assert wait_readable({}, 0.01) == set()
