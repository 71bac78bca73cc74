"""What an analyst narrows the results to: answers to select questions, a date range
and which reviewed responses count (`include`). The dashboard, its cross-tabs, the
results API and the exports apply the same Filters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from survey_engine import params
from survey_engine.definition import Definition
from survey_engine.definition.families import SELECT
from survey_engine.definition.merged import MergedSurvey
from survey_engine.definition.problems import N_, Refusal
from survey_engine.i18n import message
from survey_engine.localtime import LOCAL_TIME
from survey_engine.models import ResponseStatus

# Which responses a view counts, by review status: the default set (everything but the
# excluded, as the tallies), without the flagged ones, or every stored response.
INCLUDES: dict[str, tuple[str, ...]] = {
    "default": ResponseStatus.COUNTED,
    "unflagged": ResponseStatus.UNFLAGGED,
    "all": ResponseStatus.ALL,
}
DEFAULT_INCLUDE = "default"


class FilterError(Refusal):
    """A filter that names no such question or choice, or a date that is not one (its
    `problem` in English for the API, in the page's language for staff)."""


@dataclass(frozen=True)
class Filters:
    # (question, the choices any of which it must have), in a stable order
    choices: tuple[tuple[str, tuple[str, ...]], ...] = ()
    since: date | None = None  # first day included, in Vietnam time
    until: date | None = None  # last day included, in Vietnam time
    include: str = DEFAULT_INCLUDE  # a key of INCLUDES

    @classmethod
    def from_args(cls, args: Mapping[str, Any], definition: Definition | MergedSurvey) -> Filters:
        """`?f.district=da_lat&f.district=bao_loc&from=2026-11-01&to=2026-11-30&include=all`."""
        getlist = getattr(args, "getlist", lambda key: [args[key]] if key in args else [])
        picked: dict[str, tuple[str, ...]] = {}
        for key in args:
            if not key.startswith("f."):
                continue
            name = key[2:]
            question = definition.by_name.get(name)
            if question is None or question.type not in SELECT:
                raise FilterError(N_("no select question named %(name)s"), name=repr(name))
            values = tuple(sorted({v for v in getlist(key) if v}))
            unknown = set(values) - set(question.choice_names())
            if unknown:
                raise FilterError(
                    N_("%(name)s: no choice %(choice)s"),
                    name=name,
                    choice=repr(sorted(unknown)[0]),
                )
            if values:
                picked[name] = values
        return cls(
            tuple(sorted(picked.items())),
            _day(args.get("from")),
            _day(args.get("to")),
            _include(args.get("include")),
        )

    def to_args(self) -> list[tuple[str, str]]:
        """The query string that gives these filters back (for links and exports)."""
        pairs = [(f"f.{name}", value) for name, values in self.choices for value in values]
        if self.since:
            pairs.append(("from", self.since.isoformat()))
        if self.until:
            pairs.append(("to", self.until.isoformat()))
        if self.include != DEFAULT_INCLUDE:
            pairs.append(("include", self.include))
        return pairs

    def __bool__(self) -> bool:
        """Whether anything narrows or widens the default view (the tallies' set)."""
        return bool(self.choices or self.since or self.until or self.include != DEFAULT_INCLUDE)

    @property
    def statuses(self) -> tuple[str, ...]:
        """The review statuses of the responses this view counts."""
        return INCLUDES[self.include]

    def time_bounds(self) -> tuple[datetime | None, datetime | None]:
        """[start, end) in UTC, for the database to select by submitted_at (SQLite
        compares the stored UTC wall-clock text, so the bounds must be UTC too)."""

        def utc(day: date) -> datetime:
            return datetime.combine(day, time(), LOCAL_TIME).astimezone(UTC)

        return (
            utc(self.since) if self.since else None,
            utc(self.until + timedelta(days=1)) if self.until else None,
        )

    def keeps(self, answers: Mapping[str, Any]) -> bool:
        """Whether a response's answers pass every choice filter."""
        for name, allowed in self.choices:
            value = answers.get(name)
            if isinstance(value, list):
                if not any(v in allowed for v in value):
                    return False
            elif value not in allowed:
                return False
        return True

    def describe(self, definition: Definition | MergedSurvey, lang: str) -> list[str]:
        """In words, for the export's about sheet and the dashboard's heading."""
        lines = []
        for name, values in self.choices:
            question = definition.by_name[name]
            labels = [
                definition.text((question.choice(v) or {}).get("label"), lang) or v for v in values
            ]
            lines.append(f"{definition.text(question.label, lang) or name}: {', '.join(labels)}")
        if self.since or self.until:
            lines.append(f"{self.since or '…'} – {self.until or '…'}")
        if self.include != DEFAULT_INCLUDE:
            lines.append(message(f"include_{self.include}", lang))
        return lines


def _include(text: Any) -> str:
    if not text:
        return DEFAULT_INCLUDE
    if text not in INCLUDES:
        raise FilterError(
            N_("include: one of %(includes)s (%(text)s)"),
            includes=", ".join(INCLUDES),
            text=repr(str(text)[:40]),
        )
    return str(text)


def _day(text: Any) -> date | None:
    """A day of the range: ASCII digits, 1900 to 2100 (year 1 or 9999 would overflow
    when made a UTC bound)."""
    if not text:
        return None
    try:
        return params.day(str(text))
    except params.ParamError as error:
        raise FilterError(
            N_("%(problem)s (%(text)s)"), problem=str(error), text=repr(str(text)[:40])
        ) from error
