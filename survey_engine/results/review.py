"""Staff review of responses: accept, exclude or flag again, one or all matching.

A change of status and the tallies move together, in one transaction with its audit
entry: excluding a response takes its tally keys away (the tallies count the default
set, ResponseStatus.COUNTED), letting an excluded one back in adds them again. Each
UPDATE names the status it moves from, so two staff excluding the same response at
once take its keys away once.

The results' views count incrementally by response id (results/live.py,
results/saved.py) and a review changes responses below the ids they read: the
change forgets the survey's saved states (but those of views counting every
response, which a status does not change), and the audit entry's id is the survey's
`review_stamp`, part of the live cache's key, so every process counts afresh. A
worker or job carrying a view on while a review commits may save what it read before
it; the next read then finds the view's count below its last id changed and starts
over (results/saved.py still_valid), unless the review moved as many responses in as
out of the view in that moment.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from survey_engine.catalog import definition_of
from survey_engine.extensions import db
from survey_engine.intake.tallies import TallyKey, keys_of, upsert_counts
from survey_engine.models import AuditEvent, Response, ResponseStatus, ResultState, Survey, User
from survey_engine.results.review_query import ReviewQuery
from survey_engine.staff import audit
from survey_engine.webhooks import outbox

S = ResponseStatus
ACTIONS = {"accept": S.ACCEPTED, "exclude": S.EXCLUDED, "flag": S.FLAGGED}
AUDIT_ACTIONS = {
    "accept": "responses_accepted",
    "exclude": "responses_excluded",
    "flag": "responses_flagged",
}
# The statuses an action moves a response from (never to the status it has).
MOVABLE = {
    S.ACCEPTED: (S.UNREVIEWED, S.FLAGGED, S.EXCLUDED),
    S.EXCLUDED: (S.UNREVIEWED, S.ACCEPTED, S.FLAGGED),
    S.FLAGGED: (S.UNREVIEWED, S.ACCEPTED, S.EXCLUDED),
}
CHUNK = 500  # responses per UPDATE
MAX_REASON = 500  # Response.review_note's length
MAX_IDS = 10_000  # ids one request may name (the page sends one)


class ReviewError(ValueError):
    """An action that cannot be taken as asked (no reason to exclude, no such action)."""


@dataclass
class Reviewed:
    action: str
    moved: int = 0
    by_status: Counter[str] = field(default_factory=Counter)  # moved from -> count
    ids: list[int] = field(default_factory=list)


def review(
    survey: Survey,
    action: str,
    reason: str,
    *,
    ids: Sequence[int] | None = None,
    query: ReviewQuery | None = None,
    actor: User | None = None,
) -> Reviewed:
    """Move the responses named by `ids`, or all matching `query`, to the action's
    status; commits with the audit entry (nothing when no response moved)."""
    if action not in ACTIONS:
        raise ReviewError(f"no review action {action!r}")
    reason = " ".join(reason.split())[:MAX_REASON]
    if action == "exclude" and not reason:
        raise ReviewError("a reason is required to exclude responses")
    if ids is None and query is None:
        raise ReviewError("name the responses, or a filter they match")
    to = ACTIONS[action]
    done = Reviewed(action)
    try:
        for chunk in _chunks(_candidates(survey.id, to, ids, query)):
            _move(survey.id, chunk, to, reason, done)
        if not done.moved:
            db.session.rollback()
            return done
        _forget_saved_states(survey.id)
        outbox.add_event(
            survey,
            outbox.REVIEWED,
            {
                "review": {
                    "action": action,
                    "status": to,
                    "count": done.moved,
                    "response_ids": id_ranges(done.ids),
                }
            },
        )
        audit.record(  # commits the whole change
            AUDIT_ACTIONS[action],
            survey,
            actor,
            count=done.moved,
            previous=dict(sorted(done.by_status.items())),
            reason=reason,
            filter=query.to_args() if query is not None else None,
            responses=id_ranges(done.ids),
        )
    except BaseException:
        db.session.rollback()
        raise
    return done


def _forget_saved_states(survey_id: int) -> None:
    """The saved counts of the survey's views a review changes: every view but those
    counting all responses (whatever their status, the same responses)."""
    rows = db.session.execute(
        sa.select(ResultState.id, ResultState.view).where(ResultState.survey_id == survey_id)
    )
    every = ["include", "all"]
    stale = [state_id for state_id, view in rows if every not in (view or {}).get("args", [])]
    if stale:
        db.session.execute(sa.delete(ResultState).where(ResultState.id.in_(stale)))


def _candidates(
    survey_id: int, to: str, ids: Sequence[int] | None, query: ReviewQuery | None
) -> list[int]:
    where = [Response.survey_id == survey_id, Response.status.in_(MOVABLE[to])]
    if query is not None:
        where += query.conditions(survey_id)
    if ids is not None:
        wanted = sorted(set(ids))[:MAX_IDS]
        found: list[int] = []
        for chunk in _chunks(wanted):
            found += db.session.scalars(
                sa.select(Response.id).where(*where, Response.id.in_(chunk))
            )
        return sorted(found)
    return list(db.session.scalars(sa.select(Response.id).where(*where).order_by(Response.id)))


def _move(survey_id: int, chunk: list[int], to: str, reason: str, done: Reviewed) -> None:
    """One chunk, a statement per status moved from: the rows still in it move."""
    now = datetime.now(UTC)
    deltas: Counter[TallyKey] = Counter()
    for was in MOVABLE[to]:
        step = (was not in S.COUNTED) - (to not in S.COUNTED)  # +1 back in, -1 out
        rows = db.session.execute(
            sa.update(Response)
            .where(Response.survey_id == survey_id, Response.id.in_(chunk), Response.status == was)
            .values(status=to, review_note=reason or None, reviewed_at=now)
            .returning(Response.id, Response.version_id, Response.answers)
            .execution_options(synchronize_session=False)
        ).all()
        for response_id, version_id, answers in rows:
            done.ids.append(int(response_id))
            if step:
                for question, choice in keys_of(definition_of(version_id), answers or {}):
                    deltas[(survey_id, version_id, question, choice)] += step
        done.moved += len(rows)
        if rows:
            done.by_status[was] += len(rows)
    upsert_counts(Counter({key: n for key, n in deltas.items() if n}))


def _chunks(items: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def id_ranges(ids: list[int]) -> list[list[int]]:
    """[[first, last], …] of consecutive ids: a bulk action's responses, kept short."""
    ranges: list[list[int]] = []
    for response_id in sorted(ids):
        if ranges and response_id == ranges[-1][1] + 1:
            ranges[-1][1] = response_id
        else:
            ranges.append([response_id, response_id])
    return ranges


def review_stamp(survey: Survey) -> int:
    """The id of the survey's latest review entry (0: never reviewed): part of the
    results cache's key. An indexed lookup of the survey's few audit entries."""
    return int(
        db.session.scalar(
            sa.select(sa.func.max(AuditEvent.id)).where(
                AuditEvent.survey_slug == survey.slug,
                AuditEvent.action.in_(AUDIT_ACTIONS.values()),
            )
        )
        or 0
    )


def history(survey: Survey, response_id: int) -> list[AuditEvent]:
    """The review entries that moved this response, oldest first."""
    events = db.session.scalars(
        sa.select(AuditEvent)
        .where(
            AuditEvent.survey_slug == survey.slug,
            AuditEvent.action.in_(AUDIT_ACTIONS.values()),
        )
        .order_by(AuditEvent.id)
    )
    return [event for event in events if _names(event.detail, response_id)]


def _names(detail: Any, response_id: int) -> bool:
    ranges = detail.get("responses") if isinstance(detail, dict) else None
    return any(
        isinstance(r, list) and len(r) == 2 and r[0] <= response_id <= r[1] for r in ranges or []
    )
