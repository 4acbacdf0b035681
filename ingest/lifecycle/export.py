"""Cut a time range out of consecutive segments into one MP4 (stream copy, keyframe cut).

An export is a plain MP4 with its index first (``+faststart``), for downloading; the
Playback player's footage of any range is a fragmented MP4 (:data:`FRAGMENTED`), which
ffmpeg writes as it goes, with an index of its fragments at the end for seeking; it
starts at the first keyframe at or after the cut (within one GOP of it)."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from uuid import uuid4

from events.errors import RoninError


class ExportFailed(RoninError):
    """ffmpeg could not cut the range (files missing or unreadable)."""


@dataclass(frozen=True, slots=True)
class ExportPiece:
    path: Path
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class ExportPlan:
    pieces: tuple[ExportPiece, ...]
    offset_s: float  # into the first piece
    duration_s: float


def plan_export(pieces: Sequence[ExportPiece], start: datetime, end: datetime) -> ExportPlan:
    """Pure: which segments, how far into the first, for how long."""
    chosen = tuple(sorted((p for p in pieces if p.end > start and p.start < end),
                          key=lambda p: p.start))  # fmt: skip
    if not chosen or end <= start:
        raise ExportFailed("no recording in that time range")
    first = chosen[0]
    offset = max(0.0, (start - first.start).total_seconds())
    stop = min(end, chosen[-1].end)
    return ExportPlan(chosen, offset, (stop - max(start, first.start)).total_seconds())


FASTSTART = "+faststart"
FRAGMENTED = "+frag_keyframe+empty_moov+default_base_moof"


def export_command(
    plan: ExportPlan, concat_list: Path, target: Path, movflags: str = FASTSTART
) -> list[str]:
    """A plain MP4 seeks on input (fast; the frames before the cut are hidden by an edit
    list); a fragmented one has no edit list, so it seeks on output: the stream copy
    drops what comes before the cut and starts at the first keyframe after it."""
    concat = ["-f", "concat", "-safe", "0"]
    seek = ["-ss", f"{plan.offset_s:.3f}"]
    source = ["-i", str(concat_list)]
    order = [*concat, *source, *seek] if movflags == FRAGMENTED else [*concat, *seek, *source]
    return [
        "ffmpeg", "-nostdin", "-v", "error", "-y", *order,
        "-t", f"{plan.duration_s:.3f}", "-c", "copy", "-movflags", movflags, "-f", "mp4",
        "-progress", "pipe:1", str(target),
    ]  # fmt: skip


def run_export(
    plan: ExportPlan,
    target: Path,
    progress: Callable[[float], None],
    movflags: str = FASTSTART,
) -> None:
    """Write ``target`` (atomically), reporting progress from 0 to 1."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.stem}.{uuid4().hex[:8]}.partial.mp4")
    with tempfile.NamedTemporaryFile("w", suffix=".txt", dir=target.parent) as listing:
        for piece in plan.pieces:
            quoted = str(piece.path).replace("'", "'\\''")
            listing.write(f"file '{quoted}'\n")
        listing.flush()
        proc = subprocess.Popen(
            export_command(plan, Path(listing.name), partial, movflags),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert proc.stdout is not None
        for raw in proc.stdout:
            key, _, value = raw.decode(errors="replace").strip().partition("=")
            if key == "out_time_us" and value.isdigit() and plan.duration_s > 0:
                progress(min(1.0, int(value) / 1e6 / plan.duration_s))
        _, errors = proc.communicate()
    if proc.returncode != 0:
        partial.unlink(missing_ok=True)
        raise ExportFailed(errors.decode(errors="replace").strip()[-300:] or "ffmpeg failed")
    partial.rename(target)
    progress(1.0)
