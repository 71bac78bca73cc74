"""Checks a survey-engine/1 definition and lists every problem by its path.

A definition comes from staff files (JSON today, XLSForm later), so anything can
arrive: the checker never raises on bad input, it returns messages such as
`pages[0].questions[2].choices: unknown choice list 'x'`.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

FORMAT = "survey-engine/1"

QUESTION_TYPES = {"select_one", "select_multiple", "text", "integer", "decimal", "note"}
SELECT_TYPES = {"select_one", "select_multiple"}

# Parts of the format that later versions of the engine implement. Until then a
# definition using them is refused rather than half-honoured.
NOT_YET_SUPPORTED = {
    "relevant", "constraint", "constraint_message", "required_message",
    "choice_filter", "default", "calculation", "parameters",
}

SURVEY_KEYS = {"format", "slug", "title", "description", "default_language", "settings",
               "pages", "choice_lists"}
SETTINGS_KEYS = {"opens_at", "closes_at", "max_responses"}
PAGE_KEYS = {"name", "title", "questions"}
QUESTION_KEYS = {"name", "type", "label", "hint", "required", "choices", "appearance", "other"}

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
CHOICE_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
LANG_RE = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?$")


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, path: str, text: str) -> None:
        self.items.append(f"{path}: {text}" if path else text)


def validate_definition(data: Any) -> list[str]:
    """Every problem in `data`, each prefixed by its path; empty when valid."""
    problems = _Problems()
    if not isinstance(data, dict):
        problems.add("", "a survey definition must be a JSON object")
        return problems.items

    _unknown_keys(problems, "", data, SURVEY_KEYS)
    if data.get("format") != FORMAT:
        problems.add("format", f"must be {FORMAT!r}, got {data.get('format')!r}")
    slug = data.get("slug")
    if not isinstance(slug, str) or not SLUG_RE.match(slug):
        problems.add("slug", "lower-case letters, digits and '-', 1 to 64 characters, "
                     f"got {slug!r}")

    default_language = data.get("default_language", "vi")
    if not isinstance(default_language, str) or not LANG_RE.match(default_language):
        problems.add("default_language", f"a language code such as 'vi', got {default_language!r}")
        default_language = "vi"

    _text(problems, "title", data.get("title"), default_language, required=True)
    _text(problems, "description", data.get("description"), default_language)
    _settings(problems, data.get("settings"))
    lists = _choice_lists(problems, data.get("choice_lists", {}), default_language)
    _pages(problems, data.get("pages"), lists, default_language)
    return problems.items


def _unknown_keys(problems: _Problems, path: str, obj: dict, allowed: set[str]) -> None:
    prefix = f"{path}." if path else ""
    for key in obj:
        if key in NOT_YET_SUPPORTED:
            problems.add(f"{prefix}{key}", "not supported yet by this version of survey-engine")
        elif key not in allowed:
            problems.add(f"{prefix}{key}", "unknown property")


def _text(problems: _Problems, path: str, value: Any, default_language: str,
          required: bool = False) -> None:
    """A label, hint or message: a non-empty string or {language: text}."""
    if value is None:
        if required:
            problems.add(path, "is required")
        return
    if isinstance(value, str):
        if not value.strip():
            problems.add(path, "must not be empty")
        return
    if not isinstance(value, dict) or not value:
        problems.add(path, "must be a text or an object of {language: text}")
        return
    for lang, text in value.items():
        if not LANG_RE.match(str(lang)):
            problems.add(f"{path}.{lang}", "not a language code such as 'vi' or 'en'")
        elif not isinstance(text, str) or not text.strip():
            problems.add(f"{path}.{lang}", "must be a non-empty text")
    if default_language not in value:
        problems.add(path, f"has no text in the default language {default_language!r}")


def _settings(problems: _Problems, settings: Any) -> None:
    if settings is None:
        return
    if not isinstance(settings, dict):
        problems.add("settings", "must be an object")
        return
    _unknown_keys(problems, "settings", settings, SETTINGS_KEYS)
    moments = {}
    for key in ("opens_at", "closes_at"):
        value = settings.get(key)
        if value is None:
            continue
        try:
            moment = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            problems.add(f"settings.{key}", "an ISO 8601 time with its offset, such as "
                         f"'2026-12-01T08:00:00+07:00', got {value!r}")
        else:
            moments[key] = moment
    if len(moments) == 2 and moments["closes_at"] <= moments["opens_at"]:
        problems.add("settings.closes_at", "must be later than opens_at")
    limit = settings.get("max_responses")
    if limit is not None and (type(limit) is not int or limit < 1):
        problems.add("settings.max_responses", f"a whole number of at least 1, got {limit!r}")


def _choice_lists(problems: _Problems, lists: Any, default_language: str) -> dict[str, set]:
    """Check the lists; return each valid list's choice names for the questions' check."""
    if not isinstance(lists, dict):
        problems.add("choice_lists", "must be an object of {list name: [choices]}")
        return {}
    found: dict[str, set] = {}
    for list_name, choices in lists.items():
        path = f"choice_lists.{list_name}"
        if not NAME_RE.match(list_name):
            problems.add(path, "a list name is letters, digits and '_', starting with a letter")
        if not isinstance(choices, list) or not choices:
            problems.add(path, "must be a non-empty list of choices")
            continue
        names: set[str] = set()
        for i, choice in enumerate(choices):
            cpath = f"{path}[{i}]"
            if not isinstance(choice, dict):
                problems.add(cpath, "a choice is an object with name and label")
                continue
            name = choice.get("name")
            if isinstance(name, int) and not isinstance(name, bool):
                name = str(name)
            if not isinstance(name, str) or not CHOICE_NAME_RE.match(name):
                problems.add(f"{cpath}.name", "letters, digits, '_', '-' and '.', "
                             f"up to 64 characters, got {name!r}")
            elif name in names:
                problems.add(f"{cpath}.name", f"repeats the choice {name!r}")
            else:
                names.add(name)
            _text(problems, f"{cpath}.label", choice.get("label"), default_language,
                  required=True)
            for key, value in choice.items():
                if key not in ("name", "label") and not (
                    value is None or isinstance(value, str | int | float | bool)
                ):
                    problems.add(f"{cpath}.{key}", "an extra choice property must be a "
                                 "text, number or true/false")
        found[list_name] = names
    return found


def _pages(problems: _Problems, pages: Any, lists: dict[str, set],
           default_language: str) -> None:
    if not isinstance(pages, list) or not pages:
        problems.add("pages", "must be a non-empty list of pages")
        return
    page_names: set[str] = set()
    question_names: dict[str, str] = {}
    for p, page in enumerate(pages):
        ppath = f"pages[{p}]"
        if not isinstance(page, dict):
            problems.add(ppath, "a page is an object with name and questions")
            continue
        _unknown_keys(problems, ppath, page, PAGE_KEYS)
        name = page.get("name")
        if not isinstance(name, str) or not NAME_RE.match(name):
            problems.add(f"{ppath}.name", f"letters, digits and '_', got {name!r}")
        elif name in page_names:
            problems.add(f"{ppath}.name", f"repeats the page {name!r}")
        else:
            page_names.add(name)
        _text(problems, f"{ppath}.title", page.get("title"), default_language)
        questions = page.get("questions")
        if not isinstance(questions, list) or not questions:
            problems.add(f"{ppath}.questions", "must be a non-empty list of questions")
            continue
        for q, question in enumerate(questions):
            _question(problems, f"{ppath}.questions[{q}]", question, lists, question_names,
                      default_language)


def _question(problems: _Problems, path: str, question: Any, lists: dict[str, set],
              seen: dict[str, str], default_language: str) -> None:
    if not isinstance(question, dict):
        problems.add(path, "a question is an object with name, type and label")
        return
    _unknown_keys(problems, path, question, QUESTION_KEYS)
    name = question.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        problems.add(f"{path}.name", "letters, digits and '_', starting with a letter, "
                     f"up to 64 characters, got {name!r}")
    else:
        taken = [name] + ([f"{name}_other"] if question.get("other") is True else [])
        for field in taken:
            if field in seen:
                problems.add(f"{path}.name", f"{field!r} is already used by {seen[field]}")
            seen[field] = path

    qtype = question.get("type")
    if qtype not in QUESTION_TYPES:
        problems.add(f"{path}.type", f"unknown question type {qtype!r}; one of "
                     + ", ".join(sorted(QUESTION_TYPES)))
    _text(problems, f"{path}.label", question.get("label"), default_language, required=True)
    _text(problems, f"{path}.hint", question.get("hint"), default_language)
    for flag in ("required", "other"):
        if flag in question and not isinstance(question[flag], bool):
            problems.add(f"{path}.{flag}", f"must be true or false, got {question[flag]!r}")
    if question.get("required") and qtype == "note":
        problems.add(f"{path}.required", "a note takes no answer, so it cannot be required")
    appearance = question.get("appearance")
    if appearance is not None and not isinstance(appearance, str):
        problems.add(f"{path}.appearance", "must be a text")

    if qtype in SELECT_TYPES:
        list_name = question.get("choices")
        if not isinstance(list_name, str):
            problems.add(f"{path}.choices", "the name of a list in choice_lists is required")
        elif list_name not in lists:
            problems.add(f"{path}.choices", f"unknown choice list {list_name!r}")
        elif question.get("other") is True and "other" in lists[list_name]:
            problems.add(f"{path}.other", f"list {list_name!r} already has a choice 'other'")
    elif qtype in QUESTION_TYPES:  # an unknown type was reported already
        for key in ("choices", "other"):
            if key in question:
                problems.add(f"{path}.{key}", f"only select questions take {key!r}")
