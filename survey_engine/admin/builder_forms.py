"""The builder's forms read back: texts per language, numbers as typed, table rows,
Vietnam-time moments; and the validator's problems sorted to the fields they are about.

Why apart from the views (builder.py): these read a submitted form (a MultiDict) and
the validator's `path: text` problems, and nothing else of the request or the database,
so each rule of reading a field is one function that can be tested on its own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from werkzeug.datastructures import MultiDict

from survey_engine import params
from survey_engine.definition import editing as edit
from survey_engine.definition.families import NUMBER, TYPED_NUMBER
from survey_engine.definition.schema import PLAIN_SETTINGS, RETENTION_DAYS, SWITCH_SETTINGS
from survey_engine.definition.schema_questions import ROWS_LIMIT
from survey_engine.localtime import LOCAL_TIME

PROBLEM_RE = re.compile(r"^(?P<path>[^:\s]+): (?P<text>.*)$", re.S)


# Whole-number fields and their ranges (the validator checks their order and more).
WHOLE_FIELDS = {
    "min_choices": (0, 10_000),
    "max_choices": (0, 10_000),
    "scale": (2, 10),
    "min_count": (0, ROWS_LIMIT),
    "max_count": (1, ROWS_LIMIT),
}


MAX_RESPONSES_LIMIT = 1_000_000_000


SETTINGS_FIELDS = ("title", "description", "default_language", *PLAIN_SETTINGS)


def texts_from_form(form: MultiDict, field: str, languages: list[str]) -> dict | None:
    """`label.vi`, `label.en` ... -> {"vi": ..., "en": ...}, without empty ones."""
    value = {lang: form.get(f"{field}.{lang}", "").strip() for lang in languages}
    value = {lang: text for lang, text in value.items() if text}
    return value or None


def number_from_text(
    text: str, problems: dict[str, list[str]] | None = None, field: str = ""
) -> int | float | str:
    """A finite number if it reads as one (a decimal comma too); else the text, and
    the problem at `field`: "nan", "inf" and Unicode digits never become numbers."""
    try:
        number = params.finite_number(text)
    except params.ParamError as error:
        if problems is not None:
            problems.setdefault(field, []).append(str(error))
        return text.strip()
    cleaned = text.strip().replace(",", ".")
    return int(number) if number.is_integer() and not set(".eE") & set(cleaned) else number


def whole_from_text(
    text: str, low: int, high: int, problems: dict[str, list[str]], field: str
) -> int | str:
    """A whole number in [low, high] in ASCII digits; else the text and the problem."""
    try:
        return params.whole_number(text, low, high)
    except params.ParamError as error:
        problems.setdefault(field, []).append(str(error))
        return text.strip()


def question_from_form(
    form: MultiDict, languages: list[str], problems: dict[str, list[str]] | None = None
) -> dict:
    """A question with only the properties its (possibly new) type takes; a number
    field that is not one is kept as typed, its problem added to `problems`."""
    problems = {} if problems is None else problems
    qtype = form.get("type", "")
    keys = edit.keys_for(qtype)
    question: dict[str, Any] = {"name": form.get("name", "").strip(), "type": qtype}
    for key in edit.TEXT_KEYS:
        if key in keys and (text := texts_from_form(form, key, languages)):
            question[key] = text
    if form.get("required"):
        question["required"] = True
    for key in (
        "relevant",
        "constraint",
        "choice_filter",
        "calculation",
        "appearance",
        "choices",
        "count",
    ):
        if key in keys and (value := form.get(key, "").strip()):
            question[key] = value
    if "other" in keys and form.get("other"):
        question["other"] = True
    for key in ("min", "max"):
        if key in keys and (value := form.get(key, "").strip()):
            question[key] = (
                number_from_text(value, problems, key) if qtype in TYPED_NUMBER else value
            )
    for key in WHOLE_FIELDS:
        if key in keys and (value := form.get(key, "").strip()):
            question[key] = whole_from_text(value, *WHOLE_FIELDS[key], problems, key)
    if value := form.get("default", "").strip():
        if qtype == "select_multiple":
            question["default"] = re.split(r"[\s,]+", value)
        elif qtype in NUMBER:
            question["default"] = number_from_text(value, problems, "default")
        else:
            question["default"] = value
    if "rows" in keys:
        question["rows"] = table_rows(form, "row", languages)
    return question


def table_rows(
    form: MultiDict, prefix: str, languages: list[str], extra_columns: Sequence[str] = ()
) -> list[dict]:
    """Rows of an editable table (`row-3-name`, `row-3-label.vi` ...): in the order of
    their `position`, without those whose name was emptied or `delete` ticked."""
    rows = []
    # Row numbers are the page's own: ASCII digits ("row-²-name" is no row of it).
    for index in sorted(
        {
            int(k.split("-")[1])
            for k in form
            if k.startswith(prefix + "-") and re.fullmatch(r"[0-9]{1,6}", k.split("-")[1])
        }
    ):
        key = f"{prefix}-{index}"
        name = form.get(f"{key}-name", "").strip()
        if not name or form.get(f"{key}-delete"):
            continue
        row: dict[str, Any] = {"name": name}
        row["label"] = texts_from_form(form, f"{key}-label", languages) or {}
        if not row["label"]:
            del row["label"]
        for column in extra_columns:
            if value := form.get(f"{key}-x-{column}", "").strip():
                row[column] = value
        if form.get(f"{key}-exclusive"):
            row["exclusive"] = True
        position = form.get(f"{key}-position", "").strip()
        rows.append((_position(position, index), index, row))
    return [row for _p, _i, row in sorted(rows, key=lambda r: (r[0], r[1]))]


def _position(text: str, index: int) -> float:
    """Where a row goes: its typed position, or where it stood when that is no number."""
    try:
        return params.finite_number(text)
    except params.ParamError:
        return index + 0.5


def split_problems(problems: list[str], prefix: str) -> tuple[dict[str, list[str]], list[str]]:
    """Problems under `prefix` by their first key (`label`, `rows` ...); the rest with paths."""
    at_field: dict[str, list[str]] = {}
    elsewhere: list[str] = []
    for problem in problems:
        match = PROBLEM_RE.match(problem)
        if match and prefix and match["path"].startswith(prefix + "."):
            field = re.split(r"[.\[]", match["path"][len(prefix) + 1 :])[0]
            at_field.setdefault(field, []).append(match["text"])
        else:
            elsewhere.append(problem)
    return at_field, elsewhere


def settings_problems(problems: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    """The settings form's problems at its fields (`settings.opens_at` -> opens_at)."""
    at_field: dict[str, list[str]] = {}
    elsewhere: list[str] = []
    for problem in problems:
        match = PROBLEM_RE.match(problem)
        field = re.split(r"[.\[]", match["path"].removeprefix("settings."))[0] if match else ""
        if match and field in SETTINGS_FIELDS:
            at_field.setdefault(field, []).append(match["text"])
        else:
            elsewhere.append(problem)
    return at_field, elsewhere


def local_input(moment: str | None) -> str:
    """An ISO time from the definition as a datetime-local value in Vietnam time."""
    if not moment:
        return ""
    try:
        return datetime.fromisoformat(moment).astimezone(LOCAL_TIME).strftime("%Y-%m-%dT%H:%M")
    except (ValueError, OverflowError):  # year 1 cannot move to Vietnam time
        return moment


def from_local_input(value: str, problems: list[str], field: str) -> str | None:
    """A datetime-local value typed in Vietnam time, as ISO 8601 with its offset; one
    that is no time from 1900 to 2100 (year 1 overflows when compared) is kept as
    typed, its problem added to `problems` as settings.<field>."""
    value = value.strip()
    if not value:
        return None
    try:
        return params.local_moment(value).isoformat()
    except params.ParamError as error:
        problems.append(f"settings.{field}: {error}")
        return value


def access_from_form(form: MultiDict, problems: list[str]) -> dict:
    """Who may answer and what is kept (settings.access, allow_edit, link_codes,
    anonymous, retention_days): a switch is there only when on, the retention only
    when typed; a retention that is no whole number is kept as typed, its problem
    added as settings.retention_days."""
    settings: dict[str, Any] = {"access": form.get("access", "open").strip()[:20]}
    for key in SWITCH_SETTINGS:
        if form.get(key) in ("1", "on", "yes"):
            settings[key] = True
    days = form.get("retention_days", "").strip()
    if days:
        found: dict[str, list[str]] = {}
        low, high = RETENTION_DAYS
        settings["retention_days"] = whole_from_text(days, low, high, found, "retention_days")
        problems += [f"settings.retention_days: {text}" for text in found.get("retention_days", [])]
    return settings
