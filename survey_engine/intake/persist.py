"""Storing submissions: the only writer of responses, whoever calls it.

One transaction per batch: insert the responses (a repeated submission_id is skipped
by the unique (survey_id, submission_id) constraint, the single, final guard against
doubles) and add the new ones to the tallies.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence

import sqlalchemy as sa

from survey_engine.catalog import definition_of
from survey_engine.extensions import db
from survey_engine.intake.submission import Outcome, Submission
from survey_engine.intake.tallies import TallyKey, keys_of, upsert_counts
from survey_engine.models import Response, insert_for


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


def compare_with_stored(submission: Submission) -> Outcome:
    stored = db.session.scalar(
        sa.select(Response.answers).where(
            Response.survey_id == submission.survey_id,
            Response.submission_id == submission.submission_id,
        )
    )
    return Outcome.DUPLICATE if stored == submission.answers else Outcome.CONFLICT
