"""Stills cut on demand, within bounds: a failure is remembered (no ffmpeg per request),
a camera file that never answers is a timeout (an answer, not a 500), each user cuts
few at a time, and concurrent cuts of one still never share a temporary file."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from events.errors import MediaError
from ingest.stills import Crop, StillCutter, StillsBusy

BOX = Crop(0.1, 0.1, 0.5, 0.5)


@pytest.fixture
def ffmpeg_runs(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    runs: list[list[str]] = []
    real = subprocess.run

    def spy(argv: list[str], *args: Any, **kwargs: Any) -> Any:
        runs.append(argv)
        return real(argv, *args, **kwargs)

    monkeypatch.setattr("ingest.stills.subprocess.run", spy)
    return runs


def test_a_still_that_cannot_be_cut_is_not_tried_again_for_a_while(
    tmp_path: Path, ffmpeg_runs: list[list[str]]
) -> None:
    now = [0.0]
    cutter = StillCutter(failure_s=60, clock=lambda: now[0])
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    target = tmp_path / "stills" / "t.jpg"
    for _ in range(5):
        with pytest.raises(MediaError, match="cannot cut a still"):
            cutter.cut("bob", broken, 1.0, BOX, target)
    assert len(ffmpeg_runs) == 1
    now[0] = 61.0
    with pytest.raises(MediaError):
        cutter.cut("bob", broken, 1.0, BOX, target)
    assert len(ffmpeg_runs) == 2
    assert list(target.parent.iterdir()) == []  # no partial file left behind


def test_a_file_that_never_answers_is_a_timeout_and_users_cut_few_at_once(
    tmp_path: Path, ffmpeg_runs: list[list[str]]
) -> None:
    stuck = tmp_path / "stuck.mp4"
    os.mkfifo(stuck)  # ffmpeg waits for a writer that never comes
    cutter = StillCutter(per_user=2, at_once=3, timeout_s=1.5)
    answers: list[str] = []

    def cut(who: str, name: str) -> None:
        try:
            cutter.cut(who, stuck, 0.0, BOX, tmp_path / "stills" / name)
        except MediaError as e:
            answers.append(str(e))

    threads = [threading.Thread(target=cut, args=("bob", f"{i}.jpg")) for i in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    with pytest.raises(StillsBusy):  # bob has two running
        cutter.cut("bob", stuck, 0.0, BOX, tmp_path / "stills" / "2.jpg")
    alice = threading.Thread(target=cut, args=("alice", "a.jpg"))  # alice is not held up
    alice.start()
    time.sleep(0.3)
    with pytest.raises(StillsBusy):  # three running: everyone waits
        cutter.cut("carol", stuck, 0.0, BOX, tmp_path / "stills" / "c.jpg")
    for thread in [*threads, alice]:
        thread.join(10)
    assert len(answers) == 3 and all("took over 1.5 s" in a for a in answers)
    partials = [argv[-1] for argv in ffmpeg_runs]
    assert len(set(partials)) == len(partials)  # each cut its own temporary file
