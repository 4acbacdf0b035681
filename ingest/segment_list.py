"""ffmpeg's segment list (CSV) and wall-clock times for segments (pure).

ffmpeg appends ``name,start,end`` (media seconds) when a segment is complete: that is
how ingest learns that a segment closed, without polling file sizes. Wall-clock times
are ``anchor + media time``, where the anchor is the wall-clock time of the run's first
packet: consecutive segments share their boundary exactly (no phantom gaps or
overlaps), and times follow the camera's media clock.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class ListedSegment:
    name: str
    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        return max(0.0, self.end_s - self.start_s)


def parse_line(line: str) -> ListedSegment | None:
    """One CSV line, or None when it is not a complete entry."""
    rows = list(csv.reader([line]))
    if not rows or len(rows[0]) != 3:
        return None
    name, start, end = rows[0]
    try:
        return ListedSegment(name, float(start), float(end))
    except ValueError:
        return None


def wall_clock(anchor: datetime, segment: ListedSegment) -> tuple[datetime, datetime]:
    """(start, end) of a listed segment in wall-clock time."""
    return anchor + timedelta(seconds=segment.start_s), anchor + timedelta(seconds=segment.end_s)


class SegmentListReader:
    """Reads the complete lines ffmpeg has appended since the last call."""

    def __init__(self, path: str) -> None:
        self._path, self._offset, self._partial = path, 0, ""

    def new_entries(self) -> list[ListedSegment]:
        try:
            with open(self._path, encoding="utf-8", errors="replace") as f:
                f.seek(self._offset)
                data = f.read()
                self._offset = f.tell()
        except FileNotFoundError:
            return []
        text = self._partial + data
        lines = text.split("\n")
        self._partial = lines.pop()  # an unfinished last line waits for the next call
        return [e for e in (parse_line(line) for line in lines if line.strip()) if e]
