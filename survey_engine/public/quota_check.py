"""GET /s/<slug>/quota?district=..&role=..: is this group full? Asked by the page's
script when the citizen leaves the page of a quota's last question, so nobody answers
the rest of a questionnaire that will refuse them.

It says {"full": true|false} and nothing more (no count, no limit); only answers that
are choices of a quota's questions are read, so a crafted stratum costs nothing.
"""

from __future__ import annotations

from flask import abort, jsonify, request

from survey_engine.catalog import published
from survey_engine.definition import Definition
from survey_engine.intake.quota_fill import any_full
from survey_engine.public.blueprint import bp

CACHE = "public, max-age=5"


def quota_answers(d: Definition, args) -> dict[str, str]:
    """The query's answers to quota questions that name one of their choices."""
    found: dict[str, str] = {}
    for quota in d.settings.get("quotas") or []:
        for name in quota.get("questions", []):
            value = args.get(name)
            question = d.by_name.get(name)
            if question is not None and isinstance(value, str) and question.choice(value):
                found[name] = value
    return found


@bp.get("/s/<slug>/quota")
def quota_check(slug: str):
    survey = published(slug)
    if survey is None:
        abort(404)
    answers = quota_answers(survey.definition, request.args)
    full = bool(answers) and any_full(survey.survey_id, survey.definition, answers)
    response = jsonify(full=full)
    response.headers["Cache-Control"] = CACHE
    return response
