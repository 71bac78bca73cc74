"""The submission path: accept a checked submission, then persist submissions in batches.

    accept(submission)          web tier; returns accepted / duplicate / conflict
      ├─ REDIS_URL set: append to the survey's Redis Stream (buffer.py); a worker
      │  drains it in batches (workers/drain.py) through persist_batch
      └─ no REDIS_URL, or Redis failing: persist_batch([submission]) right here
    persist_batch(submissions)  one transaction: insert responses (a repeated
                                submission_id is skipped) and add them to the tallies

persist_batch is the only writer of responses, whoever calls it, so the unique
(survey_id, submission_id) constraint is the single, final guard against doubles.
ACCEPTED is only returned once the submission is in the stream or the database.
"""

from __future__ import annotations

import enum
import json
import logging
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import redis
import sqlalchemy as sa

from survey_engine import metrics
from survey_engine.buffer import answers_digest, current_buffer
from survey_engine.definition.answers import unstorable
from survey_engine.extensions import db
from survey_engine.models import Response, insert_for
from survey_engine.surveys import definition_of
from survey_engine.tallies import TallyKey, keys_of, upsert_counts
from survey_engine.untrusted import load_json

log = logging.getLogger(__name__)


class StorageUnavailable(Exception):
    """Neither Redis nor the database can hold the submission now: answer 503."""


RETRY_AFTER_SECONDS = "30"  # what a 503 tells the client to wait


class Outcome(enum.Enum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"  # same id, same answers: already held, nothing new stored
    CONFLICT = "conflict"  # same id, other answers: refused


METRIC_OF = {Outcome.ACCEPTED: "accepted", Outcome.DUPLICATE: "duplicates",
             Outcome.CONFLICT: "conflicts"}


@dataclass(frozen=True)
class Submission:
    """One citizen's checked answers to one published version."""

    survey_id: int
    version_id: int
    submission_id: uuid.UUID
    answers: dict
    source: str = "web"
    meta: dict = field(default_factory=dict)
    submitted_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def key(self) -> tuple[int, uuid.UUID]:
        return (self.survey_id, self.submission_id)

    def row(self) -> dict:
        return {
            "survey_id": self.survey_id, "version_id": self.version_id,
            "submission_id": self.submission_id, "answers": self.answers,
            "source": self.source, "meta": self.meta, "submitted_at": self.submitted_at,
        }

    def to_json(self) -> str:
        return json.dumps({
            "survey_id": self.survey_id, "version_id": self.version_id,
            "submission_id": str(self.submission_id), "answers": self.answers,
            "source": self.source, "meta": self.meta,
            "submitted_at": self.submitted_at.isoformat(),
        }, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Submission:
        """Read a buffered entry back. Raises ValueError (the drain's dead letters) for
        one that is not JSON, is nested too deep, or holds text no export could write:
        it may have been buffered by an older release, before these checks."""
        data = load_json(text)
        if unstorable(data):
            raise ValueError("the entry holds unstorable text (a surrogate, non-character "
                             "or NUL)")
        return cls(
            survey_id=int(data["survey_id"]), version_id=int(data["version_id"]),
            submission_id=uuid.UUID(data["submission_id"]), answers=dict(data["answers"]),
            source=str(data["source"]), meta=dict(data["meta"]),
            submitted_at=datetime.fromisoformat(data["submitted_at"]),
        )


def accept(submission: Submission) -> Outcome:
    """Take a submission the caller has checked; an ACCEPTED result is durably held.

    Raises StorageUnavailable when it cannot be held anywhere.
    """
    buffer = current_buffer()
    if buffer is not None:
        try:
            outcome = buffer.append(submission.survey_id, str(submission.submission_id),
                                    answers_digest(submission.answers), submission.to_json())
            return Outcome(outcome)
        except redis.RedisError as error:
            log.warning("Redis cannot take submission %s (%s); storing it directly",
                        submission.submission_id, error)
    try:
        inserted = persist_batch([submission])
        outcome = (Outcome.ACCEPTED if submission.key in inserted
                   else _compare_with_stored(submission))
        metrics.count(submission.survey_id, METRIC_OF[outcome])
        if buffer is not None and outcome is Outcome.ACCEPTED:
            metrics.count(submission.survey_id, "stored_directly")
        return outcome
    except sa.exc.SQLAlchemyError as error:
        log.error("database cannot take submission %s: %s", submission.submission_id, error)
        raise StorageUnavailable from error


def persist_batch(submissions: Sequence[Submission]) -> set[tuple[int, uuid.UUID]]:
    """Insert a batch and add it to the tallies in one transaction; return the new keys."""
    unique = list({s.key: s for s in reversed(submissions)}.values())  # first of each id
    if not unique:
        return set()
    table = Response.__table__
    statement = (
        insert_for(table)
        .on_conflict_do_nothing(index_elements=["survey_id", "submission_id"])
        .returning(table.c.survey_id, table.c.submission_id)
    )
    try:
        result = db.session.execute(statement, [s.row() for s in unique])
        inserted = {(row.survey_id, row.submission_id) for row in result}
        deltas: Counter[TallyKey] = Counter()
        for s in unique:
            if s.key in inserted:
                for question, choice in keys_of(definition_of(s.version_id), s.answers):
                    deltas[(s.survey_id, s.version_id, question, choice)] += 1
        upsert_counts(deltas)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return inserted


def _compare_with_stored(submission: Submission) -> Outcome:
    stored = db.session.scalar(
        sa.select(Response.answers).where(
            Response.survey_id == submission.survey_id,
            Response.submission_id == submission.submission_id,
        )
    )
    return Outcome.DUPLICATE if stored == submission.answers else Outcome.CONFLICT
