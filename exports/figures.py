"""The figures the summary and cross-tab sheets are written from, handed in by the
export service (survey_engine/exporting) once the responses have streamed by: counts
only, counted elsewhere (survey_engine/results/accumulator.py), so the sheets show
what the dashboard and the results API show."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from survey_engine.definition import Question
from survey_engine.definition.families import MATRIX, SELECT
from survey_engine.figures import NumberSummary, WeightedShare

NO_ANSWER = ""  # the breakdown column of the responses that did not answer it


@dataclass(frozen=True)
class Series:
    """One frequency table: a select question, or one row of a matrix question."""

    key: str  # the responses sheet's column: "district", "measures/masks"
    question: Question
    row: dict | None = None  # the matrix row
    roster: Question | None = None  # a row question's roster: counted over its rows

    @property
    def multiple(self) -> bool:
        return self.question.type == "select_multiple"


def select_series(questions: Iterable[Question]) -> list[Series]:
    """A table per select question and matrix row; a roster's select questions after
    it, counted over its rows."""
    series: list[Series] = []
    for q in questions:
        if q.type in SELECT:
            series.append(Series(q.name, q))
        elif q.type in MATRIX:
            series += [Series(f"{q.name}/{row['name']}", q, row) for row in q.rows]
        elif q.is_repeat:
            series += [Series(a.name, a, roster=q) for a in q.questions if a.type in SELECT]
    return series


@dataclass(frozen=True)
class WorkbookFigures:
    """Per series (its key) the count of each choice and of the respondents who
    answered; the statistics of each number question; with a breakdown, the same
    counts per breakdown choice (NO_ANSWER included)."""

    responses: int
    series: list[Series]
    counts: Mapping[str, Mapping[str, int]]
    answered: Mapping[str, int]
    numbers: list[tuple[Question, NumberSummary | None]]
    # roster -> (its rows, the responses that have rows): what its row questions'
    # tables count over
    rows: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    breakdown: Question | None = None
    by_breakdown: Mapping[str, int] = field(default_factory=dict)
    cross: Mapping[str, Mapping[tuple[str, str], int]] = field(default_factory=dict)
    cross_answered: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    # When the survey is weighted: its variables, Kish's effective n of all responses,
    # and per select series each choice's weighted share of those who answered.
    weighted_by: tuple[str, ...] = ()
    effective_n: float | None = None
    weighted: Mapping[str, Mapping[str, WeightedShare]] = field(default_factory=dict)
    # and by the breakdown: series -> (breakdown choice, choice) -> sum of weights, the
    # choice '' holding the weights of those who answered
    weighted_cross: Mapping[str, Mapping[tuple[str, str], float]] = field(default_factory=dict)

    def crossed_series(self) -> Iterator[Series]:
        """Every series but the breakdown itself, and but a roster's row questions (the
        cross-tab counts responses, not rows)."""
        return (
            s
            for s in self.series
            if s.roster is None and (self.breakdown is None or s.key != self.breakdown.name)
        )

    def base(self, series: Series) -> int:
        """What a table's "% of all" counts over: the responses, or its roster's rows."""
        if series.roster is None:
            return self.responses
        return self.rows.get(series.roster.name, (0, 0))[0]
