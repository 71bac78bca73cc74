"""Checks a survey-engine/1 definition and lists every problem by its path.

A definition comes from staff files (JSON today, XLSForm later), so anything can
arrive: the checker never raises on bad input, it returns messages such as
`pages[0].questions[2].choices: unknown choice list 'x'`. The question-level checks
are in schema_questions.py, what both share in schema_common.py.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

from survey_engine.definition.problems import N_
from survey_engine.definition.schema_common import (
    LANG_RE,
    NAME_RE,
    Problems,
    check_expression,
    check_text,
    unknown_keys,
)
from survey_engine.definition.schema_questions import check_question
from survey_engine.definition.schema_quotas import check_quotas
from survey_engine.localtime import FIRST_YEAR, LAST_YEAR
from survey_engine.untrusted import bad_character_at

FORMAT = "survey-engine/1"

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
# The settings of one value each (the XLSForm settings sheet's columns, the builder's
# settings page); quotas have their own sheet and page.
PLAIN_SETTINGS = (
    "opens_at",
    "closes_at",
    "max_responses",
    "access",
    "allow_edit",
    "link_codes",
    "anonymous",
    "retention_days",
)
SETTINGS_KEYS = {*PLAIN_SETTINGS, "quotas"}
ACCESS_MODES = ("open", "device", "code")  # intake.submit.Access
SWITCH_SETTINGS = ("allow_edit", "link_codes", "anonymous")
RETENTION_DAYS = (1, 3650)  # paradata kept this long after a survey closes
PAGE_KEYS = {"name", "title", "relevant", "questions"}

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
CHOICE_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")


def validate_definition(data: Any) -> list[str]:
    """Every problem in `data`, each prefixed by its path; empty when valid."""
    problems = Problems()
    if not isinstance(data, dict):
        problems.add("", N_("a survey definition must be a JSON object"))
        return problems.items
    if _bad_texts(problems, data):
        # The other checks quote what they find, and a lone surrogate cannot even be
        # written into a page: these problems come alone, with the text escaped.
        return problems.items

    unknown_keys(problems, "", data, SURVEY_KEYS)
    if data.get("format") != FORMAT:
        problems.add(
            "format",
            N_("must be %(expected)s, got %(got)s"),
            expected=repr(FORMAT),
            got=repr(data.get("format")),
        )
    slug = data.get("slug")
    if not isinstance(slug, str) or not SLUG_RE.match(slug):
        problems.add(
            "slug",
            N_("lower-case letters, digits and '-', 1 to 64 characters, got %(slug)s"),
            slug=repr(slug),
        )

    default_language = data.get("default_language", "vi")
    if not isinstance(default_language, str) or not LANG_RE.match(default_language):
        problems.add(
            "default_language",
            N_("a language code such as 'vi', got %(default_language)s"),
            default_language=repr(default_language),
        )
        default_language = "vi"

    check_text(problems, "title", data.get("title"), default_language, required=True)
    check_text(problems, "description", data.get("description"), default_language)
    _settings(problems, data.get("settings"))
    lists = _choice_lists(problems, data.get("choice_lists", {}), default_language)
    _pages(problems, data.get("pages"), lists, default_language)
    check_quotas(problems, data.get("settings"), data.get("pages"), lists)
    return problems.items


def shown(text: str) -> str:
    """`text` with every NUL, surrogate and non-character written as \\uXXXX, so that a
    message quoting it can be printed and stored."""
    while (at := bad_character_at(text)) is not None:
        code = ord(text[at])
        escaped = f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
        text = f"{text[:at]}{escaped}{text[at + 1 :]}"
    return text


def _bad_texts(problems: Problems, data: dict) -> bool:
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
                    N_(
                        "character %(value)s is U+%(ord)s, which cannot be stored (NUL, a lone "
                        "surrogate or a Unicode non-character): '%(value2)s'"
                    ),
                    value=at + 1,
                    ord=format(ord(value[at]), '04X'),
                    value2=shown(value)[:80],
                )
        elif isinstance(value, float) and not math.isfinite(value):
            found = True
            problems.add(path, N_("a finite number, got %(value)s"), value=repr(value))
        elif isinstance(value, dict):
            for key, item in reversed(value.items()):
                name = key if isinstance(key, str) else str(key)
                if bad_character_at(name) is not None:
                    found = True
                    problems.add(
                        f"{path}.{shown(name)}" if path else shown(name),
                        N_(
                            "this name holds a character that cannot be stored (NUL, a lone "
                            "surrogate or a Unicode non-character)"
                        ),
                    )
                    continue
                stack.append((f"{path}.{name}" if path else name, item))
        elif isinstance(value, list):
            stack += [(f"{path}[{i}]", item) for i, item in reversed(list(enumerate(value)))]
    return found


def _settings(problems: Problems, settings: Any) -> None:
    if settings is None:
        return
    if not isinstance(settings, dict):
        problems.add("settings", N_("must be an object"))
        return
    unknown_keys(problems, "settings", settings, SETTINGS_KEYS)
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
                N_(
                    "an ISO 8601 time with its offset, such as "
                    "'2026-12-01T08:00:00+07:00', got %(value)s"
                ),
                value=repr(value),
            )
        elif not FIRST_YEAR <= moment.year <= LAST_YEAR:
            problems.add(
                f"settings.{key}",
                N_("a time between %(first_year)s and %(last_year)s, got %(value)s"),
                first_year=FIRST_YEAR,
                last_year=LAST_YEAR,
                value=repr(value),
            )
        else:
            moments[key] = moment
    if len(moments) == 2 and moments["closes_at"] <= moments["opens_at"]:
        problems.add("settings.closes_at", N_("must be later than opens_at"))
    limit = settings.get("max_responses")
    if limit is not None and (type(limit) is not int or limit < 1):
        problems.add(
            "settings.max_responses",
            N_("a whole number of at least 1, got %(limit)s"),
            limit=repr(limit),
        )
    _access_settings(problems, settings)


def _access_settings(problems: Problems, settings: dict) -> None:
    access = settings.get("access")
    if access is not None and access not in ACCESS_MODES:
        problems.add(
            "settings.access",
            N_("one of %(names)s, got %(access)s"),
            names=', '.join(ACCESS_MODES),
            access=repr(access),
        )
    for key in SWITCH_SETTINGS:
        if settings.get(key) is not None and not isinstance(settings[key], bool):
            problems.add(
                f"settings.{key}",
                N_("true or false, got %(got)s"),
                got=repr(settings[key]),
            )
    days = settings.get("retention_days")
    low, high = RETENTION_DAYS
    if days is not None and (type(days) is not int or not low <= days <= high):
        problems.add(
            "settings.retention_days",
            N_("a whole number from %(low)s to %(high)s, got %(days)s"),
            low=low,
            high=high,
            days=repr(days),
        )


def _choice_lists(problems: Problems, lists: Any, default_language: str) -> dict[str, set]:
    """Check the lists; return each valid list's choice names for the questions' check."""
    if not isinstance(lists, dict):
        problems.add("choice_lists", N_("must be an object of {list name: [choices]}"))
        return {}
    found: dict[str, set] = {}
    for list_name, choices in lists.items():
        path = f"choice_lists.{list_name}"
        if not NAME_RE.match(list_name):
            problems.add(path, N_("a list name is letters, digits and '_', starting with a letter"))
        if not isinstance(choices, list) or not choices:
            problems.add(path, N_("must be a non-empty list of choices"))
            continue
        names: set[str] = set()
        for i, choice in enumerate(choices):
            cpath = f"{path}[{i}]"
            if not isinstance(choice, dict):
                problems.add(cpath, N_("a choice is an object with name and label"))
                continue
            name = choice.get("name")
            if isinstance(name, int) and not isinstance(name, bool):
                name = str(name)
            if not isinstance(name, str) or not CHOICE_NAME_RE.match(name):
                problems.add(
                    f"{cpath}.name",
                    N_("letters, digits, '_', '-' and '.', up to 64 characters, got %(name)s"),
                    name=repr(name),
                )
            elif name in names:
                problems.add(f"{cpath}.name", N_("repeats the choice %(name)s"), name=repr(name))
            else:
                names.add(name)
            check_text(
                problems, f"{cpath}.label", choice.get("label"), default_language, required=True
            )
            for key, value in choice.items():
                if key not in ("name", "label") and not (
                    value is None or isinstance(value, str | int | float | bool)
                ):
                    problems.add(
                        f"{cpath}.{key}",
                        N_("an extra choice property must be a text, number or true/false"),
                    )
        found[list_name] = names
    return found


def _pages(problems: Problems, pages: Any, lists: dict[str, set], default_language: str) -> None:
    if not isinstance(pages, list) or not pages:
        problems.add("pages", N_("must be a non-empty list of pages"))
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
            problems.add(ppath, N_("a page is an object with name and questions"))
            continue
        unknown_keys(problems, ppath, page, PAGE_KEYS)
        name = page.get("name")
        if not isinstance(name, str) or not NAME_RE.match(name):
            problems.add(
                f"{ppath}.name", N_("letters, digits and '_', got %(name)s"), name=repr(name)
            )
        elif name in page_names:
            problems.add(f"{ppath}.name", N_("repeats the page %(name)s"), name=repr(name))
        else:
            page_names.add(name)
        check_text(problems, f"{ppath}.title", page.get("title"), default_language)
        check_expression(problems, f"{ppath}.relevant", page.get("relevant"), known)
        questions = page.get("questions")
        if not isinstance(questions, list) or not questions:
            problems.add(f"{ppath}.questions", N_("must be a non-empty list of questions"))
            continue
        for q, question in enumerate(questions):
            check_question(
                problems,
                f"{ppath}.questions[{q}]",
                question,
                lists,
                question_names,
                known,
                default_language,
            )


def _list_or_empty(value: Any) -> list:
    return value if isinstance(value, list) else []
