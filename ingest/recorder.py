"""One camera's recorder: runs and watches its ffmpeg, closes segments, reports status.

:meth:`CameraRecorder.tick` is called about once a second by the ingest worker and
only calls named steps: learn the codec, start when due, read ffmpeg's output, close
newly listed segments, announce the connection, handle an exit, and kill a stalled
ffmpeg. Between ticks :func:`pump_until` waits on every ffmpeg's pipes at once (no
thread per pipe; one per run only until its first progress report) and returns at once
when one exits.

Restarts: an ffmpeg that was recording and exits (killed, crashed, the camera hung up)
is restarted at once, since every second waiting is footage lost. A camera that then
cannot be reached is probed every ``fast_retry_s`` for the first
``fast_retry_window_s`` of the outage (it is back within about a second of returning),
then with exponential backoff up to ``backoff_cap_s``. A camera that never connected
(wrong URL or password) gets the backoff from the start. The recorder never touches the
event store itself: ``emit`` is an outbox and segments wait on disk, so recording goes
on whatever Redis does.
"""

from __future__ import annotations

import collections
import logging
import logging.handlers
import math
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

from events.catalogue import (
    CameraConnected,
    CameraDisconnected,
    Event,
    RecordingStarted,
    RecordingStopped,
)
from events.errors import RoninError
from ingest.child_process import die_with_parent, stream_copier
from ingest.ffmpeg_command import (
    RecorderPlan,
    codec_probe_command,
    probe_options,
    recorder_command,
)
from ingest.ffmpeg_log import (
    OutputStreams,
    needs_probing,
    opened_file,
    output_streams,
    summarise,
)
from ingest.ffmpeg_pipes import PipeReader, latest_out_time_us, wait_readable
from ingest.live.ring import STREAMS_DIR, LiveStreamKind, ring_dir
from ingest.segment_list import SegmentListReader
from ingest.segment_store import CameraFolder, RecoveryReport, SegmentStore
from ingest.source_input import script_text, write_script

log = logging.getLogger(__name__)

_LIST_EVERY_S = 5.0
"""How often segments.csv and the run's folder are read when ffmpeg's log has not
said that a new file began (it says so as each begins)."""
_GROWTH_EVERY_S = 2.0
"""How often the newest file's size is checked (the stall watchdog waits ``stall_s``)."""
_PROBE_POLL_S = 0.25
"""How often a running codec probe is looked at (it answers in a fraction of a second;
ffmpeg starts when it has)."""

_CREDENTIALS = re.compile(r"(rtsps?://)[^/@\s]+@")


def redact(line: str) -> str:
    """Remove credentials from any RTSP URL in a line (ffmpeg prints its input URL)."""
    return _CREDENTIALS.sub(r"\1***@", line)


def backoff_s(failures: int, base: float, cap: float) -> float:
    """Delay before retry number ``failures`` (0, 1, 2, ...): doubling from ``base``, capped."""
    return float(min(cap, base * 2 ** min(max(0, failures), 30)))


@dataclass(frozen=True, slots=True)
class CameraSource:
    """What ingest needs to record a camera. ``url`` may hold credentials: never log it."""

    camera_id: UUID
    name: str
    directory: str
    url: str
    sub_url: str | None = None
    """Its sub-stream, relayed for the grid and live detection (``ingest.sub_stream``)."""

    @property
    def folder(self) -> CameraFolder:
        return CameraFolder(self.camera_id, self.directory)

    @property
    def recorded(self) -> tuple[UUID, str, str, str]:
        """What recording depends on (a change of the sub-stream alone leaves it be)."""
        return self.camera_id, self.name, self.directory, self.url

    def __repr__(self) -> str:
        sub = "" if self.sub_url is None else f", sub {redact(self.sub_url)!r}"
        return f"CameraSource({self.camera_id}, {self.name!r}, {redact(self.url)!r}{sub})"


@dataclass(frozen=True, slots=True)
class RecorderSettings:
    log_dir: Path
    segment_seconds: float = 900.0
    stall_s: float = 15.0
    connect_timeout_s: float = 30.0
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 10.0
    fast_retry_s: float = 1.0
    fast_retry_window_s: float = 180.0
    restart_after_s: float = 3.0
    """A run that recorded at least this long is restarted at once when it exits."""
    codec_probe_timeout_s: float = 5.0
    ffmpeg: str = "ffmpeg"
    ffprobe: str = "ffprobe"
    streams_root: Path | None = None
    """Where the live rings go (None: ``.streams`` under the storage root)."""

    def streams(self, storage_root: Path) -> Path:
        return self.streams_root or storage_root / STREAMS_DIR


def retry_delay_s(failures: int, outage_s: float | None, settings: RecorderSettings) -> float:
    """Delay before the next attempt after ``failures`` failed ones in a row. During the
    first minutes of an outage of a camera that was recording (``outage_s`` since it
    stopped), probe often; otherwise, and after that, back off."""
    if outage_s is not None and outage_s < settings.fast_retry_window_s:
        return settings.fast_retry_s
    return backoff_s(failures, settings.backoff_base_s, settings.backoff_cap_s)


def exit_reason(tail: Iterable[str], returncode: int) -> str:
    """Why a run ended, in words: what ffmpeg said, else what its exit code tells."""
    found = summarise(tail)
    if found:
        return found
    if returncode == 0:
        return "the camera ended the stream (it closed the connection)"
    if returncode < 0:
        return f"ffmpeg was killed (signal {-returncode})"
    return f"ffmpeg exited with code {returncode}"


class _CodecProbe:
    """ffprobe asking the camera for its video codec, polled so no tick waits on it."""

    def __init__(self, url: str, settings: RecorderSettings, script: Path) -> None:
        camera, demuxer = probe_options(settings.codec_probe_timeout_s)
        text = script_text(url, camera, demuxer)
        if text is not None:
            write_script(script, text)
        command = codec_probe_command(url, settings.codec_probe_timeout_s, settings.ffprobe, script)
        self._proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent(signal.SIGKILL),
        )
        self._deadline = time.monotonic() + settings.codec_probe_timeout_s + 2

    def cancel(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()

    def result(self, now: float) -> tuple[bool, str | None]:
        """(finished, codec): the codec, or None when the camera did not say."""
        if self._proc.poll() is None:
            if now < self._deadline:
                return False, None
            self._proc.kill()
            self._proc.wait()
            return True, None
        out = self._proc.stdout.read() if self._proc.stdout else b""
        if self._proc.stdout:
            self._proc.stdout.close()
        codec = out.decode(errors="replace").strip().splitlines()
        return True, (codec[0].strip() or None) if codec and self._proc.returncode == 0 else None


class _Run:
    """One ffmpeg process and what its output tells us (read by :meth:`pump`)."""

    def __init__(self, proc: subprocess.Popen[bytes], folder: Path, logger: logging.Logger) -> None:
        self.proc, self.folder = proc, folder
        self.started = time.monotonic()
        self.segments = SegmentListReader(str(folder / "segments.csv"))
        self.anchor: datetime | None = None
        self.out_time_us = 0
        self.progressed_at = self.started
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=200)
        self.streams: OutputStreams | None = None  # from the header ffmpeg logs
        self.connected = False
        self.codec_noted = False
        self.listed, self.listed_end_s = 0, 0.0  # segments ffmpeg listed, and their end
        self.list_due = self.started  # when segments.csv is read next
        self.newest: Path | None = None  # the segment file ffmpeg writes now
        self.glob_due = self.started  # when the folder is listed next (in case the log
        # did not say which file is newest)
        self.announced: str | None = None  # the newest file announced as open
        self.written: tuple[str, int] | None = None  # (newest segment file, its size)
        self.written_at = self.started
        self.growth_due = self.started
        self._logger = logger
        self._progress, self._log = PipeReader(proc.stdout), PipeReader(proc.stderr)
        self._header: list[str] = []
        self._in_output = False
        # the anchor is "now minus the media time" of the first progress report, so that
        # report is read the moment it is written, by a thread of its own, whatever the
        # tick is busy with (closing and probing the previous run's files, say); the
        # thread ends there and the ticks read the pipe from then on
        self._anchoring = threading.Thread(target=self._take_anchor, daemon=True)
        self._anchoring.start()

    def _take_anchor(self) -> None:
        while self.anchor is None and not self._progress.at_end:
            wait_readable({self._progress.fileno(): True}, 1.0)
            self._note_progress(latest_out_time_us(self._progress.read_lines()))

    def fds(self) -> dict[int, bool]:
        """The open pipes, to be waited on for a hang-up only (ffmpeg exited)."""
        return {p.fileno(): False for p in (self._progress, self._log) if not p.at_end}

    @property
    def output_closed(self) -> bool:
        """Both pipes closed: ffmpeg is exiting (or gone)."""
        return self._progress.at_end and self._log.at_end

    def pump(self) -> None:
        """Take in whatever ffmpeg has written since the last call, without waiting."""
        if not self._anchoring.is_alive():  # else the pipe is still the thread's
            self._note_progress(latest_out_time_us(self._progress.read_lines()))
        for raw in self._log.read_lines():
            self._note_log(redact(raw.decode(errors="replace").rstrip()))

    def drain(self, timeout_s: float = 2.0) -> None:
        """After ffmpeg exited: read its last words (its pipes end at once)."""
        deadline = time.monotonic() + timeout_s
        self._anchoring.join(timeout_s)
        self.pump()
        while not self.output_closed and time.monotonic() < deadline:
            wait_readable(dict.fromkeys(self.fds(), True), deadline - time.monotonic())
            self.pump()

    def _note_progress(self, out_time: int | None) -> None:
        if out_time is None or out_time <= self.out_time_us:
            return
        if self.anchor is None:
            # the wall-clock time of media time 0: what has been written so far ends
            # now (stream copy of a live source writes as it receives)
            self.anchor = datetime.now(UTC) - timedelta(microseconds=out_time)
        self.out_time_us, self.progressed_at = out_time, time.monotonic()

    def _note_log(self, line: str) -> None:
        opened = opened_file(line)
        live = opened is not None and Path(opened[1]).parent != self.folder
        if live:
            return  # a live segment, the playlist or the live ring: nothing to keep
        self.stderr_tail.append(line)
        self._logger.info(line)
        if opened is not None and opened[0] == "segment" and opened[1].endswith(".mp4"):
            # the previous segment is complete and listed: read the list now
            self.newest, self.list_due = self.folder / Path(opened[1]).name, 0.0
        if self.streams is not None:
            return
        if self._in_output and not line.startswith(" "):  # the Output #0 block ended
            self.streams = output_streams(self._header)
        elif len(self._header) < 500:
            self._header.append(line)
            self._in_output = self._in_output or line.startswith("Output #0")


class CameraRecorder:
    def __init__(
        self,
        source: CameraSource,
        store: SegmentStore,
        settings: RecorderSettings,
        emit: Callable[[Event], object],
        worker: str,
    ) -> None:
        self.source = source
        self._store, self._settings, self._emit, self._worker = store, settings, emit, worker
        self._run: _Run | None = None
        self._retry_at = 0.0
        self._failures = 0
        self._outage_since: float | None = None  # when a recording run last ended
        self._last_reason: str | None = None
        self.reconnects = 0
        """Recording runs that ended and were started again (a metric)."""
        # H.265 gets hvc1: the codec ffmpeg announced last time, else asked once
        self._video_codec = store.known_codec(source.camera_id)
        self._probe: _CodecProbe | None = None
        self._quick_start = True  # until a start fails without writing anything
        self._probed = False
        self._intents_due = 0.0
        self._recovered = False
        self.status = "starting"
        self._logger = ffmpeg_logger(settings.log_dir, source.camera_id)
        # the camera's URL, when it carries a password (never on a command line)
        self._source_script = settings.log_dir / "sources" / f"{source.camera_id}.ffconcat"

    @property
    def live_dir(self) -> Path:
        """The camera's live ring (``ingest.live.ring``)."""
        streams = self._settings.streams(self._store.root)
        return ring_dir(streams, self.source.camera_id, LiveStreamKind.MAIN)

    def recover(self) -> RecoveryReport:
        """Announce what earlier runs left behind (a crash, a worker that died). The tick
        after the first start calls it, so recording never waits for it."""
        self._recovered = True
        current = self._run.folder if self._run is not None else None
        report = self._store.recover(self.source.folder, current)
        for path in report.unreadable:
            log.error("%s: unreadable recording %s", self.source.name, path)
        return report

    def fds(self) -> dict[int, bool]:
        """ffmpeg's pipes that are still open, to wait on (see :func:`pump_until`)."""
        return self._run.fds() if self._run is not None else {}

    def pump(self) -> bool:
        """Read what ffmpeg wrote; True once it is exiting (tick now to restart it)."""
        if self._run is None:
            return False
        self._run.pump()
        return self._run.output_closed

    def wake_at(self, now: float) -> float:
        """When this recorder needs its next tick, should that be before the worker's
        next step: while it waits to start or restart ffmpeg (the camera is recorded
        the moment it can be), and while the codec probe runs; else never."""
        if self._run is not None:
            return math.inf
        if self._probe is not None:
            return now + _PROBE_POLL_S
        return max(now, self._retry_at)

    def tick(self, now: float) -> None:
        if now >= self._intents_due:
            self._intents_due = now + 1.0
            self._store.finish_intents(self.source.camera_id)  # what waited for Redis
        run = self._run
        if run is None:
            if now >= self._retry_at and self._codec_known(now):
                self._start()
            return
        run.pump()
        if not self._recovered:  # a tick after the start: every camera starts first
            self._recover_safely()
        if now >= run.list_due:  # at once when ffmpeg began a new file, else now and then
            run.list_due = now + _LIST_EVERY_S
            self._close_listed(run)
        self._announce_connection(run)
        self._watch_newest(run, now)
        if self._exited(run):
            self._on_exit(run, now)
        elif self._stalled(run, now):
            self._kill(run)

    def signal_stop(self) -> None:
        """Ask ffmpeg to finish (it closes the open segment); :meth:`stop` waits for it."""
        if self._run is not None and self._run.proc.poll() is None:
            self._run.proc.send_signal(signal.SIGTERM)

    def stop(self, reason: str) -> None:
        if self._probe is not None:
            self._probe.cancel()
            self._probe = None
        for script in (self._source_script, self._source_script.with_suffix(".probe")):
            script.unlink(missing_ok=True)
        run = self._run
        if run is None:
            shutil.rmtree(self.live_dir, ignore_errors=True)
            return
        if run.proc.poll() is None:
            run.proc.send_signal(signal.SIGTERM)  # ffmpeg closes the open segment cleanly
            try:
                run.proc.wait(15)
            except subprocess.TimeoutExpired:
                run.proc.kill()
                run.proc.wait()
        run.drain()
        shutil.rmtree(self.live_dir, ignore_errors=True)  # nothing is live now; it held memory
        self._close_listed(run)
        self._finish_run(run)
        if run.connected:
            self._emit(RecordingStopped(camera_id=self.source.camera_id, reason=reason))
        self._run = None
        self.status = "stopped"

    # --- steps ---------------------------------------------------------------------

    def _recover_safely(self) -> None:
        try:
            self.recover()
        except RoninError as e:
            log.error("%s: recovery failed: %s", self.source.name, e)

    def _codec_known(self, now: float) -> bool:
        """Before the first run, ask the camera for its codec (once; later runs learn it
        from ffmpeg's header)."""
        if self._video_codec is not None or self._probed:
            return True
        if self._probe is None:
            self._probe = _CodecProbe(
                self.source.url, self._settings, self._source_script.with_suffix(".probe")
            )
            self.status = "connecting"
        finished, codec = self._probe.result(now)
        if finished:
            self._probe, self._probed, self._video_codec = None, True, codec
        return finished

    def _start(self) -> None:
        folder = self._store.new_run(self.source.camera_id)
        shutil.rmtree(self.live_dir, ignore_errors=True)
        self.live_dir.mkdir(parents=True, exist_ok=True)
        plan = RecorderPlan(
            input_url=self.source.url,
            staging_dir=folder,
            live_dir=self.live_dir,
            segment_seconds=self._settings.segment_seconds,
            video_codec=self._video_codec,
            quick_start=self._quick_start,
            source_script=self._source_script,
        )
        if plan.source_script_text is not None:  # the password stays off the command line
            write_script(self._source_script, plan.source_script_text)
        command = recorder_command(plan, self._settings.ffmpeg)
        self._logger.info("starting ffmpeg for %s", redact(self.source.url))
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=stream_copier(signal.SIGTERM),  # no orphan recording a camera twice
        )
        self._run = _Run(proc, folder, self._logger)
        self.status = "connecting"

    def _close_listed(self, run: _Run) -> None:
        entries = run.segments.new_entries()
        if not entries:
            return
        anchor = run.anchor or datetime.now(UTC) - timedelta(microseconds=run.out_time_us)
        if run.anchor is None:
            run.anchor = anchor
        self._store.write_anchor(run.folder, anchor)
        run.listed += len(entries)
        run.listed_end_s = max(run.listed_end_s, *(e.end_s for e in entries))
        for entry in entries:
            closed = self._store.close_listed(
                self.source.folder, run.folder, entry, anchor, run.streams
            )
            if closed is None:
                log.error("%s: segment %s not closed yet", self.source.name, entry.name)

    def _announce_connection(self, run: _Run) -> None:
        if run.streams is not None and not run.codec_noted:
            run.codec_noted, self._video_codec = True, run.streams.video_codec
            if self._store.known_codec(self.source.camera_id) != self._video_codec:
                self._store.remember_codec(self.source.camera_id, self._video_codec)
        if run.connected or run.anchor is None:
            return
        run.connected = True
        self._store.write_anchor(run.folder, run.anchor)
        self._emit(CameraConnected(camera_id=self.source.camera_id, worker=self._worker))
        self._emit(RecordingStarted(camera_id=self.source.camera_id, worker=self._worker))
        self._last_reason, self._outage_since = None, None
        self.status = "recording"

    @staticmethod
    def _exited(run: _Run) -> bool:
        if run.proc.poll() is not None:
            return True
        if not run.output_closed:
            return False
        try:  # its pipes closed as it exits: the exit itself follows within moments
            run.proc.wait(0.1)  # (short: every camera's tick waits on it)
        except subprocess.TimeoutExpired:
            return False
        return True

    def _stalled(self, run: _Run, now: float) -> bool:
        if run.connected:
            return (
                now - run.progressed_at > self._settings.stall_s
                or now - run.written_at > self._settings.stall_s
            )
        return now - run.started > self._settings.connect_timeout_s

    def _watch_newest(self, run: _Run, now: float) -> None:
        """Note now and then whether the newest file grew (ffmpeg goes on, live HLS and
        all, when its segment writes fail, e.g. on a full disk: only the file tells),
        and announce a segment ffmpeg has begun, so it can be watched while it grows."""
        newest = self._newest_file(run, now)
        if now >= run.growth_due:
            run.growth_due = now + _GROWTH_EVERY_S
            try:
                written = (newest.name, newest.stat().st_size) if newest else None
            except OSError:
                written = None
            if written != run.written:
                run.written, run.written_at = written, now
        if newest is None or run.anchor is None or run.streams is None:
            return
        if newest.name == run.announced:
            return
        if not newest.stem.isdigit() or int(newest.stem) != run.listed:
            return  # its predecessor's listing is not read yet: its start is not known
        run.announced = newest.name
        start = run.anchor + timedelta(seconds=run.listed_end_s)
        self._emit(self._store.opened(self.source.camera_id, newest, start, run.streams))

    @staticmethod
    def _newest_file(run: _Run, now: float) -> Path | None:
        """The file ffmpeg writes: as its log said, checked against the folder now and
        then (should a build of ffmpeg word it otherwise)."""
        if now >= run.glob_due:
            run.glob_due = now + _LIST_EVERY_S
            found = max(run.folder.glob("*.mp4"), key=lambda p: p.name, default=None)
            if found is not None and (run.newest is None or found.name > run.newest.name):
                run.newest = found
        return run.newest

    def _kill(self, run: _Run) -> None:
        what = "stalled" if run.connected else "timed out connecting"
        self._logger.warning("ffmpeg %s; stopping it", what)
        if run.connected and shutil.disk_usage(run.folder).free < 1 << 20:
            run.stderr_tail.append("watchdog: No space left on device")
        elif run.connected and time.monotonic() - run.progressed_at <= self._settings.stall_s:
            run.stderr_tail.append("watchdog: stalled: the recording stopped growing on disk")
        else:
            run.stderr_tail.append(f"watchdog: {what}: timeout, no data from the camera")
        run.proc.send_signal(signal.SIGTERM)
        try:
            run.proc.wait(5)
        except subprocess.TimeoutExpired:
            run.proc.kill()

    def _on_exit(self, run: _Run, now: float) -> None:
        run.drain()
        reason = exit_reason(run.stderr_tail, run.proc.returncode)
        self._run = None
        self.reconnects += run.connected
        at_once = run.connected and now - run.started >= self._settings.restart_after_s
        if at_once:  # start before closing the old run's files: waiting loses footage
            self._failures, self._outage_since = 0, now
            self._start()
        self._close_listed(run)
        self._finish_run(run)
        if run.connected:
            self._emit(RecordingStopped(camera_id=self.source.camera_id, reason=reason))
        if run.connected or reason != self._last_reason:
            self._emit(CameraDisconnected(camera_id=self.source.camera_id, reason=reason))
        self._last_reason = reason
        if at_once:
            self.status = f"reconnecting: {reason}"
            log.warning("%s: %s; restarted at once", self.source.name, reason)
            return
        if run.streams is None and needs_probing(run.stderr_tail):
            self._quick_start = False  # its description lacks what the header needs
        if run.streams is None and self._video_codec == "hevc":
            # never started writing, maybe for a tag that no longer fits: ask again
            self._video_codec, self._probed = None, False
        outage = None if self._outage_since is None else now - self._outage_since
        delay = retry_delay_s(self._failures, outage, self._settings)
        self._failures += 1
        self._retry_at = now + delay
        self.status = f"offline: {reason}; retrying in {delay:.0f} s"
        log.warning("%s: %s; retrying in %.1f s", self.source.name, reason, delay)

    def _finish_run(self, run: _Run) -> None:
        """Announce the run's remaining files (a killed ffmpeg leaves a partial one)."""
        report = RecoveryReport()
        self._store.recover_run(self.source.folder, run.folder, report)
        for path in report.unreadable:
            log.error("%s: unreadable recording %s", self.source.name, path)


def ffmpeg_logger(log_dir: Path, camera_id: UUID) -> logging.Logger:
    """ffmpeg's stderr for one camera, in a rotating file (three files of 1 MB)."""
    logger = logging.getLogger(f"ronin.ffmpeg.{camera_id}")
    if not logger.handlers:
        log_dir.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            log_dir / f"ffmpeg-{camera_id}.log", maxBytes=1_000_000, backupCount=3
        )
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
        logger.setLevel(logging.INFO)
    return logger


def pump_until(recorders: Iterable[CameraRecorder], deadline: float) -> bool:
    """Read every recorder's ffmpeg output as it arrives until ``deadline`` (monotonic
    time); return early, True, as soon as an ffmpeg is exiting (tick its recorder now)."""
    recorders = list(recorders)
    while (left := deadline - time.monotonic()) > 0:
        owners, wanted = {}, {}
        for recorder in recorders:
            for fd, on_data in recorder.fds().items():
                owners[fd], wanted[fd] = recorder, on_data
        exited = False
        for fd in wait_readable(wanted, left):
            exited = owners[fd].pump() or exited
        if exited:
            return True
    return False
