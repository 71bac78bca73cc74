"""Responses over time: per local hour or day, from the accumulator's hour counts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta


@dataclass(frozen=True)
class TimeSeries:
    unit: str  # hour | day
    points: tuple[tuple[datetime, int], ...]  # every bucket from the first to the last


HOURLY_UP_TO = timedelta(days=3)  # `auto` shows hours over a short span, days beyond


def time_series(hours: Mapping[datetime, int], unit: str = "auto") -> TimeSeries:
    """Responses per local hour or day, empty buckets included (a quiet night shows as
    a gap, not as nothing)."""
    if not hours:
        return TimeSeries("day" if unit == "day" else "hour", ())
    start, end = min(hours), max(hours)
    if unit not in ("hour", "day"):
        unit = "hour" if end - start <= HOURLY_UP_TO else "day"
    if unit == "hour":
        steps = int((end - start) / timedelta(hours=1)) + 1
        buckets = [start + timedelta(hours=i) for i in range(steps)]
        return TimeSeries(unit, tuple((b, hours.get(b, 0)) for b in buckets))
    days: Counter[date] = Counter()
    for hour, n in hours.items():
        days[hour.date()] += n
    first, last = min(days), max(days)
    points = tuple(
        (
            datetime.combine(first + timedelta(days=i), datetime.min.time()),
            days.get(first + timedelta(days=i), 0),
        )
        for i in range((last - first).days + 1)
    )
    return TimeSeries(unit, points)
