"""Background H.265 re-encoding of closed segments (optional, off by default).

Segments recorded in another codec and older than ``after`` are re-encoded one at a time
(``nice`` 19, few threads: live recording always comes first) into a temporary file on
the same filesystem, then verified (the new file decodes from start to end, and its
duration matches the original's within one frame) and only then swapped in with an
atomic rename, and ``SegmentTranscoded`` (old and new size and codec) is emitted; the
projectors update the segment's size and codec, so the storage figures show the saving.
A failed or unconvincing transcode leaves the original untouched; a result that is not
smaller is thrown away. A crash between the swap and the event is mended on the next
pass: a file that already is H.265 is only announced.

Encoders: ``libx265`` on the CPU; ``hevc_nvenc``, ``hevc_qsv`` or ``hevc_vaapi`` when
ffmpeg has them and a test encode with them works (:func:`usable_encoders`).
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg

from events.catalogue import Event, SegmentTranscoded
from events.errors import MediaError
from ingest.probe import ProbeFailed, probe
from projector.readmodels import segments

log = logging.getLogger(__name__)

HARDWARE_ENCODERS = ("hevc_nvenc", "hevc_qsv", "hevc_vaapi")
WORK_DIR = ".transcode"


@dataclass(frozen=True, slots=True)
class TranscodeSettings:
    after: timedelta = timedelta(hours=24)
    encoder: str = "libx265"
    crf: int = 28
    preset: str = "fast"
    threads: int = 1
    interval_s: float = 300.0


@dataclass(frozen=True, slots=True)
class Candidate:
    segment_id: UUID
    camera_id: UUID
    path: str
    bytes: int
    video_codec: str
    duration_s: float
    fps: float


def transcode_command(source: Path, target: Path, settings: TranscodeSettings) -> list[str]:
    """ffmpeg arguments: video to H.265 (tagged hvc1 for browsers), audio copied."""
    video = ["-c:v", settings.encoder]
    if settings.encoder == "libx265":
        video += [
            *("-preset", settings.preset, "-crf", str(settings.crf)),
            *("-x265-params", f"log-level=error:pools={settings.threads}"),
        ]
    elif settings.encoder == "hevc_vaapi":
        video = ["-vf", "format=nv12,hwupload", *video, "-qp", str(settings.crf)]
    else:
        video += ["-cq" if settings.encoder == "hevc_nvenc" else "-global_quality",
                  str(settings.crf)]  # fmt: skip
    return [
        *("ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"),
        *("-threads", str(settings.threads), "-i", str(source), "-map", "0:v:0", "-map", "0:a?"),
        *video,
        *("-tag:v", "hvc1", "-c:a", "copy", "-movflags", "+faststart", str(target)),
    ]


def verify_command(path: Path) -> list[str]:
    """Decode the whole file, discarding the pictures: exit 0 and no error means it plays."""
    return ["ffmpeg", "-nostdin", "-v", "error", "-xerror", "-i", str(path), "-f", "null", "-"]


def durations_match(original_s: float, new_s: float, fps: float) -> bool:
    """Equal within one frame (or 50 ms when the frame rate is unknown)."""
    frame = 1 / fps if fps > 0 else 0.05
    return abs(original_s - new_s) <= frame + 1e-3


def choose_encoder(usable: Sequence[str], wanted: str = "auto") -> str:
    """The wanted encoder if usable; for "auto" a hardware one when there is one."""
    if wanted != "auto":
        if wanted not in usable:
            raise MediaError(f"the encoder {wanted} is not usable here (usable: {usable})")
        return wanted
    return next((e for e in HARDWARE_ENCODERS if e in usable), "libx265")


def usable_encoders() -> list[str]:
    """H.265 encoders this ffmpeg has and that can encode a test picture here."""
    listed = subprocess.run(
        ["ffmpeg", "-hide_banner", "-encoders"], capture_output=True, text=True, check=False
    ).stdout
    usable = []
    for name in ("libx265", *HARDWARE_ENCODERS):
        if f" {name} " not in listed:
            continue
        test = subprocess.run(
            ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "color=size=256x256:duration=0.1",
             "-c:v", name, "-f", "null", "-"],
            capture_output=True, check=False, timeout=30,
        )  # fmt: skip
        if test.returncode == 0:
            usable.append(name)
    return usable


def _niced() -> None:
    os.nice(19)


class PostgresTranscodeQueue:
    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn

    def due(self, older_than: datetime, limit: int = 20) -> list[Candidate]:
        return [
            Candidate(
                r.segment_id, r.camera_id, r.path, r.bytes, r.video_codec, r.duration_s, r.fps
            )
            for r in segments.awaiting_transcode(self._conn, older_than, limit)
        ]


class Transcoder:
    def __init__(
        self,
        root: Path,
        queue: PostgresTranscodeQueue,
        append: Callable[[Event], object],
        settings: TranscodeSettings | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.root, self._queue, self._append = root, queue, append
        self.settings = settings or TranscodeSettings()
        self._clock = clock
        self._failed: set[UUID] = set()
        self.done = 0

    def run(self, stop: threading.Event, beat: Callable[[], None] = lambda: None) -> None:
        while not stop.is_set():
            beat()
            worked = self.run_once(stop)
            if not worked:
                stop.wait(self.settings.interval_s)

    def run_once(self, stop: threading.Event | None = None) -> int:
        """Transcode what is due; returns how many segments were swapped."""
        swapped = 0
        due = self._queue.due(self._clock() - self.settings.after)
        for candidate in due:
            if stop is not None and stop.is_set():
                break
            if candidate.segment_id in self._failed:
                continue
            try:
                swapped += self.transcode(candidate)
            except MediaError as e:
                log.warning("transcode of %s failed, original kept: %s", candidate.path, e)
                self._failed.add(candidate.segment_id)
        return swapped

    def transcode(self, candidate: Candidate) -> bool:
        """Re-encode, verify, swap, announce; False when the original is kept as it is."""
        source = self.root / candidate.path
        current = self._probe(source)
        if current.video_codec in ("hevc", "h265"):  # swapped before a crash: announce only
            self._announce(candidate, source.stat().st_size, current.video_codec)
            return True
        work = self.root / WORK_DIR
        work.mkdir(exist_ok=True)
        target = work / f"{candidate.segment_id}.mp4"
        try:
            self._encode(source, target)
            self._verify(candidate, current.duration_s, target)
            new_bytes = target.stat().st_size
            if new_bytes >= source.stat().st_size:
                log.info("transcode of %s is not smaller; original kept", candidate.path)
                self._failed.add(candidate.segment_id)
                return False
            if not source.exists():  # purged meanwhile: do not bring it back
                return False
            os.replace(target, source)
        finally:
            target.unlink(missing_ok=True)
        self._announce(candidate, new_bytes, "hevc")
        self.done += 1
        return True

    def _probe(self, path: Path) -> Any:
        try:
            return probe(path)
        except ProbeFailed as e:
            raise MediaError(f"cannot read {path.name}: {e}") from e

    def _encode(self, source: Path, target: Path) -> None:
        command = transcode_command(source, target, self.settings)
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, preexec_fn=_niced, check=False
            )
        except OSError as e:
            raise MediaError(f"cannot run ffmpeg: {e}") from e
        if done.returncode != 0:
            raise MediaError(f"ffmpeg failed: {done.stderr.strip()[-300:]}")

    def _verify(self, candidate: Candidate, original_s: float, target: Path) -> None:
        decoded = subprocess.run(
            verify_command(target), capture_output=True, text=True, preexec_fn=_niced, check=False
        )
        if decoded.returncode != 0 or decoded.stderr.strip():
            raise MediaError(f"the new file does not decode: {decoded.stderr.strip()[-300:]}")
        new_s = self._probe(target).duration_s
        if not durations_match(original_s, new_s, candidate.fps):
            raise MediaError(f"duration {new_s:.3f} s, the original {original_s:.3f} s")

    def _announce(self, candidate: Candidate, new_bytes: int, codec: str) -> None:
        self._append(
            SegmentTranscoded(
                segment_id=candidate.segment_id,
                camera_id=candidate.camera_id,
                path=candidate.path,
                old_bytes=candidate.bytes,
                new_bytes=new_bytes,
                old_codec=candidate.video_codec,
                new_codec=codec,
            )
        )
