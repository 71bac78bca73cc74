"""The quota part of the definition check: settings.quotas.

    "quotas": [{"name": "district_role", "questions": ["district", "role"],
                "limit": 2000, "limits": {"da_lat|parent": 500}}]

A quota counts responses per stratum, the answers of its select_one questions joined
by '|'; `limit` holds for every stratum, `limits` sets another one for a named stratum
(0 closes it). Why a module of its own: schema.py is the survey-level check and grows
no further; this needs the pages and choice lists it has already read.
"""

from __future__ import annotations

from typing import Any

from survey_engine.definition.problems import N_
from survey_engine.definition.schema_common import NAME_RE, Problems, unknown_keys

MAX_QUOTAS = 20
MAX_QUOTA_QUESTIONS = 3
MAX_LIMIT = 10_000_000
MAX_STRATUM_LIMITS = 1000
QUOTA_KEYS = {"name", "questions", "limit", "limits"}
SEPARATOR = "|"


def stratum_questions(pages: Any, lists: dict[str, set]) -> dict[str, set[str]]:
    """Every select_one question with a known list: name -> the answers it can give
    (its choices, and 'other' when it offers one)."""
    found: dict[str, set[str]] = {}
    for page in pages if isinstance(pages, list) else []:
        questions = page.get("questions") if isinstance(page, dict) else None
        for q in questions if isinstance(questions, list) else []:
            if not isinstance(q, dict) or q.get("type") != "select_one":
                continue
            name, list_name = q.get("name"), q.get("choices")
            if isinstance(name, str) and isinstance(list_name, str) and list_name in lists:
                other = {"other"} if q.get("other") is True else set()
                found[name] = set(lists[list_name]) | other
    return found


def check_quotas(problems: Problems, settings: Any, pages: Any, lists: dict[str, set]) -> None:
    """Every problem of settings.quotas, by its path."""
    if not isinstance(settings, dict) or settings.get("quotas") is None:
        return
    quotas = settings["quotas"]
    if not isinstance(quotas, list):
        problems.add("settings.quotas", N_("must be a list of quotas"))
        return
    if len(quotas) > MAX_QUOTAS:
        problems.add(
            "settings.quotas",
            N_("at most %(max_quotas)s quotas, got %(quotas)s"),
            max_quotas=MAX_QUOTAS,
            quotas=len(quotas),
        )
        return
    selects = stratum_questions(pages, lists)
    names: set[str] = set()
    for i, quota in enumerate(quotas):
        path = f"settings.quotas[{i}]"
        if not isinstance(quota, dict):
            problems.add(path, N_("a quota is an object with name, questions and limit"))
            continue
        unknown_keys(problems, path, quota, QUOTA_KEYS)
        name = quota.get("name")
        if not isinstance(name, str) or not NAME_RE.match(name):
            problems.add(
                f"{path}.name", N_("letters, digits and '_', got %(name)s"), name=repr(name)
            )
        elif name in names:
            problems.add(f"{path}.name", N_("repeats the quota %(name)s"), name=repr(name))
        else:
            names.add(name)
        questions = _questions(problems, f"{path}.questions", quota.get("questions"), selects)
        limit = quota.get("limit")
        if not _whole(limit, 1):
            problems.add(
                f"{path}.limit",
                N_("a whole number from 1 to %(max_limit)s, got %(limit)s"),
                max_limit=MAX_LIMIT,
                limit=repr(limit),
            )
        _limits(problems, f"{path}.limits", quota.get("limits"), questions, selects)


def _whole(value: Any, low: int) -> bool:
    return type(value) is int and low <= value <= MAX_LIMIT


def _questions(
    problems: Problems, path: str, questions: Any, selects: dict[str, set[str]]
) -> list[str] | None:
    """The quota's questions when they are all valid, else None (after the problems)."""
    if (
        not isinstance(questions, list)
        or not 1 <= len(questions) <= MAX_QUOTA_QUESTIONS
        or not all(isinstance(q, str) for q in questions)
    ):
        problems.add(
            path,
            N_(
                "a list of 1 to %(max_quota_questions)s select_one question names, got "
                "%(questions)s"
            ),
            max_quota_questions=MAX_QUOTA_QUESTIONS,
            questions=repr(questions),
        )
        return None
    valid = True
    for j, name in enumerate(questions):
        if name not in selects:
            problems.add(
                f"{path}[{j}]",
                N_("%(name)s is not a select_one question of this survey"),
                name=repr(name),
            )
            valid = False
        elif name in questions[:j]:
            problems.add(f"{path}[{j}]", N_("repeats the question %(name)s"), name=repr(name))
            valid = False
    return questions if valid else None


def _limits(
    problems: Problems,
    path: str,
    limits: Any,
    questions: list[str] | None,
    selects: dict[str, set[str]],
) -> None:
    if limits is None:
        return
    if not isinstance(limits, dict):
        problems.add(path, N_("an object of {stratum: limit}, such as {'da_lat|parent': 500}"))
        return
    if len(limits) > MAX_STRATUM_LIMITS:
        problems.add(
            path,
            N_("at most %(max_stratum_limits)s strata, got %(limits)s"),
            max_stratum_limits=MAX_STRATUM_LIMITS,
            limits=len(limits),
        )
        return
    for stratum, value in limits.items():
        spath = f"{path}.{stratum}"
        if not _whole(value, 0):
            problems.add(
                spath,
                N_("a whole number from 0 to %(max_limit)s, got %(value)s"),
                max_limit=MAX_LIMIT,
                value=repr(value),
            )
        if questions is None:
            continue
        parts = str(stratum).split(SEPARATOR)
        if len(parts) != len(questions):
            problems.add(
                spath,
                N_(
                    "a stratum names one answer per question (%(names)s), joined by '%(separator)s'"
                ),
                names=SEPARATOR.join(questions),
                separator=SEPARATOR,
            )
            continue
        for question, part in zip(questions, parts, strict=True):
            if part not in selects[question]:
                problems.add(
                    spath,
                    N_("%(part)s is not a choice of %(question)s"),
                    part=repr(part),
                    question=repr(question),
                )
