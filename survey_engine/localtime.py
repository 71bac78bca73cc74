"""The province's clock: staff read and type times in Asia/Ho_Chi_Minh; the database
keeps UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import overload

LOCAL_TIME: tzinfo
try:
    from zoneinfo import ZoneInfo

    LOCAL_TIME = ZoneInfo("Asia/Ho_Chi_Minh")
except Exception:  # no time zone database on this machine: Vietnam has no DST
    LOCAL_TIME = timezone(timedelta(hours=7), "ICT")


# The years a typed date or time may take anywhere (answers without limits of their
# own, filters, the survey's schedule): year 1 is a typing slip that Excel shows as
# the serial -693,594, and near years 1 and 9999 a change of offset overflows.
FIRST_YEAR, LAST_YEAR = 1900, 2100


@overload
def aware(moment: datetime) -> datetime: ...
@overload
def aware(moment: None) -> None: ...
def aware(moment: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes back; they were stored in UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def to_local(moment: datetime) -> datetime:
    """In Vietnam time; a moment at the very edge of the calendar (year 1 or 9999,
    stored before its years were checked) stays in its own offset rather than
    overflowing the page that shows it."""
    try:
        return aware(moment).astimezone(LOCAL_TIME)
    except OverflowError:
        return aware(moment)


def local_text(moment: datetime | None) -> str:
    """A stored time as Vietnam reads it, to the minute."""
    return "" if moment is None else to_local(moment).strftime("%Y-%m-%d %H:%M")
