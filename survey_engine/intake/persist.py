"""Storing submissions: the only writer of responses, whoever calls it.

One transaction per batch:
  1. claims: a device token or access code already used by another submission loses
     its submission (the response_claims primary key, Redis's accept script's twin);
  2. insert the responses (a repeated submission_id is skipped by the unique
     (survey_id, submission_id) constraint, the single, final guard against doubles);
  3. quota places of the new ones: a drained submission's place was granted by the
     accept script and is counted; a direct one (enforce=True) takes a place only if
     one is left, else the transaction is rolled back;
  4. add the new ones to the tallies and mark their access codes used;
  5. with editing allowed (replace_claims), a device claim held by an earlier answer
     moves to the later one and the earlier is excluded and uncounted (replace.py);
  6. the webhooks' outbox rows for the new ones (webhooks/outbox.py): sent later by
     the workers, never here, so a receiver never holds up the drain.
Before the insert, quality.check_batch adds the quality flags (and flags earlier
responses a repeat shows up); they are counted for /metrics once committed.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import cast

import sqlalchemy as sa

from survey_engine.catalog import definition_of
from survey_engine.extensions import db
from survey_engine.intake import quality
from survey_engine.intake.replace import exclude_replaced, move_claims
from survey_engine.intake.submission import Outcome, Submission
from survey_engine.intake.tallies import TallyKey, keys_of, upsert_counts
from survey_engine.models import (
    AccessCode,
    QuotaFill,
    Response,
    ResponseClaim,
    in_each_survey,
    insert_for,
)
from survey_engine.webhooks import outbox

Key = tuple[int, uuid.UUID]


class _Refused(Exception):
    """A direct submission may not be stored (CLAIMED or FULL): roll back its batch."""

    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome


@dataclass
class Persisted:
    inserted: dict[Key, int] = field(default_factory=dict)  # the new responses' ids
    refused: dict[Key, Outcome] = field(default_factory=dict)  # CLAIMED or FULL
    replaced: list[Key] = field(default_factory=list)  # earlier answers of the same device


def persist_batch(submissions: Sequence[Submission], enforce: bool = False) -> Persisted:
    """Insert a batch and add it to the tallies in one transaction.

    `enforce`: the submissions did not pass the accept script (no Redis), so the quota
    limits are checked here and a refusal rolls the whole batch back (callers send one).
    """
    unique = list({s.key: s for s in reversed(submissions)}.values())  # first of each id
    persisted = Persisted()
    if not unique:
        return persisted
    try:
        unique = _take_claims(unique, persisted, enforce)
        checked = quality.check_batch(unique)
        unique = checked.submissions
        if unique:
            persisted.inserted = _insert(unique)
            new = [s for s in unique if s.key in persisted.inserted]
            _take_quota_places(new, enforce)
            _count(new)
            outbox.add_replaced(exclude_replaced(persisted.replaced))
            _mark_codes_used(new)
            outbox.add_stored(new, persisted.inserted)
        db.session.commit()
        quality.count_flags(checked, persisted.inserted)
    except _Refused as refused:
        db.session.rollback()
        persisted.refused = {s.key: refused.outcome for s in unique}
    except BaseException:
        db.session.rollback()
        raise
    return persisted


def _insert(unique: list[Submission]) -> dict[Key, int]:
    table = Response.__table__
    statement = (
        insert_for(table)
        .on_conflict_do_nothing(index_elements=["survey_id", "submission_id"])
        .returning(table.c.survey_id, table.c.submission_id, table.c.id)
    )
    result = db.session.execute(statement, [s.row() for s in unique])
    return {(row.survey_id, row.submission_id): row.id for row in result}


def _take_claims(unique: list[Submission], persisted: Persisted, enforce: bool) -> list[Submission]:
    """The submissions whose claims are theirs; the others are refused as CLAIMED.

    Claimed in the order they were submitted: of two answers from one device in a
    batch, the earlier takes a free claim, so the later is refused, or with editing
    allowed replaces it (not the other way round)."""
    wanted = sorted(
        ((s, claim) for s in unique for claim in s.claims), key=lambda w: w[0].submitted_at
    )
    if not wanted:
        return unique
    holders = _hold_claims(wanted)
    taken = [(s, c) for s, c in wanted if holders.get((s.survey_id, c)) != s.holder]
    persisted.replaced = move_claims([(s, c) for s, c in taken if s.replace_claims], holders)
    losers = {s.key for s, c in taken if not s.replace_claims}
    if losers and enforce:
        raise _Refused(Outcome.CLAIMED)
    for key in losers:
        persisted.refused[key] = Outcome.CLAIMED
    return [s for s in unique if s.key not in losers]


def _hold_claims(wanted: list[tuple[Submission, str]]) -> dict[tuple[int, str], uuid.UUID]:
    """Insert the claims nobody holds; returns the holder of each wanted claim. Only the
    claims already held are read back: reading all of a batch's (hundreds) made
    PostgreSQL scan the survey's whole response_claims table for each batch, whatever
    the form of the IN list (BENCHMARKS.md, issue 13)."""
    table = ResponseClaim.__table__
    inserted = db.session.execute(
        insert_for(table)
        .on_conflict_do_nothing(index_elements=["survey_id", "claim"])
        .returning(table.c.survey_id, table.c.claim, table.c.submission_id),
        [{"survey_id": s.survey_id, "claim": c, "submission_id": s.holder} for s, c in wanted],
    )
    holders = {(row.survey_id, row.claim): row.submission_id for row in inserted}
    held_before = [(s.survey_id, c) for s, c in wanted if (s.survey_id, c) not in holders]
    if held_before:
        holders.update(
            ((row.survey_id, row.claim), row.submission_id)
            for row in db.session.execute(
                sa.select(table.c.survey_id, table.c.claim, table.c.submission_id).where(
                    in_each_survey(table.c.survey_id, table.c.claim, held_before)
                )
            )
        )
    return holders


def _take_quota_places(unique: list[Submission], enforce: bool) -> None:
    places = Counter((s.survey_id, q.quota, q.stratum) for s in unique for q in s.quotas)
    if not places:
        return
    table = cast(sa.Table, QuotaFill.__table__)
    db.session.execute(
        insert_for(table).on_conflict_do_nothing(index_elements=["survey_id", "quota", "stratum"]),
        [{"survey_id": i, "quota": q, "stratum": st, "count": 0} for i, q, st in places],
    )
    limits = {(s.survey_id, q.quota, q.stratum): q.limit for s in unique for q in s.quotas}
    for (survey_id, quota, stratum), n in places.items():
        where = (
            (table.c.survey_id == survey_id)
            & (table.c.quota == quota)
            & (table.c.stratum == stratum)
        )
        if enforce:  # only while places are left: the row lock makes this atomic
            where &= table.c.count + n <= limits[(survey_id, quota, stratum)]
        updated = db.session.execute(sa.update(table).where(where).values(count=table.c.count + n))
        if enforce and cast(sa.CursorResult, updated).rowcount == 0:
            raise _Refused(Outcome.FULL)


def _count(new: list[Submission]) -> None:
    deltas: Counter[TallyKey] = Counter()
    for s in new:
        for question, choice in keys_of(definition_of(s.version_id), s.answers):
            deltas[(s.survey_id, s.version_id, question, choice)] += 1
    upsert_counts(deltas)


def _mark_codes_used(new: list[Submission]) -> None:
    """A code not linked to the answers records only the day it was used: its exact
    time beside the responses' submitted_at would point at its response."""
    now = datetime.now(UTC)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    for s in new:
        if s.code_id is not None:
            linked = s.meta.get("link_code") is True
            db.session.execute(
                sa.update(AccessCode)
                .where(AccessCode.id == s.code_id, AccessCode.used_at.is_(None))
                .values(
                    used_at=now if linked else today,
                    submission_id=s.submission_id if linked else None,
                )
            )


def compare_with_stored(submission: Submission) -> Outcome:
    stored = db.session.scalar(
        sa.select(Response.answers).where(
            Response.survey_id == submission.survey_id,
            Response.submission_id == submission.submission_id,
        )
    )
    return Outcome.DUPLICATE if stored == submission.answers else Outcome.CONFLICT
