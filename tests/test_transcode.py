"""H.265 transcoding of a real segment: playable, same duration, smaller, read model
updated; a failure leaves the original untouched; a crash after the swap is mended."""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import psycopg
import pytest

from events.archive import EventArchive
from events.catalogue import SegmentClosed
from events.errors import MediaError
from events.store import RedisEventStore
from ingest.lifecycle.transcode import (
    PostgresTranscodeQueue,
    Transcoder,
    TranscodeSettings,
    choose_encoder,
    durations_match,
    transcode_command,
)
from ingest.probe import probe
from ingest.segment_store import segment_id_for
from tests.factories import T0
from tests.test_retention import project


def test_commands_and_checks_are_pure() -> None:
    command = transcode_command(Path("a.mp4"), Path("b.mp4"), TranscodeSettings(crf=30))
    assert command[command.index("-c:v") + 1] == "libx265" and "30" in command
    assert command[command.index("-tag:v") + 1] == "hvc1"
    assert durations_match(10.0, 10.06, 15) and not durations_match(10.0, 10.2, 15)
    assert choose_encoder(["libx265", "hevc_vaapi"]) == "hevc_vaapi"
    assert choose_encoder(["libx265"]) == "libx265"
    with pytest.raises(MediaError, match="not usable"):
        choose_encoder(["libx265"], "hevc_nvenc")


def segment(root: Path, store: RedisEventStore) -> SegmentClosed:
    relative = f"Door/{T0.astimezone():%Y-%m-%d/%H-%M-%S}.mp4"
    path = root / relative
    path.parent.mkdir(parents=True)
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i",
         "testsrc2=size=640x360:rate=15:duration=6", "-f", "lavfi", "-i",
         "sine=frequency=440:duration=6", "-c:v", "libx264", "-preset", "ultrafast", "-g", "15",
         "-c:a", "aac", "-shortest", str(path)],
        check=True,
    )  # fmt: skip
    info = probe(path)
    camera = uuid4()
    event = SegmentClosed(
        segment_id=segment_id_for(camera, relative), camera_id=camera, path=relative, start=T0,
        end=T0 + timedelta(seconds=info.duration_s), duration_s=info.duration_s,
        bytes=path.stat().st_size, video_codec=info.video_codec, width=640, height=360,
        fps=15.0, audio_codec="aac",
    )  # fmt: skip
    store.append(event)
    return event


def transcoder(root: Path, database_url: str, store: RedisEventStore, **kw: object) -> Transcoder:
    return Transcoder(
        root,
        PostgresTranscodeQueue(psycopg.connect(database_url)),
        store.append,
        TranscodeSettings(after=timedelta(0), **kw),  # type: ignore[arg-type]
    )


def test_a_real_segment_is_transcoded_verified_and_swapped(
    store: RedisEventStore, archive: EventArchive, database_url: str, tmp_path: Path
) -> None:
    original = segment(tmp_path, store)
    project(store, database_url, archive)
    worker = transcoder(tmp_path, database_url, store, preset="ultrafast")
    assert worker.run_once() == 1
    path = tmp_path / original.path
    info = probe(path)
    assert info.video_codec == "hevc" and info.audio_codec == "aac"
    assert durations_match(original.duration_s, info.duration_s, 15)
    assert path.stat().st_size < original.bytes
    played = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"],
                            capture_output=True, text=True)  # fmt: skip
    assert played.returncode == 0 and not played.stderr
    project(store, database_url, archive)
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT video_codec, bytes FROM recordings.segments").fetchone()
    assert row == ("hevc", path.stat().st_size)
    assert worker.run_once() == 0  # nothing left: H.265 now
    assert not list((tmp_path / ".transcode").iterdir())


def test_a_failed_transcode_leaves_the_original_untouched(
    store: RedisEventStore, archive: EventArchive, database_url: str, tmp_path: Path
) -> None:
    original = segment(tmp_path, store)
    project(store, database_url, archive)
    before = (tmp_path / original.path).read_bytes()
    broken = transcoder(tmp_path, database_url, store, preset="no-such-preset")
    assert broken.run_once() == 0
    assert (tmp_path / original.path).read_bytes() == before
    assert not list((tmp_path / ".transcode").iterdir())
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT video_codec FROM recordings.segments").fetchone()
    assert row == ("h264",)


def test_a_crash_after_the_swap_is_announced_on_the_next_pass(
    store: RedisEventStore, archive: EventArchive, database_url: str, tmp_path: Path
) -> None:
    original = segment(tmp_path, store)
    project(store, database_url, archive)
    path = tmp_path / original.path
    hevc = tmp_path / "hevc.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-c:v", "libx265", "-preset",
                    "ultrafast", "-x265-params", "log-level=error", "-c:a", "copy", str(hevc)],
                   check=True)  # fmt: skip
    shutil.move(hevc, path)  # swapped, then the worker died before its event
    assert transcoder(tmp_path, database_url, store).run_once() == 1
    project(store, database_url, archive)
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT video_codec, bytes FROM recordings.segments").fetchone()
    assert row == ("hevc", path.stat().st_size)
