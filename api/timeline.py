"""Timeline math (pure): a day's segments as covered spans and gaps."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class Span:
    start: datetime
    end: datetime


def day_bounds(day: date, zone: ZoneInfo) -> Span:
    """A calendar day in ``zone`` (23 or 25 hours on daylight-saving days)."""
    start = datetime.combine(day, time.min, zone)
    end = datetime.combine(day + timedelta(days=1), time.min, zone)
    return Span(start, end)


def gaps(covered: Sequence[Span], window: Span, tolerance_s: float = 1.0) -> list[Span]:
    """The parts of ``window`` no span covers, ignoring holes up to ``tolerance_s``."""
    out = []
    cursor = window.start
    for span in sorted(covered, key=lambda s: s.start):
        if span.end <= cursor:
            continue
        if (span.start - cursor).total_seconds() > tolerance_s and span.start > window.start:
            out.append(Span(cursor, min(span.start, window.end)))
        cursor = max(cursor, span.end)
        if cursor >= window.end:
            break
    if (window.end - cursor).total_seconds() > tolerance_s:
        out.append(Span(cursor, window.end))
    return [g for g in out if g.end > g.start]


@dataclass(frozen=True, slots=True)
class Sighting:
    label: str
    at: datetime
    confidence: float


@dataclass(frozen=True, slots=True)
class Marker:
    """Detections of one class close together in time, shown as one mark on the timeline."""

    label: str
    start: datetime
    end: datetime
    count: int
    max_confidence: float


def markers(sightings: Sequence[Sighting], merge_s: float = 10.0) -> list[Marker]:
    """Merge each class's detections that lie within ``merge_s`` of the previous one."""
    by_label: dict[str, list[Sighting]] = {}
    for s in sightings:
        by_label.setdefault(s.label, []).append(s)
    out: list[Marker] = []
    for label, items in by_label.items():
        items.sort(key=lambda s: s.at)
        start = end = items[0].at
        count, best = 0, 0.0
        for s in items:
            if (s.at - end).total_seconds() > merge_s:
                out.append(Marker(label, start, end, count, best))
                start, count, best = s.at, 0, 0.0
            end = s.at
            count += 1
            best = max(best, s.confidence)
        out.append(Marker(label, start, end, count, best))
    return sorted(out, key=lambda m: (m.start, m.label))
