"""Hand over a checked submission: ACCEPTED only once it is held somewhere.

accept(submission)
  ├─ REDIS_URL set: the accept script appends it to the survey's Redis Stream
  │  (buffer.py), checking its id, its claims and its quota places in the same step;
  │  a worker drains it in batches (drain.py) through persist_batch
  │  └─ REDIS_WAIT_REPLICAS set and fewer replicas confirm it: stored here as well
  └─ no REDIS_URL, or Redis failing: persist_batch([submission], enforce=True) right
     here, which keeps the same guarantees in one database transaction
"""

from __future__ import annotations

import logging

import sqlalchemy as sa

from survey_engine.extensions import db
from survey_engine.intake import counters
from survey_engine.intake.breakers import Limits, OverLimit, Verdict
from survey_engine.intake.buffer import StreamBuffer, accept_args, current_buffer
from survey_engine.intake.persist import compare_with_stored, persist_batch
from survey_engine.intake.submission import (
    METRIC_OF,
    Outcome,
    StorageUnavailable,
    Submission,
    answers_digest,
)
from survey_engine.models import QuotaFill
from survey_engine.redis_connections import REDIS_ERRORS

log = logging.getLogger(__name__)


def accept(submission: Submission, limits: Limits | None = None) -> Outcome:
    """Take a submission the caller has checked; an ACCEPTED result is durably held.

    `limits`: the circuit breakers' check, run by the accept script in the same round
    trip when Redis takes the submission, else alone first. Raises OverLimit when over
    one (nothing held), StorageUnavailable when it cannot be held anywhere.
    """
    buffer = current_buffer()
    part = limits.script_part() if limits is not None and buffer is not None else None
    if limits is not None and part is None:
        _check_alone(limits)
    if buffer is not None:
        try:
            # The stored counts are read only when Redis lacks a place's count (a new
            # group, a Redis that lost its data): the database stays off the hot path,
            # and an outage of it does not stop a quota survey's submissions.
            held = _append(buffer, submission, seeds=False, part=part)
            if held == "seed":
                held = _append(buffer, submission, seeds=True, part=part)
            if held.startswith("limited:") and limits is not None:
                raise OverLimit(limits.verdict_of(held))
            if held == "unreplicated":
                return _store_unreplicated(submission)
            return Outcome(held)
        except REDIS_ERRORS as error:
            log.warning(
                "Redis cannot take submission %s (%s); storing it directly",
                submission.submission_id,
                error,
            )
            if part is not None and limits is not None:
                _over(limits.redis_failed())
        except sa.exc.SQLAlchemyError as error:  # reading the quota places
            db.session.rollback()
            log.warning("no quota places for %s: %s", submission.submission_id, error)
            if part is not None and limits is not None:  # 'seed' left the windows as they were
                _check_alone(limits)
    return _store_directly(submission, buffered=buffer is not None)


def _check_alone(limits: Limits) -> None:
    _over(limits.check())


def _over(verdict: Verdict) -> None:
    if verdict.over:
        raise OverLimit(verdict)


def _store_directly(submission: Submission, buffered: bool) -> Outcome:
    try:
        persisted = persist_batch([submission], enforce=True)
        if submission.key in persisted.refused:
            outcome = persisted.refused[submission.key]
        elif submission.key in persisted.inserted:
            outcome = Outcome.ACCEPTED
        else:
            outcome = compare_with_stored(submission)
        counters.count(submission.survey_id, METRIC_OF[outcome])
        if buffered and outcome is Outcome.ACCEPTED:
            counters.count(submission.survey_id, "stored_directly")
        return outcome
    except sa.exc.SQLAlchemyError as error:
        log.error("database cannot take submission %s: %s", submission.submission_id, error)
        raise StorageUnavailable from error


def _store_unreplicated(submission: Submission) -> Outcome:
    """In the stream, but no replica confirmed it: a failover now could lose it, so it
    is stored in the database too. The drain skips it later (its id is stored), and its
    claims and quota places are already held in Redis, so nothing counts twice."""
    counters.count(submission.survey_id, "unreplicated")
    try:
        persist_batch([submission], enforce=False)
    except sa.exc.SQLAlchemyError as error:
        # Still durably in the master's stream (appendfsync always): only a failover
        # before a replica catches up could lose it. Said in the log, not to the citizen.
        db.session.rollback()
        log.error("submission %s on the Redis master only: %s", submission.submission_id, error)
    return Outcome.ACCEPTED


def _append(
    buffer: StreamBuffer,
    submission: Submission,
    seeds: bool,
    part: tuple[list[str], list[int | str]] | None = None,
) -> str:
    """The accept script's answer; `seeds`: with each place's count in quota_fills, else
    without (the script answers 'seed' when it needs one); `part`: the breakers'
    windows to check first (Limits.script_part)."""
    window_keys, windows = part or ([], [])
    args = accept_args(
        str(submission.submission_id),
        answers_digest(submission.answers),
        submission.to_json(),
        claims=submission.claims,
        quotas=_quota_places(submission)
        if seeds
        else [(place.field, place.limit, "") for place in submission.quotas],
        replace_claims=submission.replace_claims,
        holder=str(submission.holder),
        windows=windows,
    )
    return buffer.append(submission.survey_id, args, window_keys)


def _quota_places(submission: Submission) -> list[tuple[str, int, int | str]]:
    """(field, limit, places stored) for the accept script; the stored count seeds a
    stratum Redis does not know (a new one, or after Redis lost its data)."""
    if not submission.quotas:
        return []
    stored: dict[tuple[str, str], int] = {
        (row.quota, row.stratum): int(row[2])
        for row in db.session.execute(
            sa.select(QuotaFill.quota, QuotaFill.stratum, QuotaFill.count).where(
                QuotaFill.survey_id == submission.survey_id
            )
        )
    }
    return [
        (place.field, place.limit, stored.get((place.quota, place.stratum), 0))
        for place in submission.quotas
    ]
