"""One per device with editing allowed (settings.allow_edit): a later answer from the
same browser replaces the earlier one. Inside persist_batch's transaction the device
claim moves to the later submission, and the earlier response is excluded with a
note and taken out of the tallies (the default view counts it no more), so the
tallies still equal a recount of the counted responses.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from survey_engine.catalog import definition_of
from survey_engine.extensions import db
from survey_engine.intake.submission import Submission
from survey_engine.intake.tallies import TallyKey, keys_of, upsert_counts
from survey_engine.models import Response, ResponseClaim, ResponseStatus, in_each_survey

REPLACED_NOTE = "replaced by a later answer from the same device"

Replaced = list[tuple[int, uuid.UUID]]  # (survey_id, submission_id) of earlier answers


def move_claims(
    takers: Sequence[tuple[Submission, str]], holders: dict[tuple[int, str], uuid.UUID]
) -> Replaced:
    """Give each claim to the last of its `takers` (in the order they were submitted);
    returns the submissions that held it before, each replaced by the next."""
    replaced: Replaced = []
    chains: dict[tuple[int, str], list[Submission]] = {}
    for submission, claim in sorted(takers, key=lambda taker: taker[0].submitted_at):
        chains.setdefault((submission.survey_id, claim), []).append(submission)
    for (survey_id, claim), chain in chains.items():
        previous = holders.get((survey_id, claim))
        for submission in chain:
            if previous is not None and previous != submission.submission_id:
                replaced.append((survey_id, previous))
            previous = submission.submission_id
        db.session.execute(
            sa.update(ResponseClaim)
            .where(ResponseClaim.survey_id == survey_id, ResponseClaim.claim == claim)
            .values(submission_id=chain[-1].submission_id)
        )
    return replaced


def exclude_replaced(replaced: Replaced) -> Sequence[Any]:
    """Exclude the replaced responses that were counted, and uncount them; returns
    them (id, survey_id, submission_id, …) for the webhooks' event."""
    if not replaced:
        return []
    rows = db.session.execute(
        sa.select(
            Response.id,
            Response.survey_id,
            Response.submission_id,
            Response.version_id,
            Response.answers,
        ).where(
            in_each_survey(Response.survey_id, Response.submission_id, replaced),
            Response.status.in_(ResponseStatus.COUNTED),
        )
    ).all()
    if not rows:
        return []
    db.session.execute(
        sa.update(Response)
        .where(Response.id.in_([row.id for row in rows]))
        .values(
            status=ResponseStatus.EXCLUDED,
            review_note=REPLACED_NOTE,
            reviewed_at=datetime.now(UTC),
        )
    )
    deltas: Counter[TallyKey] = Counter()
    for row in rows:
        for question, choice in keys_of(definition_of(row.version_id), row.answers):
            deltas[(row.survey_id, row.version_id, question, choice)] -= 1
    upsert_counts(deltas)
    return rows
