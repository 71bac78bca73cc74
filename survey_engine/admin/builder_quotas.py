"""The builder's quotas page: add, change or remove the survey's quotas (at most N
responses per group of select_one answers, e.g. per district x role).

One form holds every quota and an empty one to add; each quota has its name, its
questions (ticked, in the survey's order; a quota keeps its own order), its limit per
group and, one per line, the groups with a limit of their own ("da_lat|parent 500").
The definition check (schema_quotas.py) has the last word; its problems come back at
the quota's fields.
"""

from __future__ import annotations

import re
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.datastructures import MultiDict

from survey_engine.admin import builder_drafts as drafts
from survey_engine.admin.blueprint import bp
from survey_engine.admin.builder_forms import PROBLEM_RE, whole_from_text
from survey_engine.definition.schema_quotas import MAX_LIMIT, MAX_QUOTAS
from survey_engine.extensions import db

_LINE_RE = re.compile(r"^\s*(?P<stratum>\S+?)\s*(?:=|:|\s)\s*(?P<limit>\S+)\s*$")
_PATH_RE = re.compile(r"^settings\.quotas\[(?P<index>\d+)\](?:\.(?P<field>\w+))?")


def select_questions(data: dict) -> list[str]:
    """The survey's select_one questions, in its order: what a quota can count by."""
    return [
        q["name"]
        for page in data.get("pages") or []
        for q in page.get("questions") or []
        if q.get("type") == "select_one" and isinstance(q.get("name"), str)
    ]


def limits_text(limits: dict | None) -> str:
    return "\n".join(f"{stratum} {limit}" for stratum, limit in (limits or {}).items())


def _limits(text: str, problems: dict[str, list[str]], field: str) -> dict[str, Any]:
    limits: dict[str, Any] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        match = _LINE_RE.match(line)
        if match is None:
            problems.setdefault(field, []).append(
                _(
                    "Write one group a line: its answers joined by | and its limit, "
                    "such as %(example)s.",
                    example="da_lat|parent 500",
                )
            )
            continue
        limits[match["stratum"]] = whole_from_text(match["limit"], 0, MAX_LIMIT, problems, field)
    return limits


def quotas_from_form(
    form: MultiDict, old: list[dict], order: list[str], problems: dict
) -> tuple[list, list]:
    """The quotas the form keeps, and for each its form index (for its problems). A
    quota keeps its questions' order (its groups' limits name the answers in it); new
    ones come in the survey's `order`."""
    quotas, indexes = [], []
    for i in range(len(old) + 1):
        prefix = f"quota-{i}-"
        name = form.get(prefix + "name", "").strip()
        if form.get(prefix + "remove") or (i == len(old) and not name):
            continue
        ticked = form.getlist(prefix + "questions")
        before = old[i]["questions"] if i < len(old) else []
        added = [q for q in order if q in ticked and q not in before]
        added += [q for q in ticked if q not in order and q not in before]  # the check names them
        questions = [q for q in before if q in ticked] + added
        limit_text = form.get(prefix + "limit", "").strip()
        quota: dict[str, Any] = {
            "name": name,
            "questions": questions,
            "limit": whole_from_text(limit_text, 1, MAX_LIMIT, problems, prefix + "limit"),
        }
        limits = _limits(form.get(prefix + "limits", ""), problems, prefix + "limits")
        if limits:
            quota["limits"] = limits
        quotas.append(quota)
        indexes.append(i)
    return quotas, indexes


def _at_fields(problems: list[str], indexes: list[int]) -> tuple[dict, list]:
    at_field: dict[str, list[str]] = {}
    elsewhere: list[str] = []
    for problem in problems:
        match, path = PROBLEM_RE.match(problem), _PATH_RE.match(problem)
        if match and path and path["field"] and int(path["index"]) < len(indexes):
            field = f"quota-{indexes[int(path['index'])]}-{path['field']}"
            at_field.setdefault(field, []).append(match["text"])
        else:
            elsewhere.append(problem)
    return at_field, elsewhere


@bp.route("/surveys/<slug>/edit/quotas", methods=["GET", "POST"])
@login_required
def edit_quotas(slug: str):
    survey = drafts.editable_survey(slug)
    data, version = drafts.working_copy(survey)
    old = list((data.get("settings") or {}).get("quotas") or [])
    errors: dict[str, list[str]] = {}
    others: list[str] = []
    rows = [_row(quota) for quota in old] + [_row({})]
    if request.method == "POST":
        field_problems: dict[str, list[str]] = {}
        quotas, indexes = quotas_from_form(
            request.form, old, select_questions(data), field_problems
        )
        settings = {k: v for k, v in (data.get("settings") or {}).items() if k != "quotas"}
        data["settings"] = {**settings, "quotas": quotas} if quotas else settings
        try:
            if field_problems:
                raise drafts.SaveRefused([])
            drafts.save(survey, data, "quotas")
        except drafts.SaveRefused as error:
            db.session.rollback()
            errors, others = _at_fields(error.problems, indexes)
            for field, texts in field_problems.items():
                errors.setdefault(field, []).extend(texts)
            rows = _as_typed(request.form, len(old) + 1)
        else:
            flash(_("The quotas were saved."))
            return redirect(url_for("admin.edit_quotas", slug=slug))
    html = render_template(
        "admin/builder/quotas.html",
        **drafts.page_context(survey, data, version),
        rows=rows,
        existing=len(old),
        selects=select_questions(data),
        errors=errors,
        others=others,
        max_quotas=MAX_QUOTAS,
    )
    return html, 422 if errors or others else 200


def _row(quota: dict) -> dict:
    return {
        "name": quota.get("name", ""),
        "questions": quota.get("questions", []),
        "limit": quota.get("limit", ""),
        "limits": limits_text(quota.get("limits")),
    }


def _as_typed(form: MultiDict, count: int) -> list[dict]:
    """The form's quotas as typed (nothing saved), to show again with their problems."""
    return [
        {
            "name": form.get(f"quota-{i}-name", ""),
            "questions": form.getlist(f"quota-{i}-questions"),
            "limit": form.get(f"quota-{i}-limit", ""),
            "limits": form.get(f"quota-{i}-limits", ""),
            "remove": bool(form.get(f"quota-{i}-remove")),
        }
        for i in range(count)
    ]
