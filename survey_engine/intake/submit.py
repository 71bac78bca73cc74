"""One submit protocol for the questionnaire page and the API.

    is the survey open? ─ no ──► Closed(reason)                     410
    closed mode: is the access code one of the survey's? ─ no ──► CodeUnknown  403
                                    ─ already used ──► Claimed        409
    clean the answers against the version; the caller's own problems
    (a bad submission_id, unknown properties) join them
        ─ any problem ──► counted as rejected, Rejected(errors)      422
    accept() ─ Redis or the database holds it ──► Accepted / Duplicate  202/303
             ─ same id, other answers ──► Conflict                   409
             ─ this browser or code has answered ──► Claimed         409
             ─ the quota's stratum is full ──► Full                  410
             ─ nowhere to hold it ──► Unavailable                    503

The views only translate the result into their page or JSON.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from survey_engine.catalog import Published, unavailable_reason
from survey_engine.definition import Definition, clean_answers
from survey_engine.intake import counters
from survey_engine.intake.accept import accept
from survey_engine.intake.access_codes import FoundCode, find_code
from survey_engine.intake.breakers import Limits, OverLimit, Verdict
from survey_engine.intake.paradata import duration_seconds
from survey_engine.intake.quotas import quota_places
from survey_engine.intake.respondent import Respondent
from survey_engine.intake.submission import Outcome, StorageUnavailable, Submission
from survey_engine.intake.uploads import check_tokens


class Result(enum.Enum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"  # already held with the same answers: nothing new stored
    CONFLICT = "conflict"  # this submission_id was used with other answers
    REJECTED = "rejected"  # problems with the answers: nothing stored
    CLOSED = "closed"  # the survey does not take responses now (see `reason`)
    UNAVAILABLE = "unavailable"  # neither Redis nor the database can hold it now
    CLAIMED = "claimed"  # this browser (device mode) or access code has answered already
    FULL = "full"  # the quota of the answers' group is full
    CODE_UNKNOWN = "code_unknown"  # closed mode: no such access code
    LIMITED = "limited"  # over a circuit breaker's limit (see `verdict`): nothing stored


class Access:
    """settings.access: who may answer (absent: OPEN, as before access modes existed)."""

    OPEN = "open"
    DEVICE = "device"  # one response per browser (the builder's default)
    CODE = "code"  # single-use access codes
    ALL = (OPEN, DEVICE, CODE)


def access_mode(definition: Definition) -> str:
    return definition.settings.get("access") or Access.OPEN


OUTCOME_RESULT = {
    Outcome.ACCEPTED: Result.ACCEPTED,
    Outcome.DUPLICATE: Result.DUPLICATE,
    Outcome.CONFLICT: Result.CONFLICT,
    Outcome.CLAIMED: Result.CLAIMED,
    Outcome.FULL: Result.FULL,
}


@dataclass(frozen=True)
class Submitted:
    result: Result
    answers: dict = field(default_factory=dict)  # as cleaned (what was or would be stored)
    errors: dict[str, str] = field(default_factory=dict)  # field -> message, when REJECTED
    reason: str | None = None  # closed | not_open | full, when CLOSED
    verdict: Verdict | None = None  # the limit it is over, when LIMITED


def submit(
    survey: Published,
    submission_id: uuid.UUID | None,
    answers: dict | None,
    lang: str,
    source: str,
    problems: dict[str, str] | None = None,
    respondent: Respondent | None = None,
    limits: Limits | None = None,
) -> Submitted:
    """Check and hand over one citizen's answers to `survey`'s published version.

    `problems` are the caller's own findings about the request (a malformed id, an
    unexpected property): they make the submission rejected like a bad answer; so do
    `submission_id` or `answers` None (the caller could not read them: its problems say
    why). `respondent` is what the request tells about who answers (respondent.py).

    `limits`: the circuit breakers' check (breakers.Limits), which comes before every
    other answer: run by the accept script with the submission (one Redis round trip
    for both), or alone before any other refusal, so that a submission over a limit is
    LIMITED whatever else is wrong with it, and the windows count it once."""
    reason = unavailable_reason(survey)
    if reason:
        return _over_limit(limits) or Submitted(Result.CLOSED, reason=reason)
    respondent = respondent or Respondent()
    d = survey.definition
    code = None
    if access_mode(d) == Access.CODE:
        # Before the database is asked about the code, as when the route checked first.
        if limited := _over_limit(limits):
            return limited
        limits = None
        code = find_code(survey.survey_id, respondent.access_code)
        if code is None:
            counters.count(survey.survey_id, "code_unknown")
            return Submitted(Result.CODE_UNKNOWN)
        if code.used_at is not None:
            counters.count(survey.survey_id, "claimed")
            return Submitted(Result.CLAIMED)
    cleaned, errors = ({}, {}) if answers is None else clean_answers(d, answers, lang)
    if cleaned and d.file_questions:  # each file's token names an upload of this question
        errors.update(check_tokens(survey.survey_id, d, cleaned, lang))
    errors = {**(problems or {}), **errors}
    if errors or submission_id is None or answers is None:
        if limited := _over_limit(limits):
            return limited
        counters.count(survey.survey_id, "rejected")
        return Submitted(Result.REJECTED, cleaned, errors)
    submission = _submission(survey, submission_id, cleaned, lang, source, respondent, code)
    try:
        outcome = accept(submission, limits)
    except OverLimit as over:
        return Submitted(Result.LIMITED, verdict=over.verdict)
    except StorageUnavailable:
        return Submitted(Result.UNAVAILABLE, cleaned)
    return Submitted(OUTCOME_RESULT[outcome], cleaned)


def _over_limit(limits: Limits | None) -> Submitted | None:
    """The breakers' check run alone, for a submission that stops before the accept
    script: LIMITED when over, else None (and it is counted in the windows)."""
    if limits is None:
        return None
    verdict = limits.check()
    return Submitted(Result.LIMITED, verdict=verdict) if verdict.over else None


def _submission(
    survey: Published,
    submission_id: uuid.UUID,
    cleaned: dict,
    lang: str,
    source: str,
    respondent: Respondent,
    code: FoundCode | None,
) -> Submission:
    """The submission with what its access mode, its quotas and the survey's privacy
    settings keep of the respondent."""
    d = survey.definition
    flags = list(respondent.flags)
    claims: tuple[str, ...] = ()
    mode = access_mode(d)
    if mode == Access.DEVICE:
        if respondent.device_hash:
            claims = (f"device:{respondent.device_hash}",)
        else:
            flags.append(
                {"flag": "no_device", "reason": "no device token: cookies off or a script"}
            )
    elif code is not None:
        claims = (code.claim,)
    paradata = {}
    now = datetime.now(UTC)
    if not d.settings.get("anonymous"):
        paradata = {
            **respondent.paradata,
            "started_at": respondent.started_at,
            "duration_seconds": duration_seconds(respondent.started_at, now),
            "network_key": respondent.network_key,
            "device_hash": respondent.device_hash,
        }
    replace = mode == Access.DEVICE and bool(d.settings.get("allow_edit"))
    meta: dict = {"lang": lang}
    if code is not None and d.settings.get("link_codes"):
        meta["link_code"] = True
    return Submission(
        survey.survey_id,
        survey.version_id,
        submission_id,
        cleaned,
        source=source,
        meta=meta,
        submitted_at=now,
        paradata=paradata,
        flags=flags,
        unit=code.unit if code else None,
        claims=claims,
        quotas=quota_places(d, cleaned),
        code_id=code.id if code else None,
        replace_claims=replace,
        claim_holder=None if _claims_lead_to_response(d, mode, replace) else uuid.uuid4(),
    )


def _claims_lead_to_response(d: Definition, mode: str, replace: bool) -> bool:
    """Whether a claim may record its submission: a code only when the survey links codes
    to answers; a browser unless the survey is anonymous (and editing, which must find
    the earlier answer, is not allowed)."""
    if mode == Access.CODE:
        return bool(d.settings.get("link_codes"))
    return replace or not d.settings.get("anonymous")
