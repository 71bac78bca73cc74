"""Reading one survey's responses in chunks, the filters applied: the one path by
which the dashboard's pandas views and the exports read responses, so neither ever
holds them all in memory.

Each function reads from `reads`, the session of the caller's scan (replica.reading():
the read replica when there is one), or the primary's db.session when not given."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from survey_engine.definition.answers import printable, unstorable
from survey_engine.extensions import db
from survey_engine.models import Response, ResponseStatus
from survey_engine.results.filters import Filters

CHUNK_SIZE = 5000


NO_FILTERS = Filters()


class _Printable:
    """A stored row as response_chunks gives it, its answers made printable; every
    other column as read."""

    def __init__(self, row: Any) -> None:
        self._row = row
        self.answers = printable(row.answers)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._row, name)


def _on(reads: Session | None) -> Session:
    """The scan's session, or the primary's."""
    return db.session() if reads is None else reads


def _printable_rows(part: Sequence[Any]) -> list[Any]:
    """The rows with any text no file or page can write (a lone surrogate, a
    non-character, NUL: stored before the answers were checked for them) replaced by
    U+FFFD, so one such row never stops a page or a province's export."""
    return [_Printable(row) if unstorable(row.answers) else row for row in part]


def _where(survey_id: int, filters: Filters, after_id: int) -> list[sa.ColumnElement[bool]]:
    """What the database selects by: the survey, the review statuses the view counts,
    the ids after `after_id` and the time bounds (choice filters are applied to the
    answers in Python)."""
    conditions = [Response.survey_id == survey_id]
    if set(filters.statuses) != set(ResponseStatus.ALL):
        conditions.append(Response.status.in_(filters.statuses))
    if after_id:
        conditions.append(Response.id > after_id)
    start, end = filters.time_bounds()
    if start is not None:
        conditions.append(Response.submitted_at >= start)
    if end is not None:
        conditions.append(Response.submitted_at < end)
    return conditions


def response_chunks(
    survey_id: int,
    filters: Filters = NO_FILTERS,
    chunk_size: int = CHUNK_SIZE,
    after_id: int = 0,
    extra: Sequence[str] = (),
    reads: Session | None = None,
) -> Iterator[list[Any]]:
    """Rows (id, submission_id, submitted_at, version_id, source, answers) in id order,
    and the columns named in `extra` (the exports' review and paradata); with
    `after_id`, only those stored after a scan that read up to it."""
    statement = (
        sa.select(
            Response.id,
            Response.submission_id,
            Response.submitted_at,
            Response.version_id,
            Response.source,
            Response.answers,
            *(getattr(Response, name) for name in extra),
        )
        .where(*_where(survey_id, filters, after_id))
        .order_by(Response.id)
        .execution_options(yield_per=chunk_size)
    )
    for part in _on(reads).execute(statement).partitions():
        part = _printable_rows(part)
        if filters.choices:
            part = [row for row in part if filters.keeps(row.answers or {})]
        if part:
            yield part


def count_up_to(
    survey_id: int,
    filters: Filters,
    last_id: int,
    after_id: int = 0,
    reads: Session | None = None,
) -> int:
    """Stored responses with after_id < id <= last_id in the filters' time bounds and
    review statuses (choices aside): if it moves under a scan that read up to last_id,
    responses came in late below it, went, or were excluded or let back in by review,
    and the scan no longer adds up."""
    return int(
        _on(reads).scalar(
            sa.select(sa.func.count())
            .select_from(Response)
            .where(*_where(survey_id, filters, after_id), Response.id <= last_id)
        )
        or 0
    )


def newest_id(survey_id: int, reads: Session | None = None) -> int:
    """The highest response id of the survey, 0 when it has none (an index lookup)."""
    return int(
        _on(reads).scalar(
            sa.select(sa.func.max(Response.id)).where(Response.survey_id == survey_id)
        )
        or 0
    )
