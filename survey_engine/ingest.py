"""The submission path: accept a checked submission, then persist submissions in batches.

    accept(submission)          web tier; returns accepted / duplicate / conflict
      └─ inline mode (no REDIS_URL): persist_batch([submission])
      └─ with Redis (issue 3): append to the survey's stream; a worker drains it
    persist_batch(submissions)  one transaction; a repeated submission_id is skipped

persist_batch is the only writer of responses, whoever calls it, so the unique
(survey_id, submission_id) constraint is the single, final guard against doubles.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from survey_engine.extensions import db
from survey_engine.models import Response


class Outcome(enum.Enum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"  # same id, same answers: already held, nothing new stored
    CONFLICT = "conflict"  # same id, other answers: refused


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


def accept(submission: Submission) -> Outcome:
    """Take a submission the caller has checked; an ACCEPTED result is durably held."""
    inserted = persist_batch([submission])
    if submission.key in inserted:
        return Outcome.ACCEPTED
    return _compare_with_stored(submission)


def persist_batch(submissions: Sequence[Submission]) -> set[tuple[int, uuid.UUID]]:
    """Insert a batch in one transaction; return the keys that were new."""
    if not submissions:
        return set()
    table = Response.__table__
    dialect = {"postgresql": postgresql, "sqlite": sqlite}[db.engine.dialect.name]
    statement = (
        dialect.insert(table)
        .on_conflict_do_nothing(index_elements=["survey_id", "submission_id"])
        .returning(table.c.survey_id, table.c.submission_id)
    )
    try:
        result = db.session.execute(statement, [s.row() for s in submissions])
        inserted = {(row.survey_id, row.submission_id) for row in result}
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
