"""Rosters (type repeat) on the questionnaire: a row's fields are named
`<roster>.<row number>.<question>` (`members.2.age`, `members.2.languages`,
`members.2.sex_other`), each row carries a marker field `<roster>.<row number>` so that
a row of unticked radios still counts, and the buttons are submit buttons named
`<roster>.add`, `<roster>.remove` (value: the row) and `<roster>.rows` (show the rows a
count asks for), so that the form works without the page's script: they re-render the
page with every typed answer and store nothing. Here: reading those fields back into
the list of rows clean_answers() takes, the buttons' changes, and how many rows a
page shows."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from werkzeug.datastructures import MultiDict

from survey_engine.definition import Definition, Question
from survey_engine.definition.answer_types import is_empty
from survey_engine.definition.answers import clean_answers, rows_wanted

# `members.2` (the row's marker) and `members.2.age`, `members.2.rank[a]` ...
ROW_FIELD_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\.([0-9]{1,4})(?:\.(.+))?$")
# The buttons: add a row, remove row N, show the rows a count asks for.
ACTION_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\.(add|remove|rows)$")


def roster_of(d: Definition, name: str) -> Question | None:
    question = d.by_name.get(name)
    return question if question is not None and question.is_repeat else None


def is_roster_field(d: Definition, key: str) -> bool:
    """A row's field or a roster's button: never an answer of its own."""
    match = ROW_FIELD_RE.match(key) or ACTION_RE.match(key)
    return match is not None and roster_of(d, match.group(1)) is not None


def rows_from_form(
    form: MultiDict, d: Definition, read: Callable[[str, list[str], dict, Question], None]
) -> dict[str, list[dict[str, Any]]]:
    """Each roster's rows from the form, in the order of their numbers (a gap left by
    a removed row closes). `read(field, values sent, row, roster)` files one field of a
    row into its dict, as the top-level fields are filed (lists, sub-fields)."""
    rows: dict[str, dict[int, dict[str, Any]]] = {}
    for key in form:
        match = ROW_FIELD_RE.match(key)
        roster = roster_of(d, match.group(1)) if match else None
        if match is None or roster is None:
            continue
        row = rows.setdefault(roster.name, {}).setdefault(int(match.group(2)), {})
        if match.group(3):
            read(match.group(3), form.getlist(key), row, roster)
    return {name: [by_number[n] for n in sorted(by_number)] for name, by_number in rows.items()}


def drop_blank_tail(d: Definition, values: dict[str, Any]) -> None:
    """Blank rows at the end of a roster the citizen sizes (no count) are no rows: the
    row the page offers to start with, or one added and left empty."""
    for roster in d.repeats:
        rows = values.get(roster.name)
        if roster.count is not None or not isinstance(rows, list):
            continue
        while rows and is_empty(rows[-1]):
            rows.pop()


def roster_action(form: MultiDict) -> tuple[str, str, str] | None:
    """(roster, add|remove|rows, value) of the roster button that sent the form."""
    for key in form:
        if match := ACTION_RE.match(key):
            return match.group(1), match.group(2), form.get(key, "")
    return None


def apply_action(d: Definition, values: dict[str, Any], action: tuple[str, str, str]) -> str | None:
    """A roster button's change to the answers: a blank row added at the end, or row N
    removed (the rows after it move up). Where the page then puts the focus (the id of
    a row, or of the add button); None when no roster has that name."""
    name, verb, value = action
    roster = roster_of(d, name)
    if roster is None:
        return None
    rows = values.get(name)
    rows = values[name] = list(rows) if isinstance(rows, list) else []
    if verb == "add" and roster.count is None and len(rows) < roster.max_count:
        rows.append({})
        return f"q-{row_key(name, len(rows))}"
    if verb == "remove" and value.isdigit() and 1 <= int(value) <= len(rows):
        del rows[int(value) - 1]
        return f"q-{row_key(name, min(int(value), len(rows)))}" if rows else f"f-{name}-add"
    return f"q-{row_key(name, 1)}"


def shown_rows(d: Definition, roster: Question, values: dict[str, Any]) -> int:
    """How many rows the page shows: those a count asks for with the answers known so
    far; else those sent (one on a fresh page), at least min_count, at most max_count."""
    if roster.count is not None:
        outside = {k: v for k, v in values.items() if roster_of(d, k) is None}
        answers, _errors = clean_answers(d, outside, d.default_language)
        return rows_wanted(roster, answers)
    sent = values.get(roster.name)
    count = len(sent) if isinstance(sent, list) else 1  # a fresh page: one row to start
    return min(max(count, roster.min_count), roster.max_count)


def row_key(roster: str, number: int | str, name: str = "") -> str:
    """A row's field name (and, after `q-`/`f-`, its ids): members.2.age."""
    return f"{roster}.{number}.{name}" if name else f"{roster}.{number}"


def split_row_key(d: Definition, key: str) -> tuple[Question, int, Question] | None:
    """(roster, row number, row question) of `members.2.age`, `members.2.sex_other`."""
    match = ROW_FIELD_RE.match(key)
    roster = roster_of(d, match.group(1)) if match else None
    if match is None or roster is None or not match.group(3):
        return None
    name = match.group(3).removesuffix("_other")
    for row_q in roster.questions:
        if row_q.name in (match.group(3), name):
            return roster, int(match.group(2)), row_q
    return None
