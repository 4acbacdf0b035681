"""Closed segments: from ffmpeg's staging folder to their place, durably, then announced.

ffmpeg writes into ``{root}/.incoming/{camera_id}/{run}/``. When a segment closes:

1. the file is fsynced and probed;
2. an *intent* (the SegmentClosed event, encoded) is written and fsynced;
3. the file is renamed to ``{root}/{folder}/{YYYY-MM-DD}/HH-MM-SS.mp4`` and both
   folders are fsynced;
4. the event is appended to the event store, once (``append_once``: a retry with the
   same event id appends nothing), and in order: a segment waits while an older one's
   intent has not been appended;
5. the intent is deleted once the store is known to keep the event: a few seconds
   later Redis must still know the append (its AOF is fsynced every second, so a Redis
   that restarted having lost its last writes gets the event again).

While Redis is unreachable segments go on closing: their intents wait on disk and are
appended, oldest first, when it is back. A crash at any step loses nothing: on start,
:meth:`SegmentStore.recover` finishes every intent, and probes and announces every file
still in staging, marked ``recovered``. A file that cannot be read is renamed
``*.unreadable`` and reported, never deleted.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import NAMESPACE_URL, UUID, uuid5

import orjson

from events.catalogue import Event, SegmentClosed, SegmentOpened
from events.codec import decode, encode
from events.errors import StoreUnavailable
from ingest.camera_config.naming import segment_path
from ingest.ffmpeg_log import OutputStreams
from ingest.probe import EmptyMedia, MediaInfo, ProbeFailed, probe
from ingest.segment_list import ListedSegment, SegmentListReader, wall_clock

log = logging.getLogger(__name__)

_ANCHOR = "anchor"


@dataclass(frozen=True, slots=True)
class CameraFolder:
    camera_id: UUID
    directory: str


@dataclass(slots=True)
class RecoveryReport:
    announced: list[SegmentClosed] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)


def _intent_name(event: SegmentClosed) -> str:
    """Sorts by the segment's start, so waiting segments are appended in order."""
    return f"{int(event.start.timestamp() * 1e6):017d}-{event.segment_id}.json"


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def segment_id_for(camera_id: UUID, relative_path: str) -> UUID:
    """Deterministic: announcing the same file twice gives the same segment id."""
    return uuid5(NAMESPACE_URL, f"ronin:{camera_id}/{relative_path}")


def closed_event(
    camera_id: UUID,
    relative: str,
    start: datetime,
    end: datetime,
    size: int,
    info: MediaInfo,
    recovered: bool,
    opened_as: UUID | None = None,
) -> SegmentClosed:
    """The SegmentClosed for a file at ``relative`` that ffprobe described as ``info``."""
    return SegmentClosed(
        segment_id=segment_id_for(camera_id, relative),
        camera_id=camera_id,
        path=relative,
        start=start,
        end=end,
        duration_s=max(0.0, (end - start).total_seconds()),
        bytes=size,
        video_codec=info.video_codec,
        width=info.width,
        height=info.height,
        fps=info.fps,
        audio_codec=info.audio_codec,
        recovered=recovered,
        opened_as=opened_as,
    )


class SegmentStore:
    """``append`` takes a SegmentClosed to the event store (StoreUnavailable while it is
    unreachable). With ``appended`` (is this event id still in the store?) an intent is
    kept until ``confirm_after_s`` after its append and re-appended if the store lost it;
    without, it goes as soon as the append returns."""

    def __init__(
        self,
        root: Path,
        append: Callable[[Event], object],
        appended: Callable[[UUID], bool] | None = None,
        confirm_after_s: float = 3.0,
    ) -> None:
        self.root = root
        self._append, self._appended, self._confirm_after_s = append, appended, confirm_after_s
        self._sent: dict[Path, tuple[float, UUID]] = {}  # appended, not yet confirmed
        self._settled: set[UUID] = set()  # cameras known to have no intent on disk

    # --- staging -------------------------------------------------------------------

    def staging(self, camera_id: UUID) -> Path:
        return self.root / ".incoming" / str(camera_id)

    def new_run(self, camera_id: UUID) -> Path:
        run = self.staging(camera_id) / f"run-{time.time_ns()}"
        run.mkdir(parents=True)
        return run

    def opened(
        self, camera_id: UUID, staged: Path, start: datetime, streams: OutputStreams
    ) -> SegmentOpened:
        """The SegmentOpened for a file ffmpeg is writing in staging."""
        return SegmentOpened(
            segment_id=self.open_segment_id(camera_id, staged),
            camera_id=camera_id,
            path=str(staged.relative_to(self.root)),
            start=start,
            video_codec=streams.video_codec,
            width=streams.width,
            height=streams.height,
        )

    def open_segment_id(self, camera_id: UUID, staged: Path) -> UUID:
        return segment_id_for(camera_id, str(staged.relative_to(self.root)))

    def remember_codec(self, camera_id: UUID, codec: str) -> None:
        """The camera's video codec as ffmpeg last announced it (read back on restart)."""
        folder = self.staging(camera_id)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "codec").write_text(codec)
        except OSError as e:  # a full disk: it is learnt again next time
            log.warning("cannot remember the codec: %s", e)

    def known_codec(self, camera_id: UUID) -> str | None:
        try:
            return (self.staging(camera_id) / "codec").read_text().strip() or None
        except OSError:
            return None

    @staticmethod
    def write_anchor(run: Path, anchor: datetime) -> None:
        """Kept for recovery; on a full disk, recovery falls back to the files' times."""
        try:
            (run / _ANCHOR).write_text(anchor.isoformat())
        except OSError as e:
            log.warning("cannot write the run's anchor: %s", e)

    @staticmethod
    def read_anchor(run: Path) -> datetime | None:
        try:
            return datetime.fromisoformat((run / _ANCHOR).read_text().strip())
        except (OSError, ValueError):
            return None

    # --- closing -------------------------------------------------------------------

    def close_listed(
        self,
        camera: CameraFolder,
        run: Path,
        entry: ListedSegment,
        anchor: datetime,
        streams: OutputStreams | None = None,
    ) -> SegmentClosed | None:
        """Finish a segment ffmpeg listed as complete; None if it cannot be read.

        With the streams ffmpeg announced for this run, the file is not probed again
        (ffmpeg listed it complete; an ffprobe per segment costs more CPU than the copy).
        """
        start, end = wall_clock(anchor, entry)
        known = None
        if streams is not None and entry.start_s > 0:  # a run's first segment is probed: it
            # begins at the first keyframe, after the listed start
            known = MediaInfo(
                duration_s=entry.duration_s,
                video_codec=streams.video_codec,
                width=streams.width,
                height=streams.height,
                fps=streams.fps,
                audio_codec=streams.audio_codec,
            )
        return self._close(camera, run / entry.name, start, end, recovered=False, known=known)

    def _close(
        self,
        camera: CameraFolder,
        source: Path,
        start: datetime | None,
        end: datetime | None,
        recovered: bool,
        known: MediaInfo | None = None,
    ) -> SegmentClosed | None:
        try:
            fsync_path(source)
            info = known or probe(source)
        except EmptyMedia as e:
            log.info("removing %s: %s", source, e)  # headers only: no footage to lose
            source.unlink(missing_ok=True)
            return None
        except (OSError, ProbeFailed) as e:
            self._set_aside(source, str(e))
            return None
        event = self._event(camera, source, info, start, end, recovered)
        try:
            intent = self._intents(camera.camera_id) / _intent_name(event)
            self._settled.discard(camera.camera_id)
            self._write_intent(intent, source, event)
            self._move(source, self.root / event.path)
        except OSError as e:  # a full disk: the file stays in staging, closed again later
            log.error("cannot put %s in place, kept in staging: %s", source.name, e)
            return None
        self.finish_intents(camera.camera_id)
        return event

    def _event(
        self,
        camera: CameraFolder,
        source: Path,
        info: MediaInfo,
        start: datetime | None,
        end: datetime | None,
        recovered: bool,
    ) -> SegmentClosed:
        media = timedelta(seconds=info.duration_s)
        if start is None:  # no anchor survived: the file's last write marks its end
            start = datetime.fromtimestamp(source.stat().st_mtime, UTC) - media
        if end is not None and end - start > media + timedelta(seconds=0.1):
            start = end - media  # the run's first segment begins at its first keyframe
        end = end or start + media
        local = start.astimezone()
        suffix = 0
        while (self.root / segment_path(camera.directory, local, suffix)).exists():
            suffix += 1
        relative = segment_path(camera.directory, local, suffix)
        size, opened_as = source.stat().st_size, self.open_segment_id(camera.camera_id, source)
        return closed_event(
            camera.camera_id, relative, start, end, size, info, recovered, opened_as
        )

    def _intents(self, camera_id: UUID) -> Path:
        folder = self.staging(camera_id) / "intents"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    @staticmethod
    def _write_intent(intent: Path, source: Path, event: SegmentClosed) -> None:
        fields = {k: v.decode() for k, v in encode(event).items()}
        tmp = intent.with_suffix(".tmp")
        try:
            tmp.write_bytes(orjson.dumps({"source": str(source), "fields": fields}))
        except OSError:
            tmp.unlink(missing_ok=True)
            raise
        fsync_path(tmp)
        tmp.rename(intent)
        fsync_path(intent.parent)

    def _move(self, source: Path, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(source, target)
        fsync_path(target.parent)
        fsync_path(source.parent)

    @staticmethod
    def _set_aside(source: Path, reason: str) -> None:
        """Keep an unreadable file as ``*.unreadable`` (reported, never deleted); an empty
        one (ffmpeg killed before writing anything) goes."""
        with contextlib.suppress(OSError):
            if source.stat().st_size == 0:
                source.unlink()
                return
            log.error("unreadable segment %s kept as .unreadable: %s", source, reason)
            source.rename(source.with_name(source.name + ".unreadable"))

    # --- recovery ------------------------------------------------------------------

    def finish_intents(self, camera_id: UUID) -> list[SegmentClosed]:
        """Append, oldest first, the events of segments already in place, and forget the
        confirmed ones; stop at the first the store refuses (it is tried again next call).
        Returns the events appended now."""
        if camera_id in self._settled:
            return []  # nothing written since the folder was last found empty
        folder = self.staging(camera_id) / "intents"
        done: list[SegmentClosed] = []
        try:
            intents = self._intent_files(folder)
            for intent in intents:
                event = self._finish_intent(intent)
                if event is not None:
                    done.append(event)
            if not intents or not self._intent_files(folder):
                self._settled.add(camera_id)
        except StoreUnavailable as e:
            log.warning("segments wait on disk for the event store: %s", e)
        except OSError as e:  # a full disk refused the move: tried again next call
            log.error("segments wait in staging: %s", e)
        return done

    @staticmethod
    def _intent_files(folder: Path) -> list[Path]:
        try:
            names = sorted(n for n in os.listdir(folder) if n.endswith(".json"))
        except FileNotFoundError:
            return []
        return [folder / n for n in names]

    def waiting(self, camera_id: UUID) -> int:
        """Intents not yet confirmed in the event store (0 when all is announced)."""
        return len(self._intent_files(self.staging(camera_id) / "intents"))

    def recover(self, camera: CameraFolder, current: Path | None = None) -> RecoveryReport:
        """Finish what a crash interrupted: intents first, then files left in staging by
        earlier runs (``current``, the run recording now, is left alone)."""
        report = RecoveryReport()
        staging = self.staging(camera.camera_id)
        self._settled.discard(camera.camera_id)  # another process may have left intents
        if not staging.exists():
            return report
        report.announced.extend(self.finish_intents(camera.camera_id))
        for run in sorted(p for p in staging.glob("run-*") if p.is_dir() and p != current):
            self.recover_run(camera, run, report)
        return report

    def _finish_intent(self, intent: Path) -> SegmentClosed | None:
        if self._confirmed(intent):
            return None
        try:
            data = orjson.loads(intent.read_bytes())
            event = decode({k: v.encode() for k, v in data["fields"].items()})
        except (OSError, orjson.JSONDecodeError, KeyError, ValueError) as e:
            log.error("cannot read intent %s: %s", intent, e)
            return None
        assert isinstance(event, SegmentClosed)
        source, target = Path(data["source"]), self.root / event.path
        if not target.exists() and source.exists():
            self._move(source, target)
        if not target.exists():
            intent.unlink(missing_ok=True)  # nothing left to announce (purged by hand)
            return None
        self._append(event)
        if self._appended is None:
            intent.unlink(missing_ok=True)
        else:
            self._sent[intent] = (time.monotonic(), event.event_id)
        return event

    def _confirmed(self, intent: Path) -> bool:
        """True while an appended intent awaits its check, and once it passed it (the
        intent is then deleted); False when it is due (again) for appending."""
        sent = self._sent.get(intent)
        if sent is None:
            return False
        at, event_id = sent
        if time.monotonic() - at < self._confirm_after_s:
            return True
        assert self._appended is not None
        del self._sent[intent]
        if not self._appended(event_id):
            log.warning("the event store lost segment event %s: appending it again", event_id)
            return False
        intent.unlink(missing_ok=True)
        return True

    def recover_run(self, camera: CameraFolder, run: Path, report: RecoveryReport) -> None:
        """Announce the files a run left in staging (listed or partial), then remove it."""
        listed = {e.name: e for e in SegmentListReader(str(run / "segments.csv")).new_entries()}
        anchor = self.read_anchor(run)
        last_end = max((e.end_s for e in listed.values()), default=0.0)
        for file in sorted(run.glob("*.mp4")):
            entry = listed.get(file.name)
            if anchor is not None and entry is not None:
                start, end = wall_clock(anchor, entry)
            elif anchor is not None and last_end > 0:  # it follows the last listed one
                start, end = anchor + timedelta(seconds=last_end), None
            else:  # the run's first, which began at a keyframe after the anchor: its
                start, end = None, None  # last write (a flushed fragment) marks its end
            event = self._close(camera, file, start, end, recovered=True)
            if event is not None:
                report.announced.append(event)
        report.unreadable.extend(str(f.relative_to(self.root)) for f in run.glob("*.unreadable"))
        if not any(run.glob("*.mp4*")):
            for extra in run.iterdir():
                extra.unlink()
            run.rmdir()
