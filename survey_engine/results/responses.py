"""Reading one survey's responses in chunks, the filters applied: the one path by
which the dashboard's pandas views and the exports read responses, so neither ever
holds them all in memory."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from survey_engine.extensions import db
from survey_engine.models import Response
from survey_engine.results.filters import Filters

CHUNK_SIZE = 5000


NO_FILTERS = Filters()


def response_chunks(survey_id: int, filters: Filters = NO_FILTERS,
                    chunk_size: int = CHUNK_SIZE) -> Iterator[list[Any]]:
    """Rows (id, submission_id, submitted_at, version_id, source, answers) in id order."""
    statement = (
        sa.select(Response.id, Response.submission_id, Response.submitted_at,
                  Response.version_id, Response.source, Response.answers)
        .where(Response.survey_id == survey_id)
        .order_by(Response.id)
        .execution_options(yield_per=chunk_size)
    )
    start, end = filters.time_bounds()
    if start is not None:
        statement = statement.where(Response.submitted_at >= start)
    if end is not None:
        statement = statement.where(Response.submitted_at < end)
    for part in db.session.execute(statement).partitions():
        if filters.choices:
            part = [row for row in part if filters.keeps(row.answers or {})]
        if part:
            yield part
