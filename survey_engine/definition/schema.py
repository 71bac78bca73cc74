"""Checks a survey-engine/1 definition and lists every problem by its path.

A definition comes from staff files (JSON today, XLSForm later), so anything can
arrive: the checker never raises on bad input, it returns messages such as
`pages[0].questions[2].choices: unknown choice list 'x'`.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from typing import Any, TypeGuard

from survey_engine.definition import expressions
from survey_engine.definition.families import CHOICE_LIST, TYPED_NUMBER, UNSEEN
from survey_engine.localtime import FIRST_YEAR, LAST_YEAR
from survey_engine.untrusted import bad_character_at

FORMAT = "survey-engine/1"

QUESTION_TYPES = {
    "select_one",
    "select_multiple",
    "rank",
    "matrix",
    "text",
    "integer",
    "decimal",
    "date",
    "email",
    "phone",
    "rating",
    "nps",
    "note",
    "acknowledge",
    "hidden",
    "calculate",
}
# The families are defined once, in families.py. admin/builder.py (split elsewhere)
# still imports this name: the numbers min/max apply to.

# Parts of XLSForm the engine does not implement: refused rather than half-honoured.
NOT_YET_SUPPORTED = {"parameters", "repeat_count", "read_only", "trigger"}

SURVEY_KEYS = {
    "format",
    "slug",
    "title",
    "description",
    "default_language",
    "settings",
    "pages",
    "choice_lists",
}
SETTINGS_KEYS = {"opens_at", "closes_at", "max_responses"}
PAGE_KEYS = {"name", "title", "relevant", "questions"}
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
}
# Which properties each type takes beyond the common ones.
TYPE_KEYS = {
    "select_one": {"choices", "other", "choice_filter"},
    "select_multiple": {"choices", "other", "choice_filter", "min_choices", "max_choices"},
    "rank": {"choices"},  # every choice is ranked, so none may be filtered away
    "matrix": {"choices", "rows"},
    "integer": {"min", "max"},
    "decimal": {"min", "max"},
    "date": {"min", "max"},
    "rating": {"scale"},
    "calculate": {"calculation"},
}
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
    if _bad_texts(problems, data):
        # The other checks quote what they find, and a lone surrogate cannot even be
        # written into a page: these problems come alone, with the text escaped.
        return problems.items

    _unknown_keys(problems, "", data, SURVEY_KEYS)
    if data.get("format") != FORMAT:
        problems.add("format", f"must be {FORMAT!r}, got {data.get('format')!r}")
    slug = data.get("slug")
    if not isinstance(slug, str) or not SLUG_RE.match(slug):
        problems.add(
            "slug", f"lower-case letters, digits and '-', 1 to 64 characters, got {slug!r}"
        )

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


def shown(text: str) -> str:
    """`text` with every NUL, surrogate and non-character written as \\uXXXX, so that a
    message quoting it can be printed and stored."""
    while (at := bad_character_at(text)) is not None:
        code = ord(text[at])
        escaped = f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
        text = f"{text[:at]}{escaped}{text[at + 1 :]}"
    return text


def _bad_texts(problems: _Problems, data: dict) -> bool:
    """Adds a problem for every key or text holding NUL, a lone surrogate or a Unicode
    non-character (survey_engine.untrusted), and every number that is not finite:
    PostgreSQL cannot store NUL or NaN in JSON, UTF-8 cannot encode a lone surrogate,
    a non-character never belongs in interchanged text, and each would break pages and
    exports that show the definition. True when there was any."""
    found = False
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            at = bad_character_at(value)
            if at is not None:
                found = True
                problems.add(
                    path,
                    f"character {at + 1} is U+{ord(value[at]):04X}, which "
                    "cannot be stored (NUL, a lone surrogate or a Unicode "
                    f"non-character): '{shown(value)[:80]}'",
                )
        elif isinstance(value, float) and not math.isfinite(value):
            found = True
            problems.add(path, f"a finite number, got {value!r}")
        elif isinstance(value, dict):
            for key, item in reversed(value.items()):
                name = key if isinstance(key, str) else str(key)
                if bad_character_at(name) is not None:
                    found = True
                    problems.add(
                        f"{path}.{shown(name)}" if path else shown(name),
                        "this name holds a character that cannot be stored "
                        "(NUL, a lone surrogate or a Unicode non-character)",
                    )
                    continue
                stack.append((f"{path}.{name}" if path else name, item))
        elif isinstance(value, list):
            stack += [(f"{path}[{i}]", item) for i, item in reversed(list(enumerate(value)))]
    return found


def _unknown_keys(problems: _Problems, path: str, obj: dict, allowed: set[str]) -> None:
    prefix = f"{path}." if path else ""
    for key in obj:
        if key in NOT_YET_SUPPORTED:
            problems.add(f"{prefix}{key}", "not supported yet by this version of survey-engine")
        elif key not in allowed:
            problems.add(f"{prefix}{key}", "unknown property")


def _text(
    problems: _Problems, path: str, value: Any, default_language: str, required: bool = False
) -> None:
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
            problems.add(
                f"settings.{key}",
                "an ISO 8601 time with its offset, such as "
                f"'2026-12-01T08:00:00+07:00', got {value!r}",
            )
        elif not FIRST_YEAR <= moment.year <= LAST_YEAR:
            problems.add(
                f"settings.{key}", f"a time between {FIRST_YEAR} and {LAST_YEAR}, got {value!r}"
            )
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
                problems.add(
                    f"{cpath}.name",
                    f"letters, digits, '_', '-' and '.', up to 64 characters, got {name!r}",
                )
            elif name in names:
                problems.add(f"{cpath}.name", f"repeats the choice {name!r}")
            else:
                names.add(name)
            _text(problems, f"{cpath}.label", choice.get("label"), default_language, required=True)
            for key, value in choice.items():
                if key not in ("name", "label") and not (
                    value is None or isinstance(value, str | int | float | bool)
                ):
                    problems.add(
                        f"{cpath}.{key}",
                        "an extra choice property must be a text, number or true/false",
                    )
        found[list_name] = names
    return found


def _pages(problems: _Problems, pages: Any, lists: dict[str, set], default_language: str) -> None:
    if not isinstance(pages, list) or not pages:
        problems.add("pages", "must be a non-empty list of pages")
        return
    # Expressions may refer to any question, before or after them: names first.
    known = {
        q["name"]
        for page in pages
        if isinstance(page, dict)
        for q in _list_or_empty(page.get("questions"))
        if isinstance(q, dict) and isinstance(q.get("name"), str)
    }
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
        _expression(problems, f"{ppath}.relevant", page.get("relevant"), known)
        questions = page.get("questions")
        if not isinstance(questions, list) or not questions:
            problems.add(f"{ppath}.questions", "must be a non-empty list of questions")
            continue
        for q, question in enumerate(questions):
            _question(
                problems,
                f"{ppath}.questions[{q}]",
                question,
                lists,
                question_names,
                known,
                default_language,
            )


def _expression(
    problems: _Problems, path: str, text: Any, known: set[str], bare_names: bool = False
) -> None:
    if text is None:
        return
    if not isinstance(text, str) or not text.strip():
        problems.add(path, "an expression such as ${age} >= 18")
        return
    for message in expressions.check(text, known, allow_bare_names=bare_names):
        problems.add(path, message)


def _question(
    problems: _Problems,
    path: str,
    question: Any,
    lists: dict[str, set],
    seen: dict[str, str],
    known: set[str],
    default_language: str,
) -> None:
    if not isinstance(question, dict):
        problems.add(path, "a question is an object with name, type and label")
        return
    qtype = question.get("type")
    _question_keys(problems, path, question, qtype)
    _question_name(problems, path, question, seen)
    _text(
        problems,
        f"{path}.label",
        question.get("label"),
        default_language,
        required=qtype not in UNSEEN,
    )
    for key in ("hint", "required_message", "constraint_message"):
        _text(problems, f"{path}.{key}", question.get(key), default_language)
    for flag in ("required", "other"):
        if flag in question and not isinstance(question[flag], bool):
            problems.add(f"{path}.{flag}", f"must be true or false, got {question[flag]!r}")
    if question.get("required") and qtype in ("note", "calculate"):
        problems.add(f"{path}.required", f"a {qtype} takes no answer, so it cannot be required")
    appearance = question.get("appearance")
    if appearance is not None and not isinstance(appearance, str):
        problems.add(f"{path}.appearance", "must be a text")
    _expression(problems, f"{path}.relevant", question.get("relevant"), known)
    _expression(problems, f"{path}.constraint", question.get("constraint"), known)
    _expression(
        problems, f"{path}.choice_filter", question.get("choice_filter"), known, bare_names=True
    )
    if qtype == "calculate":
        if "calculation" not in question:
            problems.add(f"{path}.calculation", "a calculate question needs a calculation")
        _expression(problems, f"{path}.calculation", question.get("calculation"), known)

    choice_count = _choice_list(problems, path, question, lists) if qtype in CHOICE_LIST else 0
    _limits(problems, path, question, qtype, choice_count)
    if qtype == "matrix":
        _rows(problems, f"{path}.rows", question.get("rows"), default_language)
    default = question.get("default")
    if default is not None and not isinstance(default, str | int | float | list):
        problems.add(f"{path}.default", "a text, a number or a list of choice names")


def _question_keys(problems: _Problems, path: str, question: dict, qtype: Any) -> None:
    """A known type, and only the properties that type takes."""
    if qtype not in QUESTION_TYPES:
        problems.add(
            f"{path}.type",
            f"unknown question type {qtype!r}; one of " + ", ".join(sorted(QUESTION_TYPES)),
        )
        _unknown_keys(problems, path, question, QUESTION_KEYS)
    else:
        allowed = COMMON_KEYS | TYPE_KEYS.get(qtype, set())
        for key in question:
            if key in QUESTION_KEYS and key not in allowed:
                article = "an" if qtype[0] in "aeiou" else "a"
                problems.add(f"{path}.{key}", f"{article} {qtype} question does not take {key!r}")
        _unknown_keys(problems, path, question, QUESTION_KEYS)


def _question_name(problems: _Problems, path: str, question: dict, seen: dict[str, str]) -> None:
    """A valid name, unused so far (nor its `_other` field); noted in `seen`."""
    name = question.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        problems.add(
            f"{path}.name",
            f"letters, digits and '_', starting with a letter, up to 64 characters, got {name!r}",
        )
    else:
        taken = [name] + ([f"{name}_other"] if question.get("other") is True else [])
        for field in taken:
            if field in seen:
                problems.add(f"{path}.name", f"{field!r} is already used by {seen[field]}")
            seen[field] = path


def _choice_list(problems: _Problems, path: str, question: dict, lists: dict[str, set]) -> int:
    """A select question's list: named, known, without a second 'other'; its length."""
    list_name = question.get("choices")
    if not isinstance(list_name, str):
        problems.add(f"{path}.choices", "the name of a list in choice_lists is required")
    elif list_name not in lists:
        problems.add(f"{path}.choices", f"unknown choice list {list_name!r}")
    else:
        if question.get("other") is True and "other" in lists[list_name]:
            problems.add(f"{path}.other", f"list {list_name!r} already has a choice 'other'")
        return len(lists[list_name])
    return 0


def _limits(problems: _Problems, path: str, question: dict, qtype: Any, choice_count: int) -> None:
    """min/max, min_choices/max_choices and scale: the right kind of value, in order."""
    low, high = question.get("min"), question.get("max")
    if qtype in TYPED_NUMBER:
        for key, value in (("min", low), ("max", high)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                problems.add(f"{path}.{key}", f"a number, got {value!r}")
        if _is_number(low) and _is_number(high) and low > high:
            problems.add(f"{path}.max", "must not be below min")
    elif qtype == "date":
        for key, value in (("min", low), ("max", high)):
            if value is not None and not (value == "today" or _is_date(value)):
                problems.add(f"{path}.{key}", f"a date YYYY-MM-DD or 'today', got {value!r}")
        if _is_date(low) and _is_date(high) and low > high:
            problems.add(f"{path}.max", "must not be before min")
    for key in ("min_choices", "max_choices"):
        value = question.get(key)
        if value is not None and (
            type(value) is not int or value < 0 or (choice_count and value > choice_count)
        ):
            problems.add(
                f"{path}.{key}",
                f"a whole number from 0 to {choice_count or 'the '}"
                f"{'' if choice_count else 'number of choices'}, got {value!r}",
            )
    scale = question.get("scale")
    if scale is not None and (type(scale) is not int or not 2 <= scale <= 10):
        problems.add(f"{path}.scale", f"a whole number from 2 to 10, got {scale!r}")


def _is_number(value: Any) -> TypeGuard[int | float]:
    """A JSON number: int or float, and not a bool (which Python counts as an int)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _list_or_empty(value: Any) -> list:
    return value if isinstance(value, list) else []


def _is_date(value: Any) -> TypeGuard[str]:
    if not isinstance(value, str) or not DATE_RE.match(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _rows(problems: _Problems, path: str, rows: Any, default_language: str) -> None:
    if not isinstance(rows, list) or not rows:
        problems.add(path, "a matrix needs a non-empty list of rows: [{name, label}]")
        return
    names: set[str] = set()
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            problems.add(f"{path}[{i}]", "a row is an object with name and label")
            continue
        name = row.get("name")
        if not isinstance(name, str) or not NAME_RE.match(name):
            problems.add(f"{path}[{i}].name", f"letters, digits and '_', got {name!r}")
        elif name in names:
            problems.add(f"{path}[{i}].name", f"repeats the row {name!r}")
        names.add(str(name))
        _text(problems, f"{path}[{i}].label", row.get("label"), default_language, required=True)
