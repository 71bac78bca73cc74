"""Each question type's answer: what a client may send for it, and the typed value
stored (select names, numbers, dates, e-mail, Vietnamese phone numbers, text).

Why apart from answers.py: these rules read one answer alone; answers.py checks the
answers together (relevance, required, choice filters, constraints, calculations).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Container
from datetime import date
from typing import Any

from survey_engine.definition.model import Question
from survey_engine.localtime import FIRST_YEAR, LAST_YEAR
from survey_engine.untrusted import first_bad_text, safe_text

MAX_TEXT_LENGTH = 5000
MAX_HIDDEN_LENGTH = 500
# Integers beyond this lose precision in JavaScript and in Excel.
MAX_SAFE_INTEGER = 2**53 - 1
INTEGER_RE = re.compile(r"^[+-]?\d{1,20}$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$")
# Vietnamese numbers: 0 + 9 or 10 digits, or +84 / 84 / 0084 instead of the 0.
PHONE_RE = re.compile(r"^(?:\+84|0084|84|0)([1-9][0-9]{8,9})$")
PHONE_NOISE_RE = re.compile(r"[\s.\-()]")
ACKNOWLEDGED = "OK"
# A geopoint's accuracy in metres: a phone reports a few to a few thousand; beyond
# 100 km the point says nothing about a place in the province.
MAX_GEO_ACCURACY = 100_000.0
# Decimal places kept: 7 is about 1 cm, more than any phone measures.
GEO_DECIMALS = 7
# An upload's token (secrets.token_urlsafe(32)): what a file question's answer holds.
UPLOAD_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")
# ODK's text form "lat lon [altitude accuracy]" (XLSForm defaults, other tools' files).
GEO_TEXT_RE = re.compile(r"^\s*(\S+)\s+(\S+)(?:\s+(\S+)(?:\s+(\S+))?)?\s*$")
# Dates an answer may take when its question sets no min/max of its own.
FIRST_DAY, LAST_DAY = date(FIRST_YEAR, 1, 1), date(LAST_YEAR, 12, 31)


class Invalid(Exception):
    """Why one answer is refused: a message key and its values."""

    def __init__(self, key: str, **values: object) -> None:
        self.key = key
        self.values = values


def unstorable(value: Any) -> bool:
    """Whether `value` (a str, or lists and dicts of them) holds text no export can
    write: NUL, a lone surrogate or a non-character (untrusted.py)."""
    return first_bad_text(value) is not None


def printable(value: Any) -> Any:
    """`value` with what unstorable() finds replaced by U+FFFD: for a page that shows
    refused answers again (a lone surrogate cannot even be sent as UTF-8)."""
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, dict):
        return {printable(k): printable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [printable(v) for v in value]
    return value


def is_empty(value: Any) -> bool:
    """No answer: None, blank text, or lists and dicts of nothing else."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list):
        return all(is_empty(v) for v in value)
    if isinstance(value, dict):
        return all(is_empty(v) for v in value.values())
    return False


# (question, a non-empty answer, today) -> its typed value; raises Invalid.
Cleaner = Callable[[Question, Any, date], Any]


def cleaner(question_type: str) -> Cleaner:
    """The rule of a question type's answers (text for the types without their own)."""
    return _CLEANERS.get(question_type, _clean_text)


def kept_as_sent(q: Question) -> tuple[type, Container] | None:
    """(type, values): answers of exactly that type among those values, which the
    question's rule would return unchanged, so the answers check can take them as
    sent; None for the types where no such test is short. A select_one's choice names
    (those already NFC, stripped and storable), the acknowledgement itself, a scale's or
    an integer's whole numbers within its limits, a select_multiple's or a matrix's
    answer made of such names in the question's order. Every submission checks a
    dozen such answers."""
    if q.type == "select_one":
        return str, _clean_names(q)
    if q.type == "acknowledge":
        return str, frozenset([ACKNOWLEDGED])
    if q.type == "select_multiple":
        low, high = q.raw.get("min_choices"), q.raw.get("max_choices")
        if not all(limit is None or type(limit) is int for limit in (low, high)):
            return None
        return list, _CleanPicks(q, max(low or 1, 1), len(q.choices) if high is None else high)
    if q.type == "matrix":
        return dict, _CleanRows(q)
    if q.type in ("rating", "nps"):
        top: object = 10 if q.type == "nps" else q.raw.get("scale", 5)
        if type(top) is not int:
            return None
        return int, range(0 if q.type == "nps" else 1, top + 1)
    if q.type == "integer":
        low, high = q.raw.get("min"), q.raw.get("max")
        if not all(limit is None or type(limit) is int for limit in (low, high)):
            return None
        first = -MAX_SAFE_INTEGER if low is None else max(low, -MAX_SAFE_INTEGER)
        last = MAX_SAFE_INTEGER if high is None else min(high, MAX_SAFE_INTEGER)
        return int, range(first, last + 1)
    return None


def _clean_names(q: Question) -> frozenset[str]:
    """The choice names _choice() returns unchanged."""
    names = (c["name"] for c in q.choices)
    return frozenset(n for n in names if n.strip() and _nfc(n) == n and not unstorable(n))


class _CleanPicks:
    """The select_multiple answers its rule returns unchanged: clean choice names, each
    once and in the question's order, as many as it allows (at least one), and no
    exclusive choice beside another."""

    def __init__(self, q: Question, low: int, high: int) -> None:
        clean = _clean_names(q)
        self.place = {name: i for i, name in enumerate(q.choice_names()) if name in clean}
        self.exclusive = frozenset(c["name"] for c in q.choices if c.get("exclusive"))
        self.low, self.high = low, high

    def __contains__(self, picks: object) -> bool:
        if not isinstance(picks, list) or not self.low <= len(picks) <= self.high:
            return False
        last = -1
        for name in picks:
            place = self.place.get(name) if type(name) is str else None
            if place is None or place <= last:
                return False
            last = place
        return len(picks) == 1 or self.exclusive.isdisjoint(picks)


class _CleanRows:
    """The matrix answers its rule returns unchanged: rows in the question's order, each
    with a clean choice name, every row when the question is required."""

    def __init__(self, q: Question) -> None:
        self.place = {row["name"]: i for i, row in enumerate(q.rows)}
        self.names = _clean_names(q)
        self.least = len(self.place) if q.required else 1

    def __contains__(self, answers: object) -> bool:
        if not isinstance(answers, dict) or len(answers) < self.least:
            return False
        last = -1
        for row, name in answers.items():
            place = self.place.get(row)
            if place is None or place <= last or type(name) is not str or name not in self.names:
                return False
            last = place
        return True


def _clean_text(_q: Question, value: Any, _today: date) -> str:
    return text_value(_single(value))


def _clean_select_one(q: Question, value: Any, _today: date) -> str:
    return _choice(q, _single(value))


def _clean_select_multiple(q: Question, value: Any, _today: date) -> list[str]:
    values = value if isinstance(value, list) else [value]
    picked = {_choice(q, v) for v in values if not is_empty(v)}
    ordered = [name for name in q.choice_names() if name in picked]
    exclusive = [c for c in q.choices if c.get("exclusive") and c["name"] in picked]
    if exclusive and len(ordered) > 1:
        raise Invalid("exclusive", choice=exclusive[0]["name"])
    low, high = q.raw.get("min_choices"), q.raw.get("max_choices")
    if low is not None and len(ordered) < low:
        raise Invalid("too_few_choices", limit=low)
    if high is not None and len(ordered) > high:
        raise Invalid("too_many_choices", limit=high)
    return ordered


def _clean_rank(q: Question, value: Any, _today: date) -> list[str]:
    """A list of choice names in order; the form sends {choice: position} instead."""
    if isinstance(value, dict):
        positions = {}
        for name, position in value.items():
            if is_empty(position):
                continue
            positions[_choice(q, name)] = _integer(_single(position))
        if sorted(positions.values()) != list(range(1, len(positions) + 1)):
            raise Invalid("rank_positions")
        value = sorted(positions, key=lambda name: positions[name])
    if not isinstance(value, list):
        raise Invalid("rank_incomplete")
    ranked = [_choice(q, v) for v in value]
    if len(set(ranked)) != len(ranked) or len(ranked) != len(q.choices):
        raise Invalid("rank_incomplete")
    return ranked


def _clean_matrix(q: Question, value: Any, _today: date) -> dict[str, str]:
    if not isinstance(value, dict):
        raise Invalid("matrix_incomplete")
    rows = [row["name"] for row in q.rows]
    answers = {}
    for row, choice in value.items():
        if row not in rows:
            raise Invalid("unknown_row", value=shown(row))
        if not is_empty(choice):
            answers[row] = _choice(q, _single(choice))
    if q.required and len(answers) < len(rows):
        raise Invalid("matrix_incomplete")
    return {row: answers[row] for row in rows if row in answers}


def _clean_number(q: Question, value: Any, _today: date) -> int | float:
    number = _integer(_single(value)) if q.type == "integer" else _decimal(_single(value))
    low, high = q.raw.get("min"), q.raw.get("max")
    if low is not None and number < low:
        raise Invalid("number_min", limit=_shown_number(low))
    if high is not None and number > high:
        raise Invalid("number_max", limit=_shown_number(high))
    return number


def _clean_scale(q: Question, value: Any, _today: date) -> int:
    low, high = (0, 10) if q.type == "nps" else (1, q.raw.get("scale", 5))
    number = _integer(_single(value))
    if not low <= number <= high:
        raise Invalid("scale_range", low=low, high=high)
    return number


def _clean_date(q: Question, value: Any, today: date) -> str:
    text = _single(value)
    if not isinstance(text, str) or not DATE_RE.match(text.strip()):
        raise Invalid("not_date")
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise Invalid("not_date") from None
    low, high = (_limit_date(q.raw.get(key), today) for key in ("min", "max"))
    if high is None and day > LAST_DAY:
        raise Invalid("date_max", limit=LAST_DAY.strftime("%d/%m/%Y"))
    if low is None and day < FIRST_DAY:
        raise Invalid("date_min", limit=FIRST_DAY.strftime("%d/%m/%Y"))
    if high is not None and day > high:
        raise Invalid(
            "date_future" if q.raw.get("max") == "today" else "date_max",
            limit=high.strftime("%d/%m/%Y"),
        )
    if low is not None and day < low:
        raise Invalid("date_min", limit=low.strftime("%d/%m/%Y"))
    return day.isoformat()


def _limit_date(limit: str | None, today: date) -> date | None:
    if limit is None:
        return None
    return today if limit == "today" else date.fromisoformat(limit)


def _clean_email(_q: Question, value: Any, _today: date) -> str:
    text = text_value(_single(value))
    if len(text) > 254 or not EMAIL_RE.match(text):
        raise Invalid("not_email")
    local, domain = text.rsplit("@", 1)
    return f"{local}@{domain.lower()}"


def _clean_phone(_q: Question, value: Any, _today: date) -> str:
    """Stored as +84 followed by the number without its leading 0."""
    text = _single(value)
    if isinstance(text, int) and not isinstance(text, bool):
        text = "0" + str(text)
    if not isinstance(text, str):
        raise Invalid("not_phone")
    match = PHONE_RE.match(PHONE_NOISE_RE.sub("", unicodedata.normalize("NFKC", text)))
    if not match:
        raise Invalid("not_phone")
    return "+84" + match.group(1)


def _clean_geopoint(_q: Question, value: Any, _today: date) -> dict[str, float]:
    """{"lat", "lon"[, "acc"]}: the form sends q[lat], q[lon], q[acc]; the API the same
    object, or ODK's text "lat lon [altitude accuracy]". Latitude -90..90, longitude
    -180..180, accuracy 0..MAX_GEO_ACCURACY metres; rounded to GEO_DECIMALS places."""
    if isinstance(value, str):
        match = GEO_TEXT_RE.match(value)
        if not match:
            raise Invalid("geo_incomplete")
        value = {"lat": match[1], "lon": match[2], "acc": match[4]}
    if not isinstance(value, dict) or set(value) - {"lat", "lon", "acc"}:
        raise Invalid("geo_incomplete")
    lat, lon, acc = (_single(value.get(key)) for key in ("lat", "lon", "acc"))
    if is_empty(lat) or is_empty(lon):
        raise Invalid("geo_incomplete")
    point = {"lat": _geo_number(lat, "geo_lat"), "lon": _geo_number(lon, "geo_lon")}
    if not -90 <= point["lat"] <= 90:
        raise Invalid("geo_lat")
    if not -180 <= point["lon"] <= 180:
        raise Invalid("geo_lon")
    if not is_empty(acc):
        accuracy = _geo_number(acc, "geo_accuracy")
        if not 0 <= accuracy <= MAX_GEO_ACCURACY:
            raise Invalid("geo_accuracy", limit=int(MAX_GEO_ACCURACY))
        point["acc"] = round(accuracy, 1)
    return point


def _geo_number(value: Any, key: str) -> float:
    """A coordinate as typed (a Vietnamese decimal comma too), or Invalid(key)."""
    try:
        number = _decimal(value)
    except Invalid:
        raise Invalid(key, limit=int(MAX_GEO_ACCURACY)) from None
    return round(number, GEO_DECIMALS)


def _clean_upload(_q: Question, value: Any, _today: date) -> str:
    """An upload's token, as the upload route gave it; whether that upload exists, and
    is this survey's and this question's, is checked on submit (intake/uploads.py)."""
    token = _single(value)
    if not isinstance(token, str) or not UPLOAD_TOKEN_RE.match(token.strip()):
        raise Invalid("upload_unknown")
    return token.strip()


def _clean_acknowledge(_q: Question, value: Any, _today: date) -> str:
    if _single(value) not in (True, ACKNOWLEDGED, "ok", "1", 1, "true", "on"):
        raise Invalid("not_acknowledged")
    return ACKNOWLEDGED


def _clean_hidden(_q: Question, value: Any, _today: date) -> str:
    text = text_value(_single(value))
    if len(text) > MAX_HIDDEN_LENGTH:
        raise Invalid("too_long", limit=MAX_HIDDEN_LENGTH)
    return text


_CLEANERS = {
    "select_one": _clean_select_one,
    "select_multiple": _clean_select_multiple,
    "rank": _clean_rank,
    "matrix": _clean_matrix,
    "integer": _clean_number,
    "decimal": _clean_number,
    "rating": _clean_scale,
    "nps": _clean_scale,
    "date": _clean_date,
    "email": _clean_email,
    "phone": _clean_phone,
    "acknowledge": _clean_acknowledge,
    "geopoint": _clean_geopoint,
    "image": _clean_upload,
    "audio": _clean_upload,
    "video": _clean_upload,
    "file": _clean_upload,
    "hidden": _clean_hidden,
}


def _single(value: Any) -> Any:
    if isinstance(value, list):
        values = [v for v in value if not is_empty(v)]
        if len(values) != 1:
            raise Invalid("one_choice")
        return values[0]
    return value


def _nfc(value: str) -> str:
    return unicodedata.normalize("NFC", value).strip()


def _choice(question: Question, value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise Invalid("unknown_choice", value=shown(value))
    value = _nfc(value)
    if not question.has_choice(value):
        raise Invalid("unknown_choice", value=shown(value))
    return value


def text_value(value: Any) -> str:
    """A text answer: one string, NFC, stripped, not too long; raises Invalid."""
    if not isinstance(value, str):
        raise Invalid("not_text")
    if unstorable(value):
        raise Invalid("bad_character")
    value = _nfc(value)
    if len(value) > MAX_TEXT_LENGTH:
        raise Invalid("too_long", limit=MAX_TEXT_LENGTH)
    return value


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise Invalid("not_integer")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and INTEGER_RE.match(value.strip()):
        value = int(value.strip())
    if not isinstance(value, int):
        raise Invalid("not_integer")
    if abs(value) > MAX_SAFE_INTEGER:
        raise Invalid("number_range")
    return value


def _decimal(value: Any) -> float:
    if isinstance(value, bool):
        raise Invalid("not_decimal")
    if isinstance(value, str):
        text = value.strip()
        if "," in text and "." not in text:  # Vietnamese decimal comma: 3,5
            text = text.replace(",", ".")
        try:
            value = float(text) if len(text) <= 40 else None
        except ValueError:
            value = None
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise Invalid("not_decimal")
    if abs(value) > 1e15:
        raise Invalid("number_range")
    return float(value)  # 3 and "3,0" are the same answer, stored the same way


def _shown_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value).replace(".", ",")


def shown(value: Any) -> str:
    """A short, safe rendering of a bad value for the error message."""
    text = printable(value if isinstance(value, str) else repr(value))
    return text if len(text) <= 40 else text[:40] + "…"
