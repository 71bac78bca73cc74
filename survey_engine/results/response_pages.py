"""The data API's responses: pages of one survey's stored responses after a cursor, the
dashboard's filters applied, as JSON rows or as the CSV export's rows.

Paging is by response id: a page holds the rows with id above the cursor, in id order.
For every response to come exactly once even while the workers store more, a request
reads only up to a settled horizon (`settled_horizon`): an id below which nothing can
still appear. On PostgreSQL an id is taken when a row is inserted, and the transaction
that took it may commit after another that took a higher one; a page that went past
the higher one would skip the lower for good. So the horizon is the highest id visible
now, and it is used once every transaction that was writing at that moment has ended.
SQLite writes one transaction at a time: its ids are committed in order.

What a response is in the API is said once, in RESPONSE_FIELDS: the JSON rows, the
OpenAPI schema (api/openapi.py) and the docs follow it. A new field (a weight, say)
is one entry there and one line in `response_json`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from exports.columns import TRAIL_COLUMNS
from survey_engine.localtime import aware
from survey_engine.models import ResponseStatus
from survey_engine.results.filters import Filters
from survey_engine.results.responses import newest_id, response_chunks
from survey_engine.results.weights import CellWeights

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000  # rows of one JSON page
MAX_SCAN_ROWS = 20_000  # stored rows one page reads at most; fewer kept: see `Page.next_after`
SETTLE_SECONDS = 5.0  # how long a request waits for the writers of lower ids to finish
SETTLE_POLL_SECONDS = 0.02

# name -> (JSON Schema of the value, what it is). The one list of a response's fields.
RESPONSE_FIELDS: dict[str, tuple[dict[str, Any], str]] = {
    "id": ({"type": "integer", "minimum": 1}, "the response's id: the order of the pages"),
    "submission_id": (
        {"type": "string", "format": "uuid"},
        "the id the client made for the submission",
    ),
    "submitted_at": (
        {"type": "string", "format": "date-time"},
        "when it was stored, UTC, ISO 8601",
    ),
    "version": ({"type": "integer"}, "the number of the published version it answered"),
    "source": ({"type": "string"}, "web (the questionnaire page), api, or import"),
    "status": (
        {"type": "string", "enum": ["unreviewed", "accepted", "flagged", "excluded"]},
        "its review status",
    ),
    "flags": (
        {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"flag": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
        "the quality flags and their reasons",
    ),
    "unit": ({"type": ["string", "null"]}, "the access code's unit (closed mode), else null"),
    "answers": (
        {"type": "object"},
        "answers by question name: a choice's name, a list of names, text, a number; "
        "a file question's answer is the staff download's URL (docs/uploads.md)",
    ),
    "weight": (
        {"type": ["number", "null"]},
        "its raking weight when the survey is weighted (mean 1), else null; null too for "
        "a response excluded in review",
    ),
}


class CursorError(ValueError):
    """A cursor or limit the API cannot page by."""


class NotSettled(RuntimeError):
    """Writers of lower ids were still at work after SETTLE_SECONDS: ask again."""


@dataclass(frozen=True)
class Page:
    rows: list[Any]  # as response_chunks gives them, with the trail columns
    # The id the next page starts after: the last row read, or the horizon when the
    # scan reached it (then `more` is False: ask again later for newer responses).
    next_after: int
    # Whether more responses may be waiting now. A page may hold fewer rows than its
    # limit and still have more (filters that keep few rows end a page after
    # MAX_SCAN_ROWS rows read); only `more` False means caught up.
    more: bool


def read_limit(text: str | None) -> int:
    """?limit=: 1 to MAX_LIMIT, DEFAULT_LIMIT when absent."""
    if text is None or text == "":
        return DEFAULT_LIMIT
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_LIMIT:
        raise CursorError(f"limit: a whole number from 1 to {MAX_LIMIT}")
    return int(text)


def settled_horizon(survey_id: int, reads: Session) -> int:
    """The highest response id of the survey below which no row can still appear.

    Raises NotSettled when a transaction writing at the time has not ended within
    SETTLE_SECONDS (the page is refused rather than risk skipping a row)."""
    horizon = newest_id(survey_id, reads)
    if reads.get_bind().dialect.name != "postgresql":
        return horizon
    # Taken after the horizon: every transaction that may hold an id at or below it
    # was running (or done) then. pg_current_snapshot works on a hot standby too.
    snapshot = reads.scalar(sa.text("SELECT pg_current_snapshot()::text"))
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        running = reads.scalar(
            sa.text(
                "SELECT count(*) FROM pg_snapshot_xip(CAST(:s AS pg_snapshot)) AS x"
                " WHERE x IN (SELECT pg_snapshot_xip(pg_current_snapshot()))"
            ),
            {"s": snapshot},
        )
        reads.commit()  # end the read transaction: the next statement sees newer commits
        if not running:
            return horizon
        if time.monotonic() >= deadline:
            raise NotSettled("responses are being stored; ask again in a moment")
        time.sleep(SETTLE_POLL_SECONDS)


def page_of(survey_id: int, filters: Filters, after_id: int, limit: int, reads: Session) -> Page:
    """Up to `limit` responses the filters keep with after_id < id <= the horizon,
    reading at most MAX_SCAN_ROWS stored rows (choice filters are applied in Python)."""
    horizon = settled_horizon(survey_id, reads)
    unfiltered = Filters(since=filters.since, until=filters.until, include=filters.include)
    rows: list[Any] = []
    read = 0
    chunk = min(max(limit + 1, 100), 5000)
    for part in response_chunks(
        survey_id, unfiltered, chunk, after_id=after_id, extra=TRAIL_COLUMNS, reads=reads
    ):
        for row in part:
            if row.id > horizon:
                return Page(rows, max(after_id, horizon), False)
            read += 1
            if not filters.choices or filters.keeps(row.answers or {}):
                rows.append(row)
            if len(rows) == limit or read == MAX_SCAN_ROWS:
                return Page(rows, row.id, row.id < horizon)
    return Page(rows, max(after_id, horizon), False)


def response_json(
    row: Any,
    version_numbers: dict[int, int],
    weights: CellWeights | None = None,
    upload_links: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One response as the API's JSON (RESPONSE_FIELDS). `upload_links`: each file
    question's link with "{token}" to fill (exporting.survey_file.upload_link), so
    its answer is the file's staff URL, as in the exports, not a bare token."""
    answers = row.answers or {}
    if upload_links:
        answers = {
            name: upload_links[name].format(token=value)
            if name in upload_links and isinstance(value, str)
            else value
            for name, value in answers.items()
        }
    return {
        "id": row.id,
        "submission_id": str(row.submission_id),
        "submitted_at": aware(row.submitted_at).isoformat(),
        "version": version_numbers.get(row.version_id, row.version_id),
        "source": row.source,
        "status": row.status,
        "flags": list(row.flags or []),
        "unit": row.unit,
        "answers": answers,  # made printable by response_chunks
        "weight": None
        if weights is None or row.status == ResponseStatus.EXCLUDED
        else weights.weight_of(row.answers or {}),
    }


def csv_chunks(
    survey_id: int, filters: Filters, after_id: int, horizon: int, reads: Session
) -> Iterator[list[Any]]:
    """Every response the filters keep with after_id < id <= horizon, in chunks, for
    the CSV writer (the export's own reader, stopped at the horizon)."""
    for part in response_chunks(
        survey_id, filters, after_id=after_id, extra=TRAIL_COLUMNS, reads=reads
    ):
        kept = [row for row in part if row.id <= horizon]
        if kept:
            yield kept
        if part[-1].id > horizon:
            return
