"""What the questionnaire template needs beyond the definition: field ids, piped
labels, grouped options, and reading the posted form back into answers; and the pages
of one message (thanks, closed, an error), which the staff side and the error
handlers draw too."""

from __future__ import annotations

import re
from typing import Any

from flask import render_template
from flask_babel import gettext
from markupsafe import Markup, escape
from werkzeug.datastructures import MultiDict

from survey_engine.definition import Definition, Question
from survey_engine.definition.answers import local_today
from survey_engine.definition.model import OTHER
from survey_engine.definition.schema_common import RESERVED_NAMES
from survey_engine.i18n import message
from survey_engine.public.rosters import (
    apply_action,
    drop_blank_tail,
    is_roster_field,
    roster_action,
    row_key,
    rows_from_form,
    shown_rows,
    split_row_key,
)

PIPE_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# `matrix[row]` and `rank[choice]` fields of the form.
SUB_FIELD_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\[([A-Za-z0-9_.-]{1,64})\]$")
# The form's own fields, never answers (reserved: no question takes these names).
CONTROL_FIELDS = RESERVED_NAMES


def answers_from_form(
    form: MultiDict, d: Definition, keep_blank_rows: bool = False
) -> dict[str, Any]:
    """The posted form as raw answers: lists for select_multiple, dicts for sub-fields,
    a list of rows for a roster (public/rosters.py); blank rows at the end of a roster
    the citizen sizes are dropped unless `keep_blank_rows` (the page shows them again)."""
    values: dict[str, Any] = {}
    for key in form:
        if key in CONTROL_FIELDS or (d.repeats and is_roster_field(d, key)):
            continue
        _file(key, form.getlist(key), values, d.by_name)
    if d.repeats:
        rows = rows_from_form(
            form,
            d,
            lambda key, sent, row, roster: _file(
                key, sent, row, {q.name: q for q in roster.questions}
            ),
        )
        values.update(rows)
        if not keep_blank_rows:
            drop_blank_tail(d, values)
    return values


def roster_pressed(form: MultiDict, d: Definition) -> tuple[dict[str, Any], str] | None:
    """When a roster's button sent the form (no page script): the answers with its
    change made, blank rows kept, and the id to focus on the page drawn again."""
    action = roster_action(form)
    if action is None:
        return None
    values = answers_from_form(form, d, keep_blank_rows=True)
    focus = apply_action(d, values, action)
    return None if focus is None else (values, focus)


def _file(key: str, sent: list[str], values: dict[str, Any], by_name: dict) -> None:
    """One posted field into `values`: `a[b]` into a dict, a select_multiple's or a
    repeated field's values as a list, else the one value."""
    sub = SUB_FIELD_RE.match(key)
    if sub:
        name, part = sub.groups()
        if not isinstance(values.get(name), dict):
            values[name] = {}
        values[name][part] = sent[0] if len(sent) == 1 else sent
        return
    question = by_name.get(key)
    many = question is not None and question.type == "select_multiple"
    values[key] = sent if many or len(sent) > 1 else sent[0]


def first_values(d: Definition, args: MultiDict) -> dict[str, Any]:
    """A fresh page: defaults, and hidden questions filled from the link (?source=zalo)."""
    values: dict[str, Any] = {}
    for q in d.questions:
        if q.type == "hidden" and (given := args.get(q.name)):
            values[q.name] = given[:500]
        elif q.raw.get("default") is not None:
            default = q.raw["default"]
            if q.type == "select_multiple" and isinstance(default, str):
                default = default.split()
            values[q.name] = default
    return values


def _input_ids(q: Question, key: str) -> dict[str, str]:
    """The id of the first input of question `q` drawn under the field name `key`."""
    if q.type == "matrix":
        first = f"f-{key}-{q.rows[0]['name']}-1"
    elif q.type in ("rating", "nps"):
        first = f"f-{key}-{0 if q.type == 'nps' else 1}"
    elif q.type == "geopoint":
        first = f"f-{key}-lat"
    elif (q.is_select and q.appearance != "minimal") or q.type == "rank":
        first = f"f-{key}-1"
    else:
        first = f"f-{key}"
    ids = {key: first}
    if q.other:
        ids[f"{key}_other"] = f"f-{key}_other"
    return ids


class PageHelpers:
    """Functions the template calls, bound to one definition, language and answers."""

    def __init__(self, d: Definition, lang: str, values: dict) -> None:
        self.d = d
        self.lang = lang
        self.values = values

    def field_ids(self, errors: dict | None = None) -> dict[str, str]:
        """Where the error summary's link for each question leads: its first input; for
        a row's question (`members.2.age`, in `errors`) that of its row; for a roster,
        its first row, or its add button."""
        ids = {}
        for q in self.d.questions:
            ids.update(_input_ids(q, q.name))
            if q.is_repeat:
                ids[q.name] = f"f-{q.name}-add" if q.count is None else f"q-{q.name}"
        for key in errors or ():
            if (found := split_row_key(self.d, key)) is not None:
                roster, number, row_q = found
                ids.update(_input_ids(row_q, row_key(roster.name, number, row_q.name)))
        return ids

    def row_word(self, roster: Question) -> str | None:
        """The roster's own word for a row ("Plot", "Class"): its row_label, if set."""
        word = roster.raw.get("row_label")
        return self.d.text(word, self.lang) if word is not None else None

    def row_title(self, roster: Question, number: int | str) -> str:
        """A row's heading: "Plot 2" with the roster's row_label, else "Member 2"."""
        word = self.row_word(roster)
        if word is not None:
            return f"{word} {number}"
        return gettext("Member %(number)s", number=number)

    def row_labels(self, errors: dict) -> dict[str, str]:
        """The error summary's words for a row's question: "Member 2: Age"."""
        labels = {}
        for key in errors:
            if (found := split_row_key(self.d, key)) is not None:
                roster, number, row_q = found
                label = self.d.text(row_q.label, self.lang)
                if key.endswith("_other") and row_q.other:
                    label = message("other_specify", self.lang)
                labels[key] = f"{self.row_title(roster, number)}: {label}"
        return labels

    def pipe(self, text: Any, row: tuple[Question, int, dict] | None = None) -> Markup:
        """A label with ${name} replaced by that answer; the page's script updates it.
        In a roster's row (`row`: roster, row number, the row's answers) a name of the
        row's questions is that row's answer."""
        source = self.d.text(text, self.lang)
        parts, last = [], 0
        for match in PIPE_RE.finditer(source):
            parts.append(escape(source[last : match.start()]))
            name = match.group(1)
            row_q = next((q for q in row[0].questions if q.name == name), None) if row else None
            if row is not None and row_q is not None:
                shown = self.shown_answer(name, row[2], row_q)
                name = row_key(row[0].name, row[1], name)
            else:
                shown = self.shown_answer(name)
            parts.append(Markup('<span data-pipe="{}">{}</span>').format(name, shown))
            last = match.end()
        parts.append(escape(source[last:]))
        return Markup("").join(parts)

    def row_pipe(self, roster: Question, number: int, row: Any) -> Any:
        """pipe() for the questions of one row of `roster`."""
        return lambda text: self.pipe(text, (roster, number, row if isinstance(row, dict) else {}))

    def shown_answer(
        self, name: str, values: dict | None = None, question: Question | None = None
    ) -> str:
        """An answer as piped into a text: choices by their label (as survey.js does)."""
        values = self.values if values is None else values
        value = values.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        items = [
            v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str) and v
        ]
        question = question or self.d.by_name.get(name)
        if question is None or not question.is_select:
            return " ".join(items)
        shown = []
        for item in items:
            choice = question.choice(item)
            if choice is None:
                shown.append(item)
            elif choice["name"] == OTHER and choice["label"] is None:
                other = values.get(question.other_field)
                shown.append(
                    other
                    if isinstance(other, str) and other.strip()
                    else message("other", self.lang)
                )
            else:
                shown.append(self.d.text(choice.get("label"), self.lang))
        return ", ".join(shown)

    def rows(self, roster: Question) -> list[dict]:
        """The rows the page shows for `roster`, each with the answers typed in it."""
        sent = self.values.get(roster.name)
        sent = (
            [row if isinstance(row, dict) else {} for row in sent or ()]
            if isinstance(sent, list)
            else []
        )
        count = shown_rows(self.d, roster, self.values)
        return (sent + [{}] * count)[:count]

    def option_groups(self, q: Question) -> list[tuple[str, list[dict]]] | None:
        """Choices grouped by the question their filter follows (commune by district),
        so that the full list stays usable without the page's script."""
        ast = q.choice_filter
        if not (isinstance(ast, list) and len(ast) == 3 and ast[0] == "="):
            return None
        sides = {part[0]: part[1] for part in ast[1:] if isinstance(part, list)}
        ref = sides.get("ref")
        parent = self.d.by_name.get(ref) if isinstance(ref, str) else None
        prop = sides.get("prop")
        if parent is None or prop is None:
            return None
        groups = []
        for parent_choice in parent.choices:
            members = [c for c in q.choices if str(c.get(prop)) == parent_choice["name"]]
            if members:
                groups.append((self.d.text(parent_choice.get("label"), self.lang), members))
        return groups

    @staticmethod
    def rank_position(value: Any, choice: str) -> int | None:
        if isinstance(value, list) and choice in value:
            return value.index(choice) + 1
        if isinstance(value, dict):
            position = value.get(choice)
            if position is None:
                return None
            try:
                return int(position)
            except (TypeError, ValueError):
                return None
        return None

    @staticmethod
    def date_limit(limit: str | None) -> str | None:
        return local_today().isoformat() if limit == "today" else limit


def render_message(lang: str, key: str, status: int, link: dict | None = None) -> tuple[str, int]:
    """A page with one message: thanks, closed, not found ... (key_title, key_body)."""
    return render_template(
        "public/message.html",
        lang=lang,
        heading=message(f"{key}_title", lang),
        body=message(f"{key}_body", lang),
        link=link,
        kind=key,
    ), status
