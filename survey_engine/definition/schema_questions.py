"""The question-level part of the definition check: type, name, texts, expressions,
choice list, limits and matrix rows of one question.

Why apart from schema.py: a question has the most rules; the survey-level checks call
`check_question` once per question.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, TypeGuard

from survey_engine.definition.families import (
    CHOICE_LIST,
    IN_REPEAT,
    REPEAT,
    TYPED_NUMBER,
    UNSEEN,
)
from survey_engine.definition.problems import N_
from survey_engine.definition.schema_common import (
    NAME_RE,
    RESERVED_NAMES,
    Problems,
    check_expression,
    check_text,
    unknown_keys,
)

QUESTION_TYPES = {
    "select_one",
    "select_multiple",
    "rank",
    "matrix",
    "text",
    "integer",
    "decimal",
    "date",
    "geopoint",
    "barcode",
    "image",
    "audio",
    "video",
    "file",
    "email",
    "phone",
    "rating",
    "nps",
    "note",
    "acknowledge",
    "hidden",
    "calculate",
    "repeat",
}
QUESTION_KEYS = {
    "name",
    "type",
    "label",
    "hint",
    "required",
    "required_message",
    "choices",
    "appearance",
    "other",
    "relevant",
    "constraint",
    "constraint_message",
    "choice_filter",
    "default",
    "calculation",
    "min",
    "max",
    "min_choices",
    "max_choices",
    "scale",
    "rows",
    "attention",
    "questions",
    "min_count",
    "max_count",
    "count",
    "row_label",
}
# Which properties each type takes beyond the common ones.
TYPE_KEYS = {
    "select_one": {"choices", "other", "choice_filter", "attention"},
    "select_multiple": {"choices", "other", "choice_filter", "min_choices", "max_choices"},
    "rank": {"choices"},  # every choice is ranked, so none may be filtered away
    "matrix": {"choices", "rows", "attention"},
    "integer": {"min", "max", "attention"},
    "decimal": {"min", "max"},
    "date": {"min", "max"},
    "rating": {"scale", "attention"},
    "nps": {"attention"},
    "calculate": {"calculation"},
    "repeat": {"questions", "min_count", "max_count", "count", "row_label"},
}
# A roster's rows: at most this many in any answer (a household, a school's classes);
# a roster without max_count takes up to DEFAULT_MAX_ROWS.
ROWS_LIMIT = 100
DEFAULT_MAX_ROWS = 30
# A question's texts: a string, or {language: text} (check_text); row_label is a
# roster's word for a row ("Plot" makes "Plot 1", "Plot 2"). The builder, the
# translations page and the XLSForm columns all go by this list.
TEXT_KEYS = ("label", "hint", "required_message", "constraint_message", "row_label")
COMMON_KEYS = {
    "name",
    "type",
    "label",
    "hint",
    "required",
    "required_message",
    "appearance",
    "relevant",
    "constraint",
    "constraint_message",
    "default",
}
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def check_question(
    problems: Problems,
    path: str,
    question: Any,
    lists: dict[str, set],
    seen: dict[str, str],
    known: set[str],
    default_language: str,
) -> None:
    """Every problem of one question at `path`; its name is noted in `seen`.

    `known` is what its expressions may name: every question outside rosters, and
    within a roster's row also that row's questions."""
    if not isinstance(question, dict):
        problems.add(path, N_("a question is an object with name, type and label"))
        return
    qtype = question.get("type")
    _question_keys(problems, path, question, qtype)
    _question_name(problems, path, question, seen)
    check_text(
        problems,
        f"{path}.label",
        question.get("label"),
        default_language,
        required=qtype not in UNSEEN,
    )
    for key in TEXT_KEYS[1:]:  # the label, checked above, is required of most types
        check_text(problems, f"{path}.{key}", question.get(key), default_language)
    for flag in ("required", "other"):
        if flag in question and not isinstance(question[flag], bool):
            problems.add(
                f"{path}.{flag}",
                N_("must be true or false, got %(got)s"),
                got=repr(question[flag]),
            )
    if question.get("required") and qtype in ("note", "calculate"):
        problems.add(
            f"{path}.required",
            N_("a %(qtype)s takes no answer, so it cannot be required"),
            qtype=qtype,
        )
    appearance = question.get("appearance")
    if appearance is not None and not isinstance(appearance, str):
        problems.add(f"{path}.appearance", N_("must be a text"))
    check_expression(problems, f"{path}.relevant", question.get("relevant"), known)
    check_expression(problems, f"{path}.constraint", question.get("constraint"), known)
    check_expression(
        problems, f"{path}.choice_filter", question.get("choice_filter"), known, bare_names=True
    )
    if qtype == "calculate":
        if "calculation" not in question:
            problems.add(f"{path}.calculation", N_("a calculate question needs a calculation"))
        check_expression(problems, f"{path}.calculation", question.get("calculation"), known)

    choice_count = _choice_list(problems, path, question, lists) if qtype in CHOICE_LIST else 0
    _limits(problems, path, question, qtype, choice_count)
    if qtype == "matrix":
        _rows(problems, f"{path}.rows", question.get("rows"), default_language)
    if "attention" in question:
        _attention(problems, f"{path}.attention", question, lists)
    if qtype in REPEAT:
        _repeat(problems, path, question, lists, seen, known, default_language)
    default = question.get("default")
    if default is not None and not isinstance(default, str | int | float | list):
        problems.add(f"{path}.default", N_("a text, a number or a list of choice names"))


def _question_keys(problems: Problems, path: str, question: dict, qtype: Any) -> None:
    """A known type, and only the properties that type takes."""
    if qtype not in QUESTION_TYPES:
        problems.add(
            f"{path}.type",
            f"unknown question type {qtype!r}; one of " + ", ".join(sorted(QUESTION_TYPES)),
        )
        unknown_keys(problems, path, question, QUESTION_KEYS)
    else:
        allowed = COMMON_KEYS | TYPE_KEYS.get(qtype, set())
        for key in question:
            if key in QUESTION_KEYS and key not in allowed:
                problems.add(
                    f"{path}.{key}",
                    N_("an %(qtype)s question does not take %(key)s")
                    if qtype[0] in "aeiou"
                    else N_("a %(qtype)s question does not take %(key)s"),
                    qtype=qtype,
                    key=repr(key),
                )
        unknown_keys(problems, path, question, QUESTION_KEYS)


def _question_name(problems: Problems, path: str, question: dict, seen: dict[str, str]) -> None:
    """A valid name, unused so far (nor its `_other` field); noted in `seen`."""
    name = question.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        problems.add(
            f"{path}.name",
            N_(
                "letters, digits and '_', starting with a letter, up to 64 characters, got %(name)s"
            ),
            name=repr(name),
        )
    elif name in RESERVED_NAMES:
        problems.add(
            f"{path}.name",
            N_("%(name)s is a name the questionnaire form uses for itself; choose another"),
            name=repr(name),
        )
    else:
        taken = [name] + ([f"{name}_other"] if question.get("other") is True else [])
        for field in taken:
            if field in seen:
                problems.add(
                    f"{path}.name",
                    N_("%(field)s is already used by %(seen)s"),
                    field=repr(field),
                    seen=seen[field],
                )
            seen[field] = path


def _choice_list(problems: Problems, path: str, question: dict, lists: dict[str, set]) -> int:
    """A select question's list: named, known, without a second 'other'; its length."""
    list_name = question.get("choices")
    if not isinstance(list_name, str):
        problems.add(f"{path}.choices", N_("the name of a list in choice_lists is required"))
    elif list_name not in lists:
        problems.add(
            f"{path}.choices", N_("unknown choice list %(list_name)s"), list_name=repr(list_name)
        )
    else:
        if question.get("other") is True and "other" in lists[list_name]:
            problems.add(
                f"{path}.other",
                N_("list %(list_name)s already has a choice 'other'"),
                list_name=repr(list_name),
            )
        return len(lists[list_name])
    return 0


def _limits(problems: Problems, path: str, question: dict, qtype: Any, choice_count: int) -> None:
    """min/max, min_choices/max_choices and scale: the right kind of value, in order."""
    low, high = question.get("min"), question.get("max")
    if qtype in TYPED_NUMBER:
        for key, value in (("min", low), ("max", high)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                problems.add(f"{path}.{key}", N_("a number, got %(value)s"), value=repr(value))
        if _is_number(low) and _is_number(high) and low > high:
            problems.add(f"{path}.max", N_("must not be below min"))
    elif qtype == "date":
        for key, value in (("min", low), ("max", high)):
            if value is not None and not (value == "today" or _is_date(value)):
                problems.add(
                    f"{path}.{key}",
                    N_("a date YYYY-MM-DD or 'today', got %(value)s"),
                    value=repr(value),
                )
        if _is_date(low) and _is_date(high) and low > high:
            problems.add(f"{path}.max", N_("must not be before min"))
    for key in ("min_choices", "max_choices"):
        value = question.get(key)
        if value is not None and (
            type(value) is not int or value < 0 or (choice_count and value > choice_count)
        ):
            if choice_count:
                problems.add(
                    f"{path}.{key}",
                    N_("a whole number from 0 to %(count)s, got %(got)s"),
                    count=choice_count,
                    got=repr(value),
                )
            else:
                problems.add(
                    f"{path}.{key}",
                    N_("a whole number from 0 to the number of choices, got %(got)s"),
                    got=repr(value),
                )
    scale = question.get("scale")
    if scale is not None and (type(scale) is not int or not 2 <= scale <= 10):
        problems.add(
            f"{path}.scale", N_("a whole number from 2 to 10, got %(scale)s"), scale=repr(scale)
        )


def _is_number(value: Any) -> TypeGuard[int | float]:
    """A JSON number: int or float, and not a bool (which Python counts as an int)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_date(value: Any) -> TypeGuard[str]:
    if not isinstance(value, str) or not DATE_RE.match(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _rows(problems: Problems, path: str, rows: Any, default_language: str) -> None:
    if not isinstance(rows, list) or not rows:
        problems.add(path, N_("a matrix needs a non-empty list of rows: [{name, label}]"))
        return
    names: set[str] = set()
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            problems.add(f"{path}[{i}]", N_("a row is an object with name and label"))
            continue
        name = row.get("name")
        if not isinstance(name, str) or not NAME_RE.match(name):
            problems.add(
                f"{path}[{i}].name", N_("letters, digits and '_', got %(name)s"), name=repr(name)
            )
        elif name in names:
            problems.add(f"{path}[{i}].name", N_("repeats the row %(name)s"), name=repr(name))
        names.add(str(name))
        check_text(
            problems, f"{path}[{i}].label", row.get("label"), default_language, required=True
        )


def _repeat(
    problems: Problems,
    path: str,
    question: dict,
    lists: dict[str, set],
    seen: dict[str, str],
    known: set[str],
    default_language: str,
) -> None:
    """A roster: its row's questions (names unique in the whole survey, so an answer
    and an expression name one thing), how many rows, and `count`, an expression on
    earlier answers that fixes the number of rows (XLSForm's repeat_count)."""
    check_expression(problems, f"{path}.count", question.get("count"), known)
    for key in ("constraint", "constraint_message", "default"):
        if key in question:  # the rows' questions check their answers
            problems.add(
                f"{path}.{key}",
                N_("a %(qtype)s question does not take %(key)s"),
                qtype="repeat",
                key=repr(key),
            )
    low, high = question.get("min_count"), question.get("max_count")
    for key, value in (("min_count", low), ("max_count", high)):
        if value is not None and (type(value) is not int or not 0 <= value <= ROWS_LIMIT):
            problems.add(
                f"{path}.{key}",
                N_("a whole number from 0 to %(limit)s, got %(got)s"),
                limit=ROWS_LIMIT,
                got=repr(value),
            )
    if type(low) is int and type(high) is int and low > high:
        problems.add(f"{path}.max_count", N_("must not be below min_count"))
    if high == 0:
        problems.add(f"{path}.max_count", N_("a roster needs room for at least one row"))
    rows = question.get("questions")
    if not isinstance(rows, list) or not rows:
        problems.add(f"{path}.questions", N_("a roster needs a non-empty list of questions"))
        return
    in_row = known | {
        q["name"] for q in rows if isinstance(q, dict) and isinstance(q.get("name"), str)
    }
    for i, row_question in enumerate(rows):
        row_path = f"{path}.questions[{i}]"
        row_type = row_question.get("type") if isinstance(row_question, dict) else None
        if row_type in QUESTION_TYPES and row_type not in IN_REPEAT:
            problems.add(
                f"{row_path}.type",
                N_("a roster's row cannot ask a %(qtype)s question; it may ask: %(types)s"),
                qtype=row_type,
                types=", ".join(sorted(IN_REPEAT)),
            )
            continue
        if isinstance(row_question, dict) and "attention" in row_question:
            problems.add(
                f"{row_path}.attention", N_("an attention check cannot be inside a roster")
            )
        check_question(problems, row_path, row_question, lists, seen, in_row, default_language)


def _attention(problems: Problems, path: str, question: dict, lists: dict[str, set]) -> None:
    """An attention check's expected answer (intake/quality.py flags any other): a choice
    of a select_one, a whole number of a number, {row: choice} of a matrix."""
    expected = question["attention"]
    qtype = question.get("type")
    list_name = question.get("choices")
    choices = lists.get(list_name, set()) if isinstance(list_name, str) else set()
    if qtype == "select_one":
        if _choice_name(expected) not in choices:
            problems.add(
                path,
                N_("the expected answer is one of the choices, got %(expected)s"),
                expected=repr(expected),
            )
    elif qtype == "matrix":
        given = question.get("rows")
        rows = (
            {r.get("name") for r in given if isinstance(r, dict)}
            if isinstance(given, list)
            else set()
        )
        if (
            not isinstance(expected, dict)
            or not expected
            or any(r not in rows or _choice_name(c) not in choices for r, c in expected.items())
        ):
            problems.add(
                path,
                N_("the expected answer is {row: choice}, got %(expected)s"),
                expected=repr(expected),
            )
    elif type(expected) is not int:
        problems.add(
            path,
            N_("the expected answer is a whole number, got %(expected)s"),
            expected=repr(expected),
        )


def _choice_name(value: Any) -> str | None:
    """A choice's name as the lists keep it (a whole number is read as its text)."""
    if type(value) is int:
        return str(value)
    return value if isinstance(value, str) else None
