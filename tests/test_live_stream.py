"""The live stream's pieces: fMP4 parsing, what a new viewer gets, following the ring."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import time
from pathlib import Path
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.live_feed import RESTARTED, TOO_SLOW, Ending, LiveFeeds
from ingest.live.fmp4 import Fragment, InitSegment, StreamParser, boxes, hevc_codec
from ingest.live.gop import Gop, LiveState, Step
from ingest.live.hls import find_init, init_name, playlist
from ingest.live.ring import (
    STREAMS_DIR,
    LiveStreamKind,
    RingFollower,
    default_streams_root,
    private_folder,
    ring_dir,
    ring_to_read,
)

FPS, GOP = 10, 5


def _encode(path: Path, seconds: float, audio: bool = True) -> bytes:
    """Per-frame fragmented MP4 as the live ring holds it (H.264 High, AAC), a keyframe
    every GOP frames."""
    sources = ["-f", "lavfi", "-i", f"testsrc=size=320x240:rate={FPS}"]
    if audio:
        sources += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", *sources, "-t", str(seconds),
         "-c:v", "libx264", "-pix_fmt", "yuv420p", "-profile:v", "high", "-g", str(GOP), "-bf", "0",
         *(["-c:a", "aac"] if audio else []),
         "-movflags", "+empty_moov+default_base_moof+frag_every_frame+skip_trailer", str(path)],
        check=True,
    )  # fmt: skip
    return path.read_bytes()


@pytest.fixture(scope="module")
def stream(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return _encode(tmp_path_factory.mktemp("live") / "live.mp4", 2.0)


def _pieces(data: bytes) -> list[InitSegment | Fragment]:
    return StreamParser().feed(data)


def test_the_init_segment_names_the_codecs_and_the_video_track(stream: bytes) -> None:
    init = _pieces(stream)[0]
    assert isinstance(init, InitSegment)
    assert init.codecs.startswith("avc1.6400") and init.codecs.endswith(",mp4a.40.2")
    assert init.video is not None and init.video.handler == "vide"


def test_each_video_frame_is_a_fragment_and_every_gopth_one_a_keyframe(stream: bytes) -> None:
    fragments = [p for p in _pieces(stream) if isinstance(p, Fragment)]
    video = [f for f in fragments if f.decode_time is not None]
    assert len(video) == 2 * FPS
    assert [i for i, f in enumerate(video) if f.keyframe] == list(range(0, 2 * FPS, GOP))
    times = [f.decode_time for f in video]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert all(f.duration > 0 for f in video)
    assert not any(f.keyframe for f in fragments if f.decode_time is None)  # audio


@given(cuts=st.lists(st.integers(0, 10**6), max_size=30))
def test_any_chunking_gives_the_same_pieces(stream: bytes, cuts: list[int]) -> None:
    parser, pieces, at = StreamParser(), [], 0
    for cut in [*sorted({c % (len(stream) + 1) for c in cuts}), len(stream)]:
        pieces += parser.feed(stream[at:cut])
        at = cut
    assert [p.data for p in pieces] == [p.data for p in _pieces(stream)]


def test_a_box_walk_stops_at_a_truncated_box() -> None:
    box = (12).to_bytes(4, "big") + b"free" + b"abcd"
    assert list(boxes(box + box[:10])) == [("free", b"abcd")]


def test_hevc_codec_string_follows_rfc_6381() -> None:
    # Main profile, main tier, level 3.1 (93), compatibility flags 1 and 2, progressive
    config = bytes([1, 0x01, 0x60, 0, 0, 0, 0xB0, 0, 0, 0, 0, 0, 93])
    assert hevc_codec("hvc1", config) == "hvc1.1.6.L93.B0"


def _video(keyframe: bool, time: int) -> Fragment:
    return Fragment(b"v%d" % time, keyframe, time, 1)


INIT = InitSegment(b"init", "avc1.640028", None)


@given(st.lists(st.booleans(), min_size=1, max_size=60))
def test_a_new_viewer_starts_at_the_newest_keyframe(keys: list[bool]) -> None:
    state = LiveState()
    assert state.add(INIT) is Step.SEND
    fragments = [_video(key, t) for t, key in enumerate(keys)]
    assert all(state.add(f) is Step.SEND for f in fragments)
    start = state.start()
    if True not in keys:
        assert start == []
        return
    last_key = len(keys) - 1 - keys[::-1].index(True)
    assert start == [INIT, *fragments[last_key:]]


def test_the_same_init_again_is_skipped_and_a_new_run_restarts_viewers() -> None:
    state = LiveState()
    state.add(INIT)
    state.add(_video(True, 100))
    assert state.add(InitSegment(b"init", "avc1.640028", None)) is Step.SKIP  # next ring file
    assert state.add(_video(False, 101)) is Step.SEND
    assert state.add(_video(True, 0)) is Step.RESTART  # a new ffmpeg run: time starts again
    assert state.start() == [INIT, _video(True, 0)]
    assert state.add(InitSegment(b"other", "hvc1", None)) is Step.RESTART  # another codec
    assert state.start() == []


def test_the_follower_reads_as_written_and_moves_to_the_next_ring_file(
    stream: bytes, tmp_path: Path
) -> None:
    follower = RingFollower(tmp_path)
    assert follower.read() == []  # no live output yet
    whole = _pieces(stream)
    first = tmp_path / "live0.mp4"
    first.write_bytes(stream[: len(stream) // 2])
    got = follower.read()
    with first.open("ab") as f:
        f.write(stream[len(stream) // 2 :])
    got += follower.read()
    assert [p.data for p in got] == [p.data for p in whole]
    assert follower.read() == []
    (tmp_path / "live1.mp4").write_bytes(stream)  # the ring moved on: a newer file begins
    later = follower.read()
    assert len(later) == len(whole) and _video_times(got + later) == _continuous(got + later)
    first.write_bytes(stream)  # the ring came round: live0 is written anew
    again = follower.read()
    assert _video_times(got + later + again) == _continuous(got + later + again)
    follower.close()


def _video_times(pieces: list[InitSegment | Fragment]) -> list[int]:
    return [p.decode_time for p in pieces if isinstance(p, Fragment) and p.decode_time is not None]


def _continuous(pieces: list[InitSegment | Fragment]) -> list[int]:
    """The decode times one timeline would have: each video frame where the last ended."""
    video = [p for p in pieces if isinstance(p, Fragment) and p.decode_time is not None]
    times = [video[0].decode_time or 0]
    for f in video[:-1]:
        times.append(times[-1] + f.duration)
    return times


def test_real_ring_files_join_into_one_timeline_for_every_track(tmp_path: Path) -> None:
    """ffmpeg starts each ring file's decode times at zero; the follower's stream runs on,
    and so do the bytes a player parses (tfdt of audio and video alike)."""
    ring = tmp_path / "ring"
    ring.mkdir()
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"testsrc=size=160x120:rate={FPS}",
         "-f", "lavfi", "-i", "sine=sample_rate=48000", "-t", "6", "-c:v", "libx264",
         "-pix_fmt", "yuv420p", "-g", str(GOP), "-c:a", "aac", "-f", "segment",
         "-segment_time", "2", "-segment_format", "mp4", "-segment_format_options",
         "movflags=+empty_moov+default_base_moof+frag_every_frame+skip_trailer",
         str(tmp_path / "live%d.mp4")],
        check=True,
    )  # fmt: skip
    files = sorted(tmp_path.glob("live*.mp4"))
    assert len(files) >= 3 and all(_video_times(_pieces(f.read_bytes()))[0] == 0 for f in files)
    follower, got = RingFollower(ring), []
    for n, made in enumerate(files):
        (ring / f"live{n}.mp4").write_bytes(made.read_bytes())
        got += follower.read()
    follower.close()
    assert _video_times(got) == _continuous(got)
    reparsed = StreamParser()  # what a player sees: the rewritten bytes, in order
    pieces = [q for p in got for q in reparsed.feed(p.data) if isinstance(p, Fragment)]
    assert _video_times(pieces) == _video_times(got)
    audio = [_tfdt(p.data) for p in got if isinstance(p, Fragment) and p.decode_time is None]
    assert audio == sorted(audio) and len(set(audio)) == len(audio)


def _tfdt(data: bytes) -> int:
    """The decode time in a fragment's first track run."""
    moof = next(p for k, p in boxes(data) if k == "moof")
    traf = next(p for k, p in boxes(moof) if k == "traf")
    tfdt = next(p for k, p in boxes(traf) if k == "tfdt")
    return int.from_bytes(tfdt[4:12] if tfdt[0] == 1 else tfdt[4:8], "big")


def test_the_follower_notices_a_new_run_replacing_the_folder(stream: bytes, tmp_path: Path) -> None:
    (tmp_path / "live0.mp4").write_bytes(stream)
    follower = RingFollower(tmp_path)
    before = follower.read()
    (tmp_path / "live0.mp4").unlink()  # a new run starts with a fresh folder
    (tmp_path / "live0.mp4").write_bytes(stream[:20000])
    after = follower.read()
    assert len(after) == len(_pieces(stream[:20000])) and after[0].data == before[0].data
    assert len(_video_times(after)) >= 2
    assert _video_times(before + after) == _continuous(before + after)  # one timeline
    follower.close()


def test_complete_groups_of_pictures_are_numbered_with_their_duration(stream: bytes) -> None:
    state = LiveState()
    for piece in _pieces(stream):
        state.add(piece)
    gops = list(state.recent)
    assert [g.sequence for g in gops] == list(range(len(gops)))
    assert len(gops) == 2 * FPS // GOP - 1  # the last group is not complete yet
    assert all(g.fragments[0].keyframe and abs(g.duration_s - GOP / FPS) < 0.05 for g in gops)
    assert state.start()[1] is state.gop[0] and state.gop[0].keyframe


def _gop(sequence: int, epoch: int = 0, init: InitSegment = INIT, duration: float = 1.0) -> Gop:
    return Gop(sequence, epoch, init, (_video(True, sequence),), duration)


def test_the_hls_playlist_lists_the_newest_groups_with_their_init_segment() -> None:
    text = playlist([_gop(n) for n in range(10)], window=6)
    assert text is not None
    lines = text.splitlines()
    assert "#EXT-X-MEDIA-SEQUENCE:4" in lines and "#EXT-X-TARGETDURATION:1" in lines
    assert [ln for ln in lines if ln.startswith("seg")] == [f"seg{n:08d}.m4s" for n in range(4, 10)]
    assert lines.count(f'#EXT-X-MAP:URI="{init_name(INIT)}"') == 1
    assert playlist([]) is None


def test_a_restart_is_a_discontinuity_and_a_new_init_a_new_map() -> None:
    other = InitSegment(b"other", "hvc1", None)
    text = playlist([_gop(5), _gop(6), _gop(7, epoch=1, init=other), _gop(8, epoch=1, init=other)])
    assert text is not None
    assert text.count("#EXT-X-DISCONTINUITY\n") == 1 and "#EXT-X-DISCONTINUITY-SEQUENCE:0" in text
    assert text.index(init_name(other)) > text.index("seg00000006.m4s")
    later = playlist([_gop(7, epoch=1), _gop(8, epoch=1)])
    assert later is not None and "#EXT-X-DISCONTINUITY-SEQUENCE:1" in later
    assert find_init(init_name(other), [INIT, other]) is other


def test_a_feed_sends_a_new_viewer_the_newest_keyframe_on_and_drops_one_too_slow(
    stream: bytes, tmp_path: Path
) -> None:
    whole = _pieces(stream)

    async def watch() -> tuple[list[object], list[object]]:
        camera = uuid4()
        ring = tmp_path / ".streams" / str(camera)
        ring.mkdir(parents=True)
        (ring / "live0.mp4").write_bytes(stream)
        feeds = LiveFeeds(tmp_path / ".streams", poll_s=0.005, max_backlog=len(whole))
        reader, slow = feeds.join(camera), feeds.join(camera)
        got: list[object] = []

        async def drain() -> None:
            for _ in range(50):
                await asyncio.sleep(0.01)
                while not reader.queue.empty():
                    got.append(reader.queue.get_nowait())

        await drain()
        (ring / "live1.mp4").write_bytes(stream)  # the next ring file: the slow one never reads
        await drain()
        left = [slow.queue.get_nowait() for _ in range(slow.queue.qsize())]
        await feeds.close()
        return got, left

    got, left = asyncio.run(watch())
    assert isinstance(got[0], InitSegment)
    assert isinstance(got[1], Fragment) and got[1].keyframe  # from the newest keyframe on
    assert len(got) < len(whole) + len(whole) - 1  # not the first file's older groups
    video = [p for p in got if isinstance(p, Fragment)]
    assert _video_times(video)[-1] > _video_times(whole)[-1]  # the second file, moved on
    assert not any(isinstance(p, Ending) for p in got) and left[-1] == TOO_SLOW


def test_a_feed_restarts_its_viewers_when_the_stream_changes(stream: bytes, tmp_path: Path) -> None:
    async def watch() -> list[object]:
        camera = uuid4()
        ring = tmp_path / ".streams" / str(camera)
        ring.mkdir(parents=True)
        (ring / "live0.mp4").write_bytes(stream)
        feeds = LiveFeeds(tmp_path / ".streams", poll_s=0.005)
        viewer = feeds.join(camera)
        await asyncio.sleep(0.1)
        other = _encode(tmp_path / "other.mp4", 1.0, audio=False)  # another codec set
        (ring / "live1.mp4").write_bytes(other)
        await asyncio.sleep(0.2)
        got = [viewer.queue.get_nowait() for _ in range(viewer.queue.qsize())]
        await feeds.close()
        return got

    got = asyncio.run(watch())
    assert isinstance(got[0], InitSegment) and got[-1] == RESTARTED


def test_live_rings_go_to_memory_when_the_machine_has_it(tmp_path: Path) -> None:
    memory = tmp_path / "shm"
    memory.mkdir()
    first, second = Path("/srv/a/recordings"), Path("/srv/b/recordings")
    assert default_streams_root(first, memory).parent == memory
    assert default_streams_root(first, memory) == default_streams_root(first, memory)
    assert default_streams_root(first, memory) != default_streams_root(second, memory)
    assert default_streams_root(first, tmp_path / "none") == first / STREAMS_DIR
    small = default_streams_root(first, memory, least_bytes=1 << 62)  # a container's 64 MB
    assert small == first / STREAMS_DIR
    made = default_streams_root(first, memory)
    assert made.is_dir() and stat.S_IMODE(made.stat().st_mode) == 0o700  # live video
    # in a world-writable place, a folder someone else made first is never used
    os.chown(made, 12345, 12345)
    assert default_streams_root(first, memory) == first / STREAMS_DIR
    elsewhere = tmp_path / "theirs"
    elsewhere.mkdir()
    os.symlink(elsewhere, memory / "link")  # a link to a folder of theirs
    assert not private_folder(memory / "link")


def test_a_sub_ring_is_read_while_it_is_written_else_the_main_ring(
    stream: bytes, tmp_path: Path
) -> None:
    camera = uuid4()
    main, sub = (ring_dir(tmp_path, camera, kind) for kind in LiveStreamKind)
    assert ring_to_read(tmp_path, camera, LiveStreamKind.SUB) == main  # no sub-stream
    sub.mkdir()
    (sub / "live0.mp4").write_bytes(stream)
    assert ring_to_read(tmp_path, camera, LiveStreamKind.SUB) == sub
    assert ring_to_read(tmp_path, camera, LiveStreamKind.MAIN) == main
    old = time.time() - 60
    os.utime(sub / "live0.mp4", (old, old))  # its ffmpeg stopped writing a minute ago
    assert ring_to_read(tmp_path, camera, LiveStreamKind.SUB) == main


def test_viewers_of_a_sub_ring_that_stops_start_again_on_the_main_ring(
    stream: bytes, tmp_path: Path
) -> None:
    async def watch() -> tuple[list[object], int]:
        camera = uuid4()
        streams = tmp_path / ".streams"
        main, sub = (ring_dir(streams, camera, kind) for kind in LiveStreamKind)
        for ring in (main, sub):
            ring.mkdir(parents=True)
            (ring / "live0.mp4").write_bytes(stream)
        feeds = LiveFeeds(tmp_path / ".streams", poll_s=0.005)
        viewer = feeds.join(camera, LiveStreamKind.SUB)
        assert feeds.viewers(camera, LiveStreamKind.SUB) == 1
        old = time.time() - 60
        os.utime(sub / "live0.mp4", (old, old))
        await asyncio.sleep(1.3)  # a sub feed checks its ring once a second
        got = [viewer.queue.get_nowait() for _ in range(viewer.queue.qsize())]
        feeds.leave(viewer)
        feeds.join(camera, LiveStreamKind.SUB)  # the player reconnects: the main ring
        main_viewers = feeds.viewers(camera, LiveStreamKind.MAIN)
        await feeds.close()
        return got, main_viewers

    got, main_viewers = asyncio.run(watch())
    assert isinstance(got[0], InitSegment) and got[-1] == RESTARTED and main_viewers == 1
