"""Public definition and response submission; status codes as in DESIGN.md."""

from __future__ import annotations

import uuid

from flask import abort, request

from survey_engine import metrics
from survey_engine.api import bp
from survey_engine.definition import clean_answers
from survey_engine.i18n import choose_language
from survey_engine.ingest import (
    RETRY_AFTER_SECONDS,
    Outcome,
    StorageUnavailable,
    Submission,
    accept,
)
from survey_engine.surveys import Published, published, unavailable_reason

UNAVAILABLE = {
    "closed": "this survey is closed",
    "not_open": "this survey is not open yet",
    "full": "this survey has all the responses it takes",
}


def _published(slug: str) -> Published:
    survey = published(slug)
    if survey is None:
        abort(404, "no published survey with this slug")
    return survey


def _error(status: int, text: str, **more):
    return {"error": text, **more}, status


@bp.get("/surveys/<slug>")
def definition(slug: str):
    survey = _published(slug)
    reason = unavailable_reason(survey)
    body = {"version": survey.version_number, "status": reason or "open",
            "definition": survey.definition.data}
    return body, 200


@bp.post("/surveys/<slug>/responses")
def submit_response(slug: str):
    survey = _published(slug)
    d = survey.definition
    if not request.is_json:
        return _error(415, "send the response as application/json")
    body = request.get_json(silent=True)
    if body is None:
        return _error(400, "the body is not valid JSON")
    if not isinstance(body, dict):
        return _error(400, 'the body must be a JSON object: {"submission_id", "answers"}')
    reason = unavailable_reason(survey)
    if reason:
        return _error(410, UNAVAILABLE[reason], reason=reason)

    lang = choose_language(d.languages(), d.default_language)
    errors: dict[str, str] = {}
    try:
        submission_id = uuid.UUID(str(body.get("submission_id")))
    except ValueError:
        errors["submission_id"] = "must be a UUID made by the client, such as uuid4()"
    answers = body.get("answers")
    if not isinstance(answers, dict):
        errors["answers"] = "must be an object of {question name: answer}"
    else:
        answers, answer_errors = clean_answers(d, answers, lang)
        errors.update(answer_errors)
    unexpected = set(body) - {"submission_id", "answers"}
    for key in sorted(unexpected, key=str)[:20]:
        errors[str(key)[:64]] = "unknown property"
    if errors:
        metrics.count(survey.survey_id, "rejected")
        return {"errors": errors}, 422

    try:
        outcome = accept(Submission(survey.survey_id, survey.version_id, submission_id,
                                    answers, source="api", meta={"lang": lang}))
    except StorageUnavailable:
        reply = {"error": "submissions cannot be stored right now; send the same request "
                          "again later", "submission_id": str(submission_id)}
        return reply, 503, {"Retry-After": RETRY_AFTER_SECONDS}
    if outcome is Outcome.CONFLICT:
        return _error(409, "this submission_id was already used with other answers",
                      submission_id=str(submission_id))
    reply = {"status": "accepted", "submission_id": str(submission_id)}
    if outcome is Outcome.DUPLICATE:
        reply["duplicate"] = True
    return reply, 202
