"""What the questionnaire template needs beyond the definition: field ids, piped
labels, grouped options, and reading the posted form back into answers; and the pages
of one message (thanks, closed, an error), which the staff side and the error
handlers draw too."""

from __future__ import annotations

import re
from typing import Any

from flask import render_template
from markupsafe import Markup, escape
from werkzeug.datastructures import MultiDict

from survey_engine.definition import Definition, Question
from survey_engine.definition.answers import local_today
from survey_engine.definition.model import OTHER
from survey_engine.definition.schema_common import RESERVED_NAMES
from survey_engine.i18n import message

PIPE_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# `matrix[row]` and `rank[choice]` fields of the form.
SUB_FIELD_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\[([A-Za-z0-9_.-]{1,64})\]$")
# The form's own fields, never answers (reserved: no question takes these names).
CONTROL_FIELDS = RESERVED_NAMES


def answers_from_form(form: MultiDict, d: Definition) -> dict[str, Any]:
    """The posted form as raw answers: lists for select_multiple, dicts for sub-fields."""
    values: dict[str, Any] = {}
    for key in form:
        if key in CONTROL_FIELDS:
            continue
        sent = form.getlist(key)
        sub = SUB_FIELD_RE.match(key)
        if sub:
            name, part = sub.groups()
            if not isinstance(values.get(name), dict):
                values[name] = {}
            values[name][part] = sent[0] if len(sent) == 1 else sent
            continue
        question = d.by_name.get(key)
        many = question is not None and question.type == "select_multiple"
        values[key] = sent if many or len(sent) > 1 else sent[0]
    return values


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


class PageHelpers:
    """Functions the template calls, bound to one definition, language and answers."""

    def __init__(self, d: Definition, lang: str, values: dict) -> None:
        self.d = d
        self.lang = lang
        self.values = values

    def field_ids(self) -> dict[str, str]:
        """Where the error summary's link for each question leads: its first input."""
        ids = {}
        for q in self.d.questions:
            if q.type == "matrix":
                ids[q.name] = f"f-{q.name}-{q.rows[0]['name']}-1"
            elif q.type in ("rating", "nps"):
                ids[q.name] = f"f-{q.name}-{0 if q.type == 'nps' else 1}"
            elif q.type == "geopoint":
                ids[q.name] = f"f-{q.name}-lat"
            elif (q.is_select and q.appearance != "minimal") or q.type == "rank":
                ids[q.name] = f"f-{q.name}-1"
            else:
                ids[q.name] = f"f-{q.name}"
            if q.other:
                ids[q.other_field] = f"f-{q.other_field}"
        return ids

    def pipe(self, text: Any) -> Markup:
        """A label with ${name} replaced by that answer; the page's script updates it."""
        source = self.d.text(text, self.lang)
        parts, last = [], 0
        for match in PIPE_RE.finditer(source):
            parts.append(escape(source[last : match.start()]))
            shown = self.shown_answer(match.group(1))
            parts.append(Markup('<span data-pipe="{}">{}</span>').format(match.group(1), shown))
            last = match.end()
        parts.append(escape(source[last:]))
        return Markup("").join(parts)

    def shown_answer(self, name: str) -> str:
        """An answer as piped into a text: choices by their label (as survey.js does)."""
        value = self.values.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        items = [
            v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str) and v
        ]
        question = self.d.by_name.get(name)
        if question is None or not question.is_select:
            return " ".join(items)
        shown = []
        for item in items:
            choice = question.choice(item)
            if choice is None:
                shown.append(item)
            elif choice["name"] == OTHER and choice["label"] is None:
                other = self.values.get(question.other_field)
                shown.append(
                    other
                    if isinstance(other, str) and other.strip()
                    else message("other", self.lang)
                )
            else:
                shown.append(self.d.text(choice.get("label"), self.lang))
        return ", ".join(shown)

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
