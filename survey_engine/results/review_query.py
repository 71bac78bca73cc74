"""Which responses staff review: the review page's filters (flag, unit, time, status)
as database conditions, a page of them, and how many responses a view of the results
leaves out and why (the workbook's about sheet).

The flag filter reads the JSON list of flags in the database itself (PostgreSQL's
jsonb containment, SQLite's json_each), so a page or a bulk action never loads the
flags of every response into Python.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from survey_engine.extensions import db
from survey_engine.models import Response, ResponseStatus
from survey_engine.results.filters import Filters

# The quality checks' flags (COMMON.md "Quality flags"); any other name in the data
# still shows on a response, and can be filtered by from a link.
FLAG_NAMES = (
    "speeder",
    "straight_lining",
    "duplicate",
    "burst",
    "attention",
    "over_limit",
    "no_device",
)
ANY = ""  # a filter left open


@dataclass(frozen=True)
class ReviewQuery:
    """The review page's filters; the default lists the flagged responses."""

    status: str = ResponseStatus.FLAGGED  # one of ResponseStatus.ALL, or ANY
    flag: str = ANY
    unit: str = ANY
    since: date | None = None  # Vietnam days, as the results' filters
    until: date | None = None

    def to_args(self) -> list[tuple[str, str]]:
        """The query string that gives this query back (links, the bulk form)."""
        pairs = [("status", self.status or "any")]
        if self.flag:
            pairs.append(("flag", self.flag))
        if self.unit:
            pairs.append(("unit", self.unit))
        if self.since:
            pairs.append(("from", self.since.isoformat()))
        if self.until:
            pairs.append(("to", self.until.isoformat()))
        return pairs

    def conditions(self, survey_id: int) -> list[sa.ColumnElement[bool]]:
        where: list[sa.ColumnElement[bool]] = [Response.survey_id == survey_id]
        if self.status:
            where.append(Response.status == self.status)
        if self.unit:
            where.append(Response.unit == self.unit)
        if self.flag:
            where.append(has_flag(self.flag))
        start, end = Filters(since=self.since, until=self.until).time_bounds()
        if start is not None:
            where.append(Response.submitted_at >= start)
        if end is not None:
            where.append(Response.submitted_at < end)
        return where


def has_flag(name: str) -> sa.ColumnElement[bool]:
    """Whether a response's flags name `name`, in the database's own JSON."""
    if db.session.get_bind().dialect.name == "postgresql":
        return sa.type_coerce(Response.flags, JSONB).contains([{"flag": name}])
    each = sa.func.json_each(Response.flags).table_valued("value")
    return sa.exists(
        sa.select(sa.literal(1))
        .select_from(each)
        .where(sa.func.json_extract(each.c.value, "$.flag") == name)
    )


def count_matching(survey_id: int, query: ReviewQuery) -> int:
    return int(
        db.session.scalar(
            sa.select(sa.func.count()).select_from(Response).where(*query.conditions(survey_id))
        )
        or 0
    )


def page_of(survey_id: int, query: ReviewQuery, page: int, per_page: int) -> list[Response]:
    """One page of the matching responses, the newest first."""
    return list(
        db.session.scalars(
            sa.select(Response)
            .where(*query.conditions(survey_id))
            .order_by(Response.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
    )


def units_of(survey_id: int, limit: int = 500) -> list[str]:
    """The units responses came from (closed mode), for the filter's list."""
    return list(
        db.session.scalars(
            sa.select(Response.unit)
            .where(Response.survey_id == survey_id, Response.unit.is_not(None))
            .distinct()
            .order_by(Response.unit)
            .limit(limit)
        )
    )


def status_counts(survey_id: int) -> Counter[str]:
    """Responses by review status (a scan of the survey's rows: staff pages only)."""
    rows = db.session.execute(
        sa.select(Response.status, sa.func.count())
        .where(Response.survey_id == survey_id)
        .group_by(Response.status)
    )
    return Counter({status: int(n) for status, n in rows})


@dataclass(frozen=True)
class LeftOut:
    """What a view of the results does not count: by status, and by flag among them."""

    by_status: dict[str, int]
    by_flag: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


def left_out(survey_id: int, filters: Filters, reads: Session | None = None) -> LeftOut:
    """The responses the view's review statuses leave out (other filters aside), read
    with `reads` (an export's scan) or the primary's session."""
    outside = [s for s in ResponseStatus.ALL if s not in filters.statuses]
    by_status = {s: 0 for s in outside}
    by_flag: Counter[str] = Counter()
    if outside:
        rows = (db.session() if reads is None else reads).execute(
            sa.select(Response.status, Response.flags)
            .where(Response.survey_id == survey_id, Response.status.in_(outside))
            .execution_options(yield_per=5000)
        )
        for status, flags in rows:
            by_status[status] += 1
            by_flag.update({flag_name(f) for f in flags or []})
    return LeftOut(by_status, dict(sorted(by_flag.items())))


def flag_name(flag: Any) -> str:
    """A stored flag's name ({"flag": name, "reason": text}; a bare name too)."""
    return str(flag.get("flag", "")) if isinstance(flag, dict) else str(flag)
