"""Checks a citizen's answers against a published definition.

Both submit paths (the HTML form and the JSON API) end here, so a rule holds for
both, and the page's script only repeats it for speed: the server decides. Input
may be anything a client sends; the result is clean, typed answers or a message
per question in the reader's language, never an exception.

Order of work: every answer is typed first; then, question by question in the
definition's order, a question that is not relevant (itself or its page) loses
its answer, as in XLSForm, and the rest are checked for required, choice filter,
limits and constraint; calculations are computed here, whatever the page sent.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import date, datetime
from typing import Any

from survey_engine.definition.expressions import evaluate, truthy
from survey_engine.definition.model import OTHER, Definition, Question
from survey_engine.i18n import message
from survey_engine.localtime import FIRST_YEAR, LAST_YEAR, LOCAL_TIME
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
# Dates an answer may take when its question sets no min/max of its own.
FIRST_DAY, LAST_DAY = date(FIRST_YEAR, 1, 1), date(LAST_YEAR, 12, 31)


class _Invalid(Exception):
    def __init__(self, key: str, **values: object) -> None:
        self.key = key
        self.values = values


def local_today() -> date:
    """'today' for min/max and today(): the province's date, not the server's UTC."""
    return datetime.now(LOCAL_TIME).date()


def clean_answers(
    definition: Definition, raw: dict[str, Any], lang: str, today: date | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Return (answers, errors): typed answers without empties, or messages by question."""
    today = today or local_today()
    errors: dict[str, str] = {}
    other_fields = {q.other_field: q for q in definition.questions if q.other}
    for key, value in raw.items():
        question = definition.by_name.get(key)
        if question is None and key not in other_fields:
            errors[safe_text(str(key))[:64]] = message(
                "bad_character" if unstorable(key) else "unknown_question", lang)
        elif question is not None and question.type == "note" and not _is_empty(value):
            errors[key] = message("not_answerable", lang)

    typed: dict[str, Any] = {}
    type_errors: dict[str, str] = {}
    for q in definition.questions:
        value = raw.get(q.name)
        if q.type in ("note", "calculate") or _is_empty(value):
            continue
        if unstorable(value):
            type_errors[q.name] = message("bad_character", lang)
            continue
        try:
            typed[q.name] = _clean(q, value, today)
        except _Invalid as problem:
            type_errors[q.name] = _message_for(definition, q, problem, lang)

    answers: dict[str, Any] = {}
    context = dict(typed)  # what expressions see: irrelevant answers leave it as we go
    for q in definition.questions:
        if not _relevant(definition, q, context, today):
            context.pop(q.name, None)
            continue
        if q.type == "calculate":
            result = _stored_value(evaluate(q.calculation, context, today=today))
            if result is not None:
                answers[q.name] = context[q.name] = result
            continue
        if not q.takes_answer:
            continue
        if q.name in type_errors:
            errors[q.name] = type_errors[q.name]
            continue
        value = typed.get(q.name)
        try:
            if value is None:
                if q.required:
                    raise _Invalid("required")
                continue
            _check_logic(definition, q, value, context, today)
        except _Invalid as problem:
            errors[q.name] = _message_for(definition, q, problem, lang)
            context.pop(q.name, None)
            continue
        answers[q.name] = value
        if q.other:
            _clean_other(q, answers, raw, errors, lang)
    return answers, errors


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


def _relevant(definition: Definition, q: Question, context: dict, today: date) -> bool:
    for ast in (definition.page_relevant.get(q.page), q.relevant):
        if ast is not None and not truthy(evaluate(ast, context, today=today)):
            return False
    return True


def available_choices(q: Question, context: dict, today: date | None = None) -> list[dict]:
    """The choices left by the question's choice_filter ('other' always stays)."""
    if q.choice_filter is None:
        return list(q.choices)
    return [c for c in q.choices if c["name"] == OTHER
            or truthy(evaluate(q.choice_filter, context, choice=c, today=today))]


def _check_logic(definition: Definition, q: Question, value: Any, context: dict,
                 today: date) -> None:
    """What depends on other answers: the choice filter and the constraint.

    A filter that follows an unanswered or wrong answer (commune without a valid
    district) is not checked: that answer's own error is the one to show.
    """
    if q.choice_filter is not None and q.filter_refs <= context.keys():
        for picked in value if isinstance(value, list) else [value]:
            choice = q.choice(picked)
            if picked != OTHER and not truthy(
                    evaluate(q.choice_filter, context, choice=choice, today=today)):
                raise _Invalid("unknown_choice", value=_shown(picked))
    if q.constraint is not None:
        if not truthy(evaluate(q.constraint, context, current=value, today=today)):
            raise _Invalid("constraint")


def _message_for(definition: Definition, q: Question, problem: _Invalid, lang: str) -> str:
    """The author's own message for required/constraint when there is one; a choice
    named in a message is shown by its label."""
    own = {"required": q.raw.get("required_message"),
           "constraint": q.raw.get("constraint_message")}.get(problem.key)
    if own is not None:
        return definition.text(own, lang)
    values = dict(problem.values)
    name = values.get("choice")
    if isinstance(name, str) and (choice := q.choice(name)) is not None:
        values["choice"] = definition.text(choice.get("label"), lang)
    return message(problem.key, lang, **values)


def _clean_other(question: Question, answers: dict, raw: dict, errors: dict, lang: str) -> None:
    chosen = answers.get(question.name)
    picked_other = chosen == OTHER or (isinstance(chosen, list) and OTHER in chosen)
    text = raw.get(question.other_field)
    field = question.other_field
    try:
        if _is_empty(text):
            if picked_other:
                raise _Invalid("required")
        elif not picked_other:
            raise _Invalid("other_without_other")
        else:
            answers[field] = _text(text)
    except _Invalid as problem:
        errors[field] = message(problem.key, lang, **problem.values)


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list):
        return all(_is_empty(v) for v in value)
    if isinstance(value, dict):
        return all(_is_empty(v) for v in value.values())
    return False


def _stored_value(value: Any) -> Any:
    """A calculation's result as stored: a number, or text; NaN and '' are no answer."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return int(value) if value.is_integer() and abs(value) <= MAX_SAFE_INTEGER else value
    if isinstance(value, list):
        value = " ".join(value)
    return value or None


def _clean(q: Question, value: Any, today: date) -> Any:
    cleaner = _CLEANERS.get(q.type, lambda q, v, today: _text(_single(v)))
    return cleaner(q, value, today)


def _clean_select_one(q: Question, value: Any, _today: date) -> str:
    return _choice(q, _single(value))


def _clean_select_multiple(q: Question, value: Any, _today: date) -> list[str]:
    values = value if isinstance(value, list) else [value]
    picked = {_choice(q, v) for v in values if not _is_empty(v)}
    ordered = [name for name in q.choice_names() if name in picked]
    exclusive = [c for c in q.choices if c.get("exclusive") and c["name"] in picked]
    if exclusive and len(ordered) > 1:
        raise _Invalid("exclusive", choice=exclusive[0]["name"])
    low, high = q.raw.get("min_choices"), q.raw.get("max_choices")
    if low is not None and len(ordered) < low:
        raise _Invalid("too_few_choices", limit=low)
    if high is not None and len(ordered) > high:
        raise _Invalid("too_many_choices", limit=high)
    return ordered


def _clean_rank(q: Question, value: Any, _today: date) -> list[str]:
    """A list of choice names in order; the form sends {choice: position} instead."""
    if isinstance(value, dict):
        positions = {}
        for name, position in value.items():
            if _is_empty(position):
                continue
            positions[_choice(q, name)] = _integer(_single(position))
        if sorted(positions.values()) != list(range(1, len(positions) + 1)):
            raise _Invalid("rank_positions")
        value = sorted(positions, key=lambda name: positions[name])
    if not isinstance(value, list):
        raise _Invalid("rank_incomplete")
    ranked = [_choice(q, v) for v in value]
    if len(set(ranked)) != len(ranked) or len(ranked) != len(q.choices):
        raise _Invalid("rank_incomplete")
    return ranked


def _clean_matrix(q: Question, value: Any, _today: date) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _Invalid("matrix_incomplete")
    rows = [row["name"] for row in q.rows]
    answers = {}
    for row, choice in value.items():
        if row not in rows:
            raise _Invalid("unknown_row", value=_shown(row))
        if not _is_empty(choice):
            answers[row] = _choice(q, _single(choice))
    if q.required and len(answers) < len(rows):
        raise _Invalid("matrix_incomplete")
    return {row: answers[row] for row in rows if row in answers}


def _clean_number(q: Question, value: Any, _today: date) -> int | float:
    number = _integer(_single(value)) if q.type == "integer" else _decimal(_single(value))
    low, high = q.raw.get("min"), q.raw.get("max")
    if low is not None and number < low:
        raise _Invalid("number_min", limit=_shown_number(low))
    if high is not None and number > high:
        raise _Invalid("number_max", limit=_shown_number(high))
    return number


def _clean_scale(q: Question, value: Any, _today: date) -> int:
    low, high = (0, 10) if q.type == "nps" else (1, q.raw.get("scale", 5))
    number = _integer(_single(value))
    if not low <= number <= high:
        raise _Invalid("scale_range", low=low, high=high)
    return number


def _clean_date(q: Question, value: Any, today: date) -> str:
    text = _single(value)
    if not isinstance(text, str) or not DATE_RE.match(text.strip()):
        raise _Invalid("not_date")
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise _Invalid("not_date") from None
    low, high = (_limit_date(q.raw.get(key), today) for key in ("min", "max"))
    if high is None and day > LAST_DAY:
        raise _Invalid("date_max", limit=LAST_DAY.strftime("%d/%m/%Y"))
    if low is None and day < FIRST_DAY:
        raise _Invalid("date_min", limit=FIRST_DAY.strftime("%d/%m/%Y"))
    if high is not None and day > high:
        raise _Invalid("date_future" if q.raw.get("max") == "today" else "date_max",
                       limit=high.strftime("%d/%m/%Y"))
    if low is not None and day < low:
        raise _Invalid("date_min", limit=low.strftime("%d/%m/%Y"))
    return day.isoformat()


def _limit_date(limit: str | None, today: date) -> date | None:
    if limit is None:
        return None
    return today if limit == "today" else date.fromisoformat(limit)


def _clean_email(_q: Question, value: Any, _today: date) -> str:
    text = _text(_single(value))
    if len(text) > 254 or not EMAIL_RE.match(text):
        raise _Invalid("not_email")
    local, domain = text.rsplit("@", 1)
    return f"{local}@{domain.lower()}"


def _clean_phone(_q: Question, value: Any, _today: date) -> str:
    """Stored as +84 followed by the number without its leading 0."""
    text = _single(value)
    if isinstance(text, int) and not isinstance(text, bool):
        text = "0" + str(text)
    if not isinstance(text, str):
        raise _Invalid("not_phone")
    match = PHONE_RE.match(PHONE_NOISE_RE.sub("", unicodedata.normalize("NFKC", text)))
    if not match:
        raise _Invalid("not_phone")
    return "+84" + match.group(1)


def _clean_acknowledge(_q: Question, value: Any, _today: date) -> str:
    if _single(value) not in (True, ACKNOWLEDGED, "ok", "1", 1, "true", "on"):
        raise _Invalid("not_acknowledged")
    return ACKNOWLEDGED


def _clean_hidden(_q: Question, value: Any, _today: date) -> str:
    text = _text(_single(value))
    if len(text) > MAX_HIDDEN_LENGTH:
        raise _Invalid("too_long", limit=MAX_HIDDEN_LENGTH)
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
    "hidden": _clean_hidden,
}


def _single(value: Any) -> Any:
    if isinstance(value, list):
        values = [v for v in value if not _is_empty(v)]
        if len(values) != 1:
            raise _Invalid("one_choice")
        return values[0]
    return value


def _nfc(value: str) -> str:
    return unicodedata.normalize("NFC", value).strip()


def _choice(question: Question, value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise _Invalid("unknown_choice", value=_shown(value))
    value = _nfc(value)
    if value not in question.choice_names():
        raise _Invalid("unknown_choice", value=_shown(value))
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid("not_text")
    if unstorable(value):
        raise _Invalid("bad_character")
    value = _nfc(value)
    if len(value) > MAX_TEXT_LENGTH:
        raise _Invalid("too_long", limit=MAX_TEXT_LENGTH)
    return value


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise _Invalid("not_integer")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and INTEGER_RE.match(value.strip()):
        value = int(value.strip())
    if not isinstance(value, int):
        raise _Invalid("not_integer")
    if abs(value) > MAX_SAFE_INTEGER:
        raise _Invalid("number_range")
    return value


def _decimal(value: Any) -> float:
    if isinstance(value, bool):
        raise _Invalid("not_decimal")
    if isinstance(value, str):
        text = value.strip()
        if "," in text and "." not in text:  # Vietnamese decimal comma: 3,5
            text = text.replace(",", ".")
        try:
            value = float(text) if len(text) <= 40 else None
        except ValueError:
            value = None
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise _Invalid("not_decimal")
    if abs(value) > 1e15:
        raise _Invalid("number_range")
    return float(value)  # 3 and "3,0" are the same answer, stored the same way


def _shown_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value).replace(".", ",")


def _shown(value: Any) -> str:
    """A short, safe rendering of a bad value for the error message."""
    text = printable(value if isinstance(value, str) else repr(value))
    return text if len(text) <= 40 else text[:40] + "…"
