"""One submit protocol for the questionnaire page and the API.

    is the survey open? ─ no ──► Closed(reason)                     410
    clean the answers against the version; the caller's own problems
    (a bad submission_id, unknown properties) join them
        ─ any problem ──► counted as rejected, Rejected(errors)      422
    accept() ─ Redis or the database holds it ──► Accepted / Duplicate  202/303
             ─ same id, other answers ──► Conflict                   409
             ─ nowhere to hold it ──► Unavailable                    503

The views only translate the result into their page or JSON.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field

from survey_engine.catalog import Published, unavailable_reason
from survey_engine.definition import clean_answers
from survey_engine.intake import counters
from survey_engine.intake.accept import accept
from survey_engine.intake.submission import Outcome, StorageUnavailable, Submission


class Result(enum.Enum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"  # already held with the same answers: nothing new stored
    CONFLICT = "conflict"  # this submission_id was used with other answers
    REJECTED = "rejected"  # problems with the answers: nothing stored
    CLOSED = "closed"  # the survey does not take responses now (see `reason`)
    UNAVAILABLE = "unavailable"  # neither Redis nor the database can hold it now


OUTCOME_RESULT = {
    Outcome.ACCEPTED: Result.ACCEPTED,
    Outcome.DUPLICATE: Result.DUPLICATE,
    Outcome.CONFLICT: Result.CONFLICT,
}


@dataclass(frozen=True)
class Submitted:
    result: Result
    answers: dict = field(default_factory=dict)  # as cleaned (what was or would be stored)
    errors: dict[str, str] = field(default_factory=dict)  # field -> message, when REJECTED
    reason: str | None = None  # closed | not_open | full, when CLOSED


def submit(
    survey: Published,
    submission_id: uuid.UUID | None,
    answers: dict | None,
    lang: str,
    source: str,
    problems: dict[str, str] | None = None,
) -> Submitted:
    """Check and hand over one citizen's answers to `survey`'s published version.

    `problems` are the caller's own findings about the request (a malformed id, an
    unexpected property): they make the submission rejected like a bad answer; so do
    `submission_id` or `answers` None (the caller could not read them: its problems say
    why)."""
    reason = unavailable_reason(survey)
    if reason:
        return Submitted(Result.CLOSED, reason=reason)
    cleaned, errors = (
        ({}, {}) if answers is None else clean_answers(survey.definition, answers, lang)
    )
    errors = {**(problems or {}), **errors}
    if errors or submission_id is None or answers is None:
        counters.count(survey.survey_id, "rejected")
        return Submitted(Result.REJECTED, cleaned, errors)
    try:
        outcome = accept(
            Submission(
                survey.survey_id,
                survey.version_id,
                submission_id,
                cleaned,
                source=source,
                meta={"lang": lang},
            )
        )
    except StorageUnavailable:
        return Submitted(Result.UNAVAILABLE, cleaned)
    return Submitted(OUTCOME_RESULT[outcome], cleaned)
