"""The results dashboard's counts, saved in the database per survey and view, so no
request has to read every response again after a restart.

A view's scan (accumulator.Accumulator) is saved in result_states with the response id
it read up to (`last_id`) and how many responses it saw (`seen`), as accumulate()
keeps them. Whoever reads on from there saves again: the dashboard request for the
few responses stored since, the workers between drain batches (jobs.advance_saved_results),
and a job (jobs.count_results_job) when more than RESULTS_REQUEST_SCAN_ROWS responses
are to be read, which a request never does itself: the page then says how far the
job has come.

A saved state is read back only for the same published versions and the same shape
of accumulator; when `seen` no longer matches the responses up to `last_id` (some were
deleted, or committed late below it), it is counted again from the first response.
Deleting the survey deletes its states (foreign key, and admin's _delete on SQLite).

The responses are read in a scan of their own (replica.reading(): the read replica
when there is one), the states on the primary, where they are written. A state saved
from a primary that a lagging replica has not caught up with no longer adds up there
(still_valid) and is counted again: the cost of a fallback, never a wrong count.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, TypeGuard, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from survey_engine.definition.merged import MergedSurvey
from survey_engine.definition.problems import N_
from survey_engine.extensions import db
from survey_engine.models import Response, ResultState, insert_for
from survey_engine.replica import reading
from survey_engine.results.accumulator import Accumulator, CrossTabSpec
from survey_engine.results.codec import decode_state, encode_state, shape
from survey_engine.results.filters import FilterError, Filters
from survey_engine.results.responses import count_up_to, newest_id, response_chunks
from survey_engine.results.weights import CellWeights

# The fields a caller gives back, never saved: the survey, and the view it counts.
CONTEXT_FIELDS = ("survey", "crosstab", "weights")
SHAPE = shape(Accumulator)
JOB_STALE = timedelta(minutes=10)  # a job not heard of for this long is queued again
KEEP_CONTINUING = timedelta(days=30)  # states used since then are carried on by workers


@dataclass(frozen=True)
class View:
    """What one dashboard page counts: its filters, its cross-tab, and the survey's
    weights when it is weighted (new weights: a new view, counted anew)."""

    filters: Filters = Filters()
    crosstab: CrossTabSpec | None = None
    weights: CellWeights | None = None

    def to_json(self) -> dict[str, Any]:
        spec = self.crosstab
        data: dict[str, Any] = {
            "args": [list(pair) for pair in self.filters.to_args()],
            "crosstab": [spec.row, spec.col] if spec else None,
        }
        if self.weights is not None:
            data["weights"] = self.weights.stamp
        return data

    @property
    def key(self) -> str:
        """'' for the unfiltered, unweighted view; else the SHA-256 of its JSON."""
        if not self.filters and self.crosstab is None and self.weights is None:
            return ""
        text = json.dumps(self.to_json(), sort_keys=True, ensure_ascii=True)
        return hashlib.sha256(text.encode()).hexdigest()

    @classmethod
    def from_json(
        cls, data: dict[str, Any], merged: MergedSurvey, weights: CellWeights | None = None
    ) -> View:
        """The view again, with the survey's `weights` now; FilterError if the survey
        no longer has its questions or was weighted anew since."""
        if data.get("weights") != (weights.stamp if weights is not None else None):
            raise FilterError(N_("the survey's weights have changed since this view was saved"))
        filters = Filters.from_args(MultiDict([tuple(p) for p in data.get("args", [])]), merged)
        spec = data.get("crosstab")
        return cls(filters, CrossTabSpec(*spec) if spec else None, weights)


@dataclass(frozen=True)
class Counting:
    """A view too long to count in a request: a job counts it (`start_job`: this
    request must queue it), `counted` of `total` responses read so far."""

    counted: int
    total: int
    start_job: bool = False

    @property
    def ratio(self) -> float:
        return min(1.0, self.counted / self.total) if self.total else 0.0


def _row(survey_id: int, view: View) -> ResultState | None:
    return db.session.scalar(
        sa.select(ResultState).where(
            ResultState.survey_id == survey_id, ResultState.view_key == view.key
        )
    )


def _usable(row: ResultState | None, merged: MergedSurvey) -> TypeGuard[ResultState]:
    """Whether `row` was saved for these published versions and this accumulator."""
    return row is not None and row.shape == SHAPE and list(row.versions) == list(merged.version_ids)


def decoded(row: ResultState, merged: MergedSurvey, view: View) -> Accumulator:
    scan = decode_state(
        Accumulator, row.state, survey=merged, crosstab=view.crosstab, weights=view.weights
    )
    scan.last_id, scan.seen = int(row.last_id), int(row.seen)
    return scan


def load(survey_id: int, merged: MergedSurvey, view: View) -> Accumulator | None:
    """The saved scan of this view, if it was made for these versions."""
    row = _row(survey_id, view)
    return decoded(row, merged, view) if row is not None and _usable(row, merged) else None


def save(
    survey_id: int,
    merged: MergedSurvey,
    view: View,
    scan: Accumulator,
    queued: bool | None = None,
    used: bool = True,
) -> None:
    """Insert or replace the view's state (in the caller's transaction). queued: True
    marks a job as counting it, False clears the mark, None leaves it; used: a page
    asked for it now (the workers carry on the views used lately only)."""
    now = datetime.now(UTC)
    values = {
        "survey_id": survey_id,
        "view_key": view.key,
        "view": view.to_json(),
        "versions": list(merged.version_ids),
        "shape": SHAPE,
        "state": encode_state(scan, omit=CONTEXT_FIELDS),
        "last_id": scan.last_id,
        "seen": scan.seen,
        "updated_at": now,
        "used_at": now,
        "queued_at": now if queued else None,
    }
    statement = insert_for(ResultState.__table__).values(**values)
    update = {
        name: statement.excluded[name]
        for name in values
        if name not in ("survey_id", "view_key", "queued_at", "used_at")
    }
    if queued is not None:
        update["queued_at"] = statement.excluded.queued_at
    if used:
        update["used_at"] = statement.excluded.used_at
    db.session.execute(
        statement.on_conflict_do_update(index_elements=["survey_id", "view_key"], set_=update)
    )


def still_valid(
    survey_id: int, view: View, scan: Accumulator | None, reads: Session | None = None
) -> bool:
    """Whether the responses up to scan.last_id are those it saw (none deleted, none
    committed late below it): else it must start over."""
    return (
        scan is not None
        and count_up_to(survey_id, view.filters, scan.last_id, reads=reads) == scan.seen
    )


def _nth_id_after(survey_id: int, after_id: int, n: int, reads: Session) -> int | None:
    return reads.scalar(
        sa.select(Response.id)
        .where(Response.survey_id == survey_id, Response.id > after_id)
        .order_by(Response.id)
        .offset(n - 1)
        .limit(1)
    )


class Step(NamedTuple):
    scan: Accumulator
    done: bool  # it reached the newest response
    read: int  # responses read from the database


def advance(
    survey_id: int,
    merged: MergedSurvey,
    view: View,
    scan: Accumulator | None,
    max_rows: int | None = None,
    checked: bool = False,
    reads: Session | None = None,
) -> Step:
    """Read on from `scan` (a scan of its own, not shared), at most `max_rows` stored
    responses. As accumulate(), but in bounded steps; `checked`: still_valid was
    just asked (on `reads`, the session this scan reads the responses from; without
    one, a scan of its own)."""
    if reads is None:
        with reading() as own:
            return advance(survey_id, merged, view, scan, max_rows, checked, own)
    if scan is None or not (checked or still_valid(survey_id, view, scan, reads)):
        scan = Accumulator(merged, view.crosstab, weights=view.weights)
    after = scan.last_id
    newest = max(newest_id(survey_id, reads), after)
    upto = newest
    if max_rows is not None and newest > after:
        upto = min(newest, _nth_id_after(survey_id, after, max_rows, reads) or newest)
    # Counted before the rows are read, as in accumulate().
    read = count_up_to(survey_id, view.filters, upto, after, reads)  # what the SQL selects
    seen = scan.seen + read
    if upto > after:
        chunks = response_chunks(survey_id, view.filters, after_id=after, reads=reads)
        for chunk in chunks:
            scan.add([row for row in chunk if row.id <= upto])
            if chunk[-1].id >= upto:
                break  # the generator (and its cursor) is closed when it goes
        del chunks
    scan.last_id, scan.seen = upto, seen
    return Step(scan, upto >= newest, read)


def prepare(
    survey_id: int, merged: MergedSurvey, view: View, previous: Accumulator | None, budget: int
) -> Accumulator | Counting:
    """What a request shows for the view: its scan, read on from `previous` (this
    process's, at an older count) or the saved state, whichever went further, when at
    most `budget` responses are left to read (then saved); otherwise how far the job
    counting it has come."""
    row = _row(survey_id, view)
    scan: Accumulator | None
    if _usable(row, merged) and (previous is None or row.last_id > previous.last_id):
        scan = decoded(row, merged, view)
    else:
        scan = previous.copy_for(merged) if previous is not None else None
    with reading() as reads:
        if not still_valid(survey_id, view, scan, reads):
            scan = None
        after = scan.last_id if scan is not None else 0
        newest = newest_id(survey_id, reads)
        left = count_up_to(survey_id, view.filters, newest, after, reads) if newest > after else 0
        current = (
            advance(survey_id, merged, view, scan, checked=True, reads=reads).scan
            if left <= budget
            else None
        )
    if current is not None:
        save(survey_id, merged, view, current)
        db.session.commit()
        return current
    counted = scan.seen if scan is not None else 0
    start = _claim_job(survey_id, merged, view, row, scan)
    db.session.commit()
    return Counting(counted, counted + left, start)


def _claim_job(
    survey_id: int,
    merged: MergedSurvey,
    view: View,
    row: ResultState | None,
    scan: Accumulator | None,
) -> bool:
    """Mark the view as counted by a job; False if a job already is (heard of lately)."""
    if row is None or not _usable(row, merged):
        save(
            survey_id,
            merged,
            view,
            scan or Accumulator(merged, view.crosstab, weights=view.weights),
            queued=True,
        )
        return True
    stale = datetime.now(UTC) - JOB_STALE
    claimed = cast(
        sa.CursorResult,
        db.session.execute(
            sa.update(ResultState)
            .where(
                ResultState.id == row.id,
                sa.or_(
                    ResultState.queued_at.is_(None),
                    sa.and_(ResultState.queued_at < stale, ResultState.updated_at < stale),
                ),
            )
            .values(queued_at=datetime.now(UTC), used_at=datetime.now(UTC))
            .execution_options(synchronize_session=False)
        ),
    )
    return claimed.rowcount == 1


def count_view(survey_id: int, merged: MergedSurvey, view: View, step: int) -> Accumulator:
    """A job's work: read the view to the newest response, `step` responses at a time,
    saving after each step (the page shows the progress, a new job resumes there)."""
    scan = load(survey_id, merged, view)
    while True:
        scan, done, _ = advance(survey_id, merged, view, scan, max_rows=step)
        save(survey_id, merged, view, scan, queued=False if done else None, used=False)
        db.session.commit()
        if done:
            return scan


def behind(limit: int = 50) -> list[tuple[int, str, int]]:
    """(survey_id, view_key, last_id) of states that responses were stored after, that
    no job is counting, used lately; the most recently used first."""
    newest = (
        sa.select(sa.func.max(Response.id))
        .where(Response.survey_id == ResultState.survey_id)
        .scalar_subquery()
    )
    rows = db.session.execute(
        sa.select(ResultState.survey_id, ResultState.view_key, ResultState.last_id)
        .where(
            ResultState.queued_at.is_(None),
            ResultState.used_at > datetime.now(UTC) - KEEP_CONTINUING,
            ResultState.last_id < newest,
        )
        .order_by(ResultState.used_at.desc())
        .limit(limit)
    )
    return [(int(s), k, int(last)) for s, k, last in rows]


def view_of(survey_id: int, view_key: str) -> dict[str, Any] | None:
    """The JSON of a saved view, to rebuild it with View.from_json."""
    return db.session.scalar(
        sa.select(ResultState.view).where(
            ResultState.survey_id == survey_id, ResultState.view_key == view_key
        )
    )


def forget(survey_id: int, view_key: str) -> None:
    """A state whose view the survey no longer has (a filtered question dropped)."""
    db.session.execute(
        sa.delete(ResultState).where(
            ResultState.survey_id == survey_id, ResultState.view_key == view_key
        )
    )
