"""Checks a citizen's answers against a published definition.

Both submit paths (the HTML form and the JSON API) end here, so a rule holds for
both. Input may be anything a client sends; the result is either clean, typed
answers or a message per question in the reader's language, never an exception.
"""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Any

from survey_engine.definition.model import OTHER, Definition, Question
from survey_engine.i18n import message

MAX_TEXT_LENGTH = 5000
# Integers beyond this lose precision in JavaScript and in Excel.
MAX_SAFE_INTEGER = 2**53 - 1
INTEGER_RE = re.compile(r"^[+-]?\d{1,20}$")


class _Invalid(Exception):
    def __init__(self, key: str, **values: object) -> None:
        self.key = key
        self.values = values


def clean_answers(
    definition: Definition, raw: dict[str, Any], lang: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """Return (answers, errors): typed answers without empties, or messages by question."""
    answers: dict[str, Any] = {}
    errors: dict[str, str] = {}
    other_fields = {q.other_field: q for q in definition.questions if q.other}

    for key, value in raw.items():
        question = definition.by_name.get(key)
        if question is None and key not in other_fields:
            errors[str(key)[:64]] = message("unknown_question", lang)
        elif question is not None and not question.takes_answer and not _is_empty(value):
            errors[key] = message("not_answerable", lang)

    for question in definition.questions:
        if not question.takes_answer:
            continue
        value = raw.get(question.name)
        try:
            if _is_empty(value):
                if question.required:
                    raise _Invalid("required")
                continue
            answers[question.name] = _clean(question, value)
        except _Invalid as problem:
            errors[question.name] = message(problem.key, lang, **problem.values)
            continue
        if question.other:
            _clean_other(question, answers, raw, errors, lang)
    return answers, errors


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
    return False


def _clean(question: Question, value: Any) -> Any:
    if question.type == "select_one":
        return _choice(question, _single(value))
    if question.type == "select_multiple":
        values = value if isinstance(value, list) else [value]
        picked = {_choice(question, v) for v in values if not _is_empty(v)}
        return [name for name in question.choice_names() if name in picked]
    if question.type == "integer":
        return _integer(_single(value))
    if question.type == "decimal":
        return _decimal(_single(value))
    return _text(_single(value))


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


def _shown(value: Any) -> str:
    """A short, safe rendering of a bad value for the error message."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:40] + "…"
