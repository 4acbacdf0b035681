"""A camera's sub-stream: a live-only ffmpeg writing a live ring of its own.

Many cameras send a second, low-resolution stream (640x360, say) beside the main one.
The grid of live tiles and live detection read it (a small picture costs browsers and
the detector a fraction of the main stream's decoding); recording and the enlarged view
keep the main stream. The relay is independent of the recorder, so nothing that happens
to the sub-stream touches recording: it is restarted at once after a run that had been
writing, with backoff after a run that never wrote (a wrong URL), and killed when its
ring stops growing. While it is down, readers fall back to the main ring
(``ingest.live.ring.ring_to_read``).

:meth:`SubStreamRelay.tick` is called by the ingest worker with the recorders' ticks and
only calls named steps.
"""

from __future__ import annotations

import collections
import logging
import math
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ingest.child_process import stream_copier
from ingest.ffmpeg_command import SubStreamPlan, sub_stream_command
from ingest.ffmpeg_pipes import PipeReader
from ingest.live.ring import newest
from ingest.recorder import backoff_s, exit_reason, redact
from ingest.source_input import write_script

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RelaySettings:
    stall_s: float = 15.0
    """A run whose ring has not grown for this long is killed (and restarted)."""
    connect_timeout_s: float = 30.0
    restart_after_s: float = 3.0
    """A run that wrote for at least this long is restarted at once when it exits."""
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 30.0
    ffmpeg: str = "ffmpeg"


def retry_delay(wrote_for_s: float | None, failures: int, settings: RelaySettings) -> float:
    """Seconds before the next run: none after a run that wrote for a while (the camera
    hung up, ffmpeg was killed), else doubling from the base up to the cap."""
    if wrote_for_s is not None and wrote_for_s >= settings.restart_after_s:
        return 0.0
    return backoff_s(failures, settings.backoff_base_s, settings.backoff_cap_s)


def stalled(started: float, wrote_at: float | None, now: float, settings: RelaySettings) -> bool:
    """Whether a run is stuck: nothing written since it started (``connect_timeout_s``)
    or since it last wrote (``stall_s``)."""
    if wrote_at is None:
        return now - started > settings.connect_timeout_s
    return now - wrote_at > settings.stall_s


class _Run:
    def __init__(self, proc: subprocess.Popen[bytes], started: float) -> None:
        self.proc, self.started = proc, started
        self.log = PipeReader(proc.stderr)
        self.tail: collections.deque[str] = collections.deque(maxlen=50)
        self.size: tuple[str, int] | None = None  # (newest ring file, its size)
        self.first_wrote: float | None = None
        self.wrote_at: float | None = None


class SubStreamRelay:
    """Keeps one camera's sub-stream ring written while ingest holds the camera."""

    def __init__(
        self,
        url: str,
        live_dir: Path,
        source_script: Path,
        logger: logging.Logger,
        settings: RelaySettings | None = None,
    ) -> None:
        self.url, self.live_dir = url, live_dir
        self._script, self._logger = source_script, logger
        self._settings = settings or RelaySettings()
        self._run: _Run | None = None
        self._retry_at = 0.0
        self._failures = 0
        self.status = "starting"

    def __repr__(self) -> str:
        return f"SubStreamRelay({redact(self.url)!r}, {self.status!r})"

    def wake_at(self, now: float) -> float:
        """When the relay needs its next tick before the worker's next step: when it
        waits to start ffmpeg again; else never."""
        return max(now, self._retry_at) if self._run is None else math.inf

    def tick(self, now: float) -> None:
        run = self._run
        if run is None:
            if now >= self._retry_at:
                self._start(now)
            return
        self._read_log(run)
        self._note_growth(run, now)
        if run.proc.poll() is not None:
            self._on_exit(run, now)
        elif stalled(run.started, run.wrote_at, now, self._settings):
            run.tail.append("watchdog: the sub-stream stopped arriving")
            run.proc.kill()

    def stop(self) -> None:
        run, self._run = self._run, None
        if run is not None:
            if run.proc.poll() is None:
                run.proc.terminate()
                try:
                    run.proc.wait(5)
                except subprocess.TimeoutExpired:
                    run.proc.kill()
                    run.proc.wait()
            run.log.close()
        self._script.unlink(missing_ok=True)
        shutil.rmtree(self.live_dir, ignore_errors=True)  # readers go back to the main ring
        self.status = "stopped"

    # --- steps ---------------------------------------------------------------------

    def _start(self, now: float) -> None:
        shutil.rmtree(self.live_dir, ignore_errors=True)
        self.live_dir.mkdir(parents=True, exist_ok=True)
        plan = SubStreamPlan(self.url, self.live_dir, source_script=self._script)
        if plan.source_script_text is not None:  # the password stays off the command line
            write_script(self._script, plan.source_script_text)
        proc = subprocess.Popen(
            sub_stream_command(plan, self._settings.ffmpeg),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=stream_copier(signal.SIGTERM),
        )
        self._run = _Run(proc, now)
        self.status = "connecting"

    def _read_log(self, run: _Run) -> None:
        for raw in run.log.read_lines():
            line = redact(raw.decode(errors="replace").rstrip())
            run.tail.append(line)
            self._logger.info("sub-stream: %s", line)

    def _note_growth(self, run: _Run, now: float) -> None:
        found = newest(self.live_dir)
        size = (found[0].name, found[1].st_size) if found else None
        if size is not None and size != run.size:
            run.size, run.wrote_at = size, now
            if run.first_wrote is None:
                run.first_wrote = now
                self._failures, self.status = 0, "running"

    def _on_exit(self, run: _Run, now: float) -> None:
        self._read_log(run)
        run.log.close()
        self._run = None
        reason = exit_reason(run.tail, run.proc.returncode or 0)
        wrote_for = None if run.first_wrote is None else now - run.first_wrote
        delay = retry_delay(wrote_for, self._failures, self._settings)
        self._failures = 0 if delay == 0 else self._failures + 1
        self._retry_at = now + delay
        self.status = f"offline: {reason}; retrying in {delay:.0f} s"
        log.warning("sub-stream %s: %s; retrying in %.1f s", redact(self.url), reason, delay)
