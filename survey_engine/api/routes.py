"""Public definition, response submission and staff results; status codes as in docs/api.md."""

from __future__ import annotations

import uuid

import orjson
from flask import Request, Response, abort, request

from survey_engine.api.access import staff_user, unauthorized
from survey_engine.api.blueprint import bp
from survey_engine.catalog import (
    Published,
    find_survey,
    published,
    unavailable_reason,
)
from survey_engine.i18n import choose_language
from survey_engine.intake.admission import Admission
from survey_engine.intake.admission import limits as admission_limits
from survey_engine.intake.paradata import client_paradata
from survey_engine.intake.respondent import Respondent, device_hash, network_key
from survey_engine.intake.submission import RETRY_AFTER_SECONDS
from survey_engine.intake.submit import Result, submit
from survey_engine.public.limits import api_over_limit
from survey_engine.results.filters import FilterError
from survey_engine.results.quota_fill import quota_views, quotas_json
from survey_engine.results.report import (
    merged_survey,
    read_filters,
    results_json,
    survey_dashboard,
)
from survey_engine.staff.accounts import may_see
from survey_engine.untrusted import MAX_JSON_DEPTH, TooDeep, load_json, safe_text

COUNTING_RETRY_SECONDS = 5  # results still being counted: when to ask again

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
    body = {
        "version": survey.version_number,
        "status": reason or "open",
        "definition": survey.definition.data,
    }
    return body, 200


# Refusals of who answers or of the answers' group, with their status.
REFUSED = {
    Result.CLAIMED: (409, "this device or access code has already answered this survey"),
    Result.FULL: (410, "the quota of this response's group is full"),
    Result.CODE_UNKNOWN: (403, "access_code is not one of this survey's codes"),
}


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


@bp.post("/surveys/<slug>/responses")
def submit_response(slug: str):
    survey = _published(slug)
    # The request itself, not its proxy: every attribute read through `request` costs
    # a failed lookup first (~0.8 us), and a submission reads a handful.
    req = request._get_current_object()  # type: ignore[attr-defined]
    if not req.is_json:
        return _error(415, "send the response as application/json")
    try:
        # Depth-checked before parsing: a body nested hundreds deep is a RecursionError
        # in json.loads; NaN and Infinity are refused too (untrusted.py).
        body = load_json(req.get_data(cache=False))
    except TooDeep:
        return _error(400, f"the body is nested deeper than {MAX_JSON_DEPTH} levels")
    except ValueError:
        return _error(400, "the body is not valid JSON")
    if not isinstance(body, dict):
        return _error(400, 'the body must be a JSON object: {"submission_id", "answers"}')
    errors: dict[str, str] = {}
    try:
        submission_id = uuid.UUID(str(body.get("submission_id")))
    except ValueError:
        submission_id = None
        errors["submission_id"] = "must be a UUID made by the client, such as uuid4()"
    answers = body.get("answers")
    if not isinstance(answers, dict):
        answers = None
        errors["answers"] = "must be an object of {question name: answer}"
    unexpected = set(body) - {"submission_id", "answers", "access_code", "device_token"}
    for key in sorted(unexpected, key=str)[:20]:
        errors[safe_text(str(key))[:64]] = "unknown property"

    d = survey.definition
    lang = choose_language(d.languages(), d.default_language)
    respondent = _respondent(req, body)
    # The circuit breakers come first: checked by the accept script with the
    # submission, or alone before any other refusal (intake/submit.py).
    limits = admission_limits(survey.survey_id, respondent.network_key, respondent.device_hash)
    submitted = submit(
        survey,
        submission_id,
        answers,
        lang,
        source="api",
        problems=errors,
        respondent=respondent,
        limits=limits,
    )
    if submitted.result is Result.LIMITED and submitted.verdict is not None:
        return _too_many(api_over_limit(survey.survey_id, submitted.verdict))
    if submitted.result in REFUSED:
        status, text = REFUSED[submitted.result]
        return _error(status, text, submission_id=str(submission_id))
    if submitted.result is Result.CLOSED:
        reason = submitted.reason or "closed"
        return _error(410, UNAVAILABLE[reason], reason=reason)
    if submitted.result is Result.REJECTED:
        return {"errors": submitted.errors}, 422
    if submitted.result is Result.UNAVAILABLE:
        busy = {
            "error": "submissions cannot be stored right now; send the same request again later",
            "submission_id": str(submission_id),
        }
        return busy, 503, {"Retry-After": RETRY_AFTER_SECONDS}
    if submitted.result is Result.CONFLICT:
        return _error(
            409,
            "this submission_id was already used with other answers",
            submission_id=str(submission_id),
        )
    reply: dict[str, str | bool] = {"status": "accepted", "submission_id": str(submission_id)}
    if submitted.result is Result.DUPLICATE:
        reply["duplicate"] = True
    # The bytes Flask's JSON provider writes (compact, a final newline), by orjson: the
    # provider's path costs every accepted submission ~40,000 instructions.
    return Response(orjson.dumps(reply) + b"\n", 202, mimetype="application/json")


def _respondent(req: Request, body: dict) -> Respondent:
    """Who answers, as an API request can tell: its device token, network, access
    code, and the paradata of its User-Agent."""
    return Respondent(
        device_hash=device_hash(_text_or_none(body.get("device_token"))),
        network_key=network_key(req.remote_addr),
        access_code=_text_or_none(body.get("access_code")),
        paradata=client_paradata(req.headers.get("User-Agent")),
    )


def _too_many(admission: Admission):
    """429 when this network (or the survey) sends more than its limit (docs/abuse.md):
    wait and send the same again."""
    wait = admission.verdict.retry_after
    body = {
        "error": f"too many submissions ({admission.verdict.which} limit); "
        f"send the same request again in {wait} seconds",
        "limit": admission.verdict.which,
        "retry_after": wait,
    }
    return body, 429, {"Retry-After": str(wait)}


@bp.get("/surveys/<slug>/results")
def results(slug: str):
    """The dashboard's figures as JSON, under the dashboard's filters (f.<question>,
    from, to): the same accumulator and cache, so the same numbers (docs/api.md); 202
    with what the tallies know while a job counts more than a request may read."""
    user = staff_user()
    if user is None:
        return unauthorized()
    survey = find_survey(slug)
    if survey is None:
        return _error(404, "no survey with this slug")
    if not may_see(user, survey):
        return _error(403, "this survey is not shared with your account")
    merged = merged_survey(survey)
    if merged is None:
        return {
            "survey": survey.slug,
            "status": "complete",
            "complete": True,
            "responses": 0,
            "questions": {},
        }, 200
    try:
        filters = read_filters(request.args, merged)
    except FilterError as error:
        return _error(400, str(error))
    lang = choose_language(merged.newest.languages(), merged.default_language)
    dashboard, counting = survey_dashboard(survey, merged, filters, lang)
    body = results_json(survey.slug, merged, filters, dashboard, counting)
    body["quotas"] = quotas_json(quota_views(survey.id, merged, lang))
    if counting is not None:  # a job counts the rest: ask again in a while
        return body, 202, {"Retry-After": str(COUNTING_RETRY_SECONDS)}
    return body, 200
