"""Turning untrusted query parameters and form fields into numbers and dates.

Python's int() and str.isdigit() take any Unicode digit ("²" passes isdigit() and then
fails int(); "٣" is 3), int() takes a number of any size, float() takes "nan" and
"inf", and date.fromisoformat() takes year 1 and year 9999, which overflow as soon as
a time zone or a day is added. Every page that reads a number or a date from a
request goes through here instead: ASCII digits only, a range, finite numbers, and
dates between 1900 and 2100 in Vietnam time. A value that does not pass raises
ParamError with a message for the reader; the caller shows it at the field or
answers 400.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime

from flask import abort
from flask_babel import gettext as _

from survey_engine.localtime import FIRST_YEAR, LAST_YEAR, LOCAL_TIME

MAX_PAGE = 100_000  # any deeper offset is a crafted link, and could overflow SQL's bigint
_WHOLE_RE = re.compile(r"[+-]?[0-9]{1,18}")
_DECIMAL_RE = re.compile(
    r"[+-]?(?:[0-9]{1,18}(?:[.,][0-9]{0,18})?|[.,][0-9]{1,18})"
    r"(?:[eE][+-]?[0-9]{1,3})?"
)
_DAY_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_LOCAL_TIME_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2})?")


class ParamError(ValueError):
    """A parameter or field that is not what it must be; str() is the reader's message."""


def whole_number(text: str | None, low: int, high: int) -> int:
    """An integer in [low, high] written with ASCII digits (and an optional sign)."""
    text = (text or "").strip()
    if not _WHOLE_RE.fullmatch(text):
        raise ParamError(
            _("Enter a whole number from %(low)s to %(high)s, in digits 0-9.", low=low, high=high)
        )
    number = int(text)
    if not low <= number <= high:
        raise ParamError(_("Enter a whole number from %(low)s to %(high)s.", low=low, high=high))
    return number


def page_number(text: str | None, last: int) -> int:
    """`?page=`: 1 when absent, else a whole number from 1 to `last`."""
    if text is None or not text.strip():
        return 1
    try:
        return whole_number(text, 1, last)
    except ParamError as error:
        raise ParamError(_("Page: %(problem)s", problem=error)) from None


def page_or_400(text: str | None, last: int = MAX_PAGE) -> int:
    """page_number for a view that has no better place for the message: a 400 page."""
    try:
        return page_number(text, last)
    except ParamError as error:
        abort(400, description=str(error))


def finite_number(text: str | None) -> float:
    """A finite decimal number written with ASCII digits; a decimal comma is allowed.

    "nan", "inf", "1e999" and Unicode digits are refused: they would reach JSON as
    NaN/Infinity, which JSON has no words for."""
    text = (text or "").strip()
    if not _DECIMAL_RE.fullmatch(text):
        raise ParamError(_("Enter a number in digits 0-9, such as 12 or 3,5."))
    number = float(text.replace(",", "."))
    if not math.isfinite(number) or abs(number) > 1e15:
        raise ParamError(_("The number is too large."))
    return number


def _check_year(year: int) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ParamError(
            _("Enter a date between %(first)s and %(last)s.", first=FIRST_YEAR, last=LAST_YEAR)
        )


def day(text: str | None) -> date:
    """A date YYYY-MM-DD between 1900 and 2100."""
    text = (text or "").strip()
    if not _DAY_RE.fullmatch(text):
        raise ParamError(_("Enter a date as YYYY-MM-DD, such as 2026-11-30."))
    try:
        value = date.fromisoformat(text)
    except ValueError:
        raise ParamError(_("Enter a date as YYYY-MM-DD, such as 2026-11-30.")) from None
    _check_year(value.year)
    return value


def local_moment(text: str | None) -> datetime:
    """A date and time typed in Vietnam time (a datetime-local field), 1900 to 2100,
    with Vietnam's offset attached."""
    text = (text or "").strip()
    if not _LOCAL_TIME_RE.fullmatch(text):
        raise ParamError(_("Enter a date and time, such as 2026-12-01 08:00."))
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ParamError(_("Enter a date and time, such as 2026-12-01 08:00.")) from None
    _check_year(value.year)
    return value.replace(tzinfo=LOCAL_TIME)
