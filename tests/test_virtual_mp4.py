"""Any range of recordings as one MP4 laid out from their fragments (never written)."""

from __future__ import annotations

import itertools
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.live.virtual_mp4 import Layout, Source, index_file, plan_range

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _recording(path: Path, seconds: int, audio: bool = True) -> Path:
    """A segment as ingest writes it: fragmented, a keyframe a second, AAC audio."""
    sources = ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=10"]
    if audio:
        sources += ["-f", "lavfi", "-i", "sine=sample_rate=48000"]
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", *sources, "-t", str(seconds), "-c:v", "libx264",
         "-pix_fmt", "yuv420p", "-g", "10", *(["-c:a", "aac"] if audio else []),
         "-movflags", "+frag_keyframe+empty_moov+default_base_moof", "-frag_duration",
         "500000", str(path)],
        check=True,
    )  # fmt: skip
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("segments")
    return [_recording(folder / f"{n}.mp4", 10) for n in range(3)]


def _bytes(layout: Layout, start: int = 0, end: int | None = None) -> bytes:
    """Bytes ``[start, end)`` of the file, read as the API serves them."""
    out = b""
    for part in layout.slices(start, layout.size if end is None else end):
        if isinstance(part, bytes):
            out += part
        else:
            with part[0].open("rb") as f:
                f.seek(part[1])
                out += f.read(part[2])
    return out


def _probe(data: bytes, tmp_path: Path) -> tuple[float, list[float]]:
    path = tmp_path / "range.mp4"
    path.write_bytes(data)
    duration = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
         str(path)], capture_output=True, text=True, check=True).stdout  # fmt: skip
    times = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries",
         "packet=pts_time", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return float(duration), sorted(float(t) for t in times.split())


def test_an_index_lists_the_video_fragments_and_their_keyframes(clips: list[Path]) -> None:
    index = index_file(clips[0])
    assert index is not None and index.init.codecs.startswith("avc1.")
    assert len(index.fragments) >= 19 and index.fragments[0].keyframe
    assert sum(f.keyframe for f in index.fragments) == 10  # one a second


def test_three_segments_across_midnight_play_as_one_timeline(
    clips: list[Path], tmp_path: Path
) -> None:
    sources = [Source(index_file(c), T0 + timedelta(seconds=s))  # type: ignore[arg-type]
               for c, s in zip(clips, (-15, -5, 5), strict=True)]  # fmt: skip
    layout = plan_range(sources, T0 - timedelta(seconds=10.5), T0 + timedelta(seconds=12))
    assert layout is not None and layout.origin == T0 - timedelta(seconds=11)  # a keyframe
    duration, times = _probe(_bytes(layout), tmp_path)
    assert abs(duration - 23) <= 0.6
    steps = [b - a for a, b in itertools.pairwise(times)]
    assert max(steps) < 0.15 and abs(times[0]) < 0.3  # 10 fps, no jump at the joins


def test_a_gap_in_the_recording_is_a_gap_in_media_time(clips: list[Path], tmp_path: Path) -> None:
    sources = [
        Source(index_file(clips[0]), T0),  # type: ignore[arg-type]
        Source(index_file(clips[1]), T0 + timedelta(seconds=30)),
    ]  # type: ignore[arg-type]
    layout = plan_range(sources, T0, T0 + timedelta(seconds=40))
    assert layout is not None
    _, times = _probe(_bytes(layout), tmp_path)
    assert any(30 < t < 30.5 for t in times) and not any(10.5 < t < 29.9 for t in times)


def test_nothing_in_the_range_is_none(clips: list[Path]) -> None:
    sources = [Source(index_file(clips[0]), T0)]  # type: ignore[arg-type]
    assert plan_range(sources, T0 + timedelta(hours=1), T0 + timedelta(hours=2)) is None
    assert plan_range([], T0, T0 + timedelta(hours=1)) is None


@given(st.integers(0, 10**6), st.integers(0, 10**6))
def test_any_byte_range_is_that_part_of_the_whole(clips: list[Path], a: int, b: int) -> None:
    layout = plan_range([Source(index_file(clips[0]), T0)], T0, T0 + timedelta(seconds=9))  # type: ignore[arg-type]
    assert layout is not None
    whole = _bytes(layout)
    lo, hi = sorted((a % (layout.size + 1), b % (layout.size + 1)))
    assert _bytes(layout, lo, hi) == whole[lo:hi] and len(whole) == layout.size
