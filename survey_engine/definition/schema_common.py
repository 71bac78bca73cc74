"""What every part of the definition check shares: the problem list, texts, expressions
and the property names no part accepts.

Why a module of its own: the survey-level checks (schema.py) and the question-level
checks (schema_questions.py) both use these, and neither may import the other back.
"""

from __future__ import annotations

import re
from typing import Any

from survey_engine.definition import expressions
from survey_engine.definition.problems import N_, Problem

# Parts of XLSForm the engine does not implement: refused rather than half-honoured.
NOT_YET_SUPPORTED = {"parameters", "read_only", "trigger"}

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
# The questionnaire form's own fields (public/rendering.CONTROL_FIELDS): the id, who
# answers (device token, first view, pages seen, access code), the page's script and
# its proof of work. A question of one of these names would never get its answer.
RESERVED_NAMES = frozenset(
    {
        "submission_id",
        "device_token",
        "started",
        "pages",
        "access_code",
        "js",
        "pow_challenge",
        "pow_counter",
    }
)
LANG_RE = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?$")


class Problems:
    """Problems as found, each prefixed by its path; each is a Problem (problems.py),
    English text that staff pages can put in their own language."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, path: str, text: str, **params: Any) -> None:
        """`text` is marked with N_() and may hold %(name)s placeholders for `params`."""
        if isinstance(text, Problem):  # a part's own problem (an expression's): kept whole
            params = {**text.params, **params}
            text = text.template
        self.items.append(Problem.of(path, text, params))


def unknown_keys(problems: Problems, path: str, obj: dict, allowed: set[str]) -> None:
    """A problem per property outside `allowed`: a typo must not pass silently."""
    prefix = f"{path}." if path else ""
    for key in obj:
        if key in NOT_YET_SUPPORTED:
            problems.add(f"{prefix}{key}", N_("not supported yet by this version of survey-engine"))
        elif key not in allowed:
            problems.add(f"{prefix}{key}", N_("unknown property"))


def check_text(
    problems: Problems, path: str, value: Any, default_language: str, required: bool = False
) -> None:
    """A label, hint or message: a non-empty string or {language: text}."""
    if value is None:
        if required:
            problems.add(path, N_("is required"))
        return
    if isinstance(value, str):
        if not value.strip():
            problems.add(path, N_("must not be empty"))
        return
    if not isinstance(value, dict) or not value:
        problems.add(path, N_("must be a text or an object of {language: text}"))
        return
    for lang, text in value.items():
        if not LANG_RE.match(str(lang)):
            problems.add(f"{path}.{lang}", N_("not a language code such as 'vi' or 'en'"))
        elif not isinstance(text, str) or not text.strip():
            problems.add(f"{path}.{lang}", N_("must be a non-empty text"))
    if default_language not in value:
        problems.add(
            path,
            N_("has no text in the default language %(default_language)s"),
            default_language=repr(default_language),
        )


def check_expression(
    problems: Problems, path: str, text: Any, known: set[str], bare_names: bool = False
) -> None:
    """An expression (relevant, constraint, ...) that parses and names known questions."""
    if text is None:
        return
    if not isinstance(text, str) or not text.strip():
        problems.add(path, N_("an expression such as ${age} >= 18"))
        return
    for message in expressions.check(text, known, allow_bare_names=bare_names):
        problems.add(path, message)
