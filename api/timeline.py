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
