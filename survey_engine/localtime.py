"""The province's clock: staff read and type times in Asia/Ho_Chi_Minh; the database
keeps UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

try:
    from zoneinfo import ZoneInfo

    LOCAL_TIME = ZoneInfo("Asia/Ho_Chi_Minh")
except Exception:  # no time zone database on this machine: Vietnam has no DST
    LOCAL_TIME = timezone(timedelta(hours=7), "ICT")


def aware(moment: datetime) -> datetime:
    """SQLite gives naive datetimes back; they were stored in UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def to_local(moment: datetime) -> datetime:
    return aware(moment).astimezone(LOCAL_TIME)


def local_text(moment: datetime | None) -> str:
    """A stored time as Vietnam reads it, to the minute."""
    return "" if moment is None else to_local(moment).strftime("%Y-%m-%d %H:%M")
