"""The analysts' results dashboard and the results API: what they show, as plain data
(numbers, names, labels; the page and the JSON format it).

Two sources, one shape. Unfiltered counts of responses, answers and choices come from
the tallies table (a few hundred rows, whatever the number of responses), so they show
in milliseconds. Everything the tallies do not hold (filtered views, statistics of
numbers, the time series, completion by page, matrices, ranks, cross-tabs) comes from
the accumulator (results/accumulator.py), the same counts the workbook is written from.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

import sqlalchemy as sa

from survey_engine.definition.families import (
    DATE,
    GEOPOINT,
    MATRIX,
    NOT_ASKED,
    NUMBER,
    RANK,
    SELECT,
    TEXT,
)
from survey_engine.definition.merged import MergedSurvey
from survey_engine.definition.model import Question
from survey_engine.extensions import db
from survey_engine.figures import NumberSummary, Share, WeightedShare, summarize
from survey_engine.models import Tally
from survey_engine.results.accumulator import Accumulator, counted_questions

# A whole-number question gets a bar per value when its values span at most this many.
MAX_DISTRIBUTION_SPAN = 20


def tally_counts(survey_id: int) -> Counter[tuple[str, str]]:
    """The tallies summed over versions: ('', '') responses, (q, '') answers to q,
    (q, choice) a choice. One indexed query over a few hundred rows, whatever the
    number of responses."""
    rows = db.session.execute(
        sa.select(Tally.question, Tally.choice, sa.func.sum(Tally.count))
        .where(Tally.survey_id == survey_id)
        .group_by(Tally.question, Tally.choice)
    )
    return Counter({(question, choice): int(count or 0) for question, choice, count in rows})


@dataclass(frozen=True)
class ChoiceCount:
    name: str
    label: str
    of_answered: Share
    of_all: Share
    weighted: WeightedShare | None = None  # of answered, when the survey is weighted


@dataclass(frozen=True)
class MatrixRow:
    name: str
    label: str
    answered: int
    cells: tuple[ChoiceCount, ...]  # of_answered: of those who answered this row


@dataclass(frozen=True)
class RankItem:
    name: str
    label: str
    mean_position: float | None  # 1 = ranked first
    first: Share  # ranked first, of those who ranked
    weighted_first: WeightedShare | None = None  # when the survey is weighted


@dataclass(frozen=True)
class QuestionResult:
    name: str
    label: str
    type: str
    kind: str  # choices | numbers | text | matrix | rank | date | place | count
    answered: Share  # of all respondents
    choices: tuple[ChoiceCount, ...] = ()
    numbers: NumberSummary | None = None
    distribution: tuple[ChoiceCount, ...] = ()  # a bar per value of a scale
    matrix: tuple[MatrixRow, ...] = ()
    rank: tuple[RankItem, ...] = ()
    dates: tuple[str, str] | None = None
    box: tuple[float, float, float, float] | None = None  # a geopoint's: S, W, N, E
    other_texts: int = 0  # 'other (please specify)' texts, listed on their own page
    # A roster's row question is counted over the roster's rows (its shares are of
    # rows: a household member's sex); a roster itself tells its rows too.
    roster: str = ""  # the roster a row question is in
    roster_rows: int = 0
    roster_responses: int = 0


@dataclass(frozen=True)
class PageResult:
    name: str
    title: str
    reached: Share
    answered: Share


@dataclass(frozen=True)
class CrossTab:
    row: Question
    col: Question
    row_label: str
    col_label: str
    rows: tuple[tuple[str, str], ...]  # (choice, label)
    cols: tuple[tuple[str, str], ...]
    cells: Mapping[tuple[str, str], int]
    row_totals: Mapping[str, int]
    col_totals: Mapping[str, int]
    total: int
    # When the survey is weighted: the accumulator's cross_weighted and its squares.
    weighted: Mapping[tuple[str, str], float] | None = None
    weighted_squares: Mapping[tuple[str, str], float] | None = None

    def count(self, row: str, col: str) -> int:
        return self.cells.get((row, col), 0)

    def weighted_row_share(self, row: str, col: str) -> WeightedShare | None:
        """Of the weight of the respondents in this row, the part in this column."""
        return self._weighted_share((row, col), (row, ""))

    def weighted_col_share(self, row: str, col: str) -> WeightedShare | None:
        return self._weighted_share((row, col), ("", col))

    def _weighted_share(self, cell: tuple[str, str], base: tuple[str, str]) -> WeightedShare | None:
        if self.weighted is None or self.weighted_squares is None:
            return None
        total = self.weighted.get(base, 0.0)
        squares = self.weighted_squares.get(base, 0.0)
        return WeightedShare(
            self.weighted.get(cell, 0.0), total, total * total / squares if squares else 0.0
        )

    def row_share(self, row: str, col: str) -> Share:
        """Of the respondents in this row, the part in this column."""
        return Share(self.count(row, col), self.row_totals.get(row, 0))

    def col_share(self, row: str, col: str) -> Share:
        """Of the respondents in this column, the part in this row."""
        return Share(self.count(row, col), self.col_totals.get(col, 0))


@dataclass(frozen=True)
class Dashboard:
    responses: int  # kept by the filters (all of them when unfiltered)
    all_responses: int  # stored, whatever the filters
    from_tallies: bool  # the counts came from the tallies table
    questions: tuple[QuestionResult, ...]
    pages: tuple[PageResult, ...]
    hours: Mapping[datetime, int]
    first: datetime | None
    last: datetime | None
    crosstab: CrossTab | None
    # When the survey is weighted (and the view counted): the weighting variables and
    # Kish's effective n of all the responses kept.
    weighted_by: tuple[str, ...] = ()
    effective_n: float | None = None


def build_dashboard(
    survey: MergedSurvey,
    acc: Accumulator,
    lang: str,
    all_responses: int,
    counts: Counter | None = None,
) -> Dashboard:
    """Put the numbers together: `counts` from the tallies (unfiltered) or, when None,
    the accumulator's own (filtered); everything else from the accumulator."""
    from_tallies = counts is not None
    counts = counts if counts is not None else acc.counts
    total = counts.get(("", ""), 0)
    # A hidden or calculated field nobody's answers filled is noise, not a result.
    questions = tuple(
        _question(survey, q, counts, acc, total, lang)
        if roster is None
        else _row_question(survey, q, roster, acc, lang)
        for q, roster in counted_questions(survey.questions)
        if q.type not in NOT_ASKED or (counts if roster is None else acc.counts).get((q.name, ""))
    )
    pages = tuple(
        PageResult(
            page["name"],
            survey.text(page.get("title"), lang) or page["name"],
            Share(acc.reached[page["name"]], acc.responses),
            Share(acc.page_answered[page["name"]], acc.responses),
        )
        for page in survey.pages
    )
    return Dashboard(
        responses=total,
        all_responses=all_responses,
        from_tallies=from_tallies,
        questions=questions,
        pages=pages,
        hours=dict(acc.hours),
        first=acc.first,
        last=acc.last,
        crosstab=_crosstab(survey, acc, lang),
        weighted_by=acc.weights.variables if is_weighted(acc) and acc.weights else (),
        effective_n=effective_n(acc, "") if is_weighted(acc) else None,
    )


def is_weighted(acc: Accumulator) -> bool:
    """The view is weighted and has counted responses (not the tallies alone)."""
    return acc.weights is not None and acc.weighted.get(("", ""), 0.0) > 0


def effective_n(acc: Accumulator, question: str) -> float:
    """Kish's effective n of those who answered `question` ('' for every response)."""
    total = acc.weighted.get((question, ""), 0.0)
    squares = acc.weighted_squares.get((question, ""), 0.0)
    return total * total / squares if squares > 0 else 0.0


def weighted_mean(acc: Accumulator, question: str) -> float | None:
    """A number question's mean, each answer counted by its weight: its points'
    weights (the accumulator's (question, value) sums) over their total."""
    total = acc.weighted.get((question, ""), 0.0)
    if not total:
        return None
    return (
        math.fsum(float(c) * w for (q, c), w in acc.weighted.items() if q == question and c) / total
    )


def weighted_share(acc: Accumulator, question: str, choice: str) -> WeightedShare:
    """The weighted share of those who answered `question` that chose `choice`."""
    return WeightedShare(
        acc.weighted.get((question, choice), 0.0),
        acc.weighted.get((question, ""), 0.0),
        effective_n(acc, question),
    )


def _question(
    survey: MergedSurvey, q: Question, counts: Counter, acc: Accumulator, total: int, lang: str
) -> QuestionResult:
    """One question's result: the answered share for all, the rest by its family."""
    answered = counts.get((q.name, ""), 0)
    base = QuestionResult(
        name=q.name,
        label=survey.label(q, lang),
        type=q.type,
        kind="count",
        answered=Share(answered, total),
        roster_rows=acc.rows.get(q.name, 0) if q.is_repeat else 0,
        roster_responses=answered if q.is_repeat else 0,
    )
    for family, result in _FAMILIES:
        if q.type in family:
            return result(base, survey, q, counts, acc, total, lang)
    return base


def _row_question(
    survey: MergedSurvey, q: Question, roster: Question, acc: Accumulator, lang: str
) -> QuestionResult:
    """A roster's row question: counted over the roster's rows, by the accumulator
    (the tallies count responses, not rows)."""
    rows = acc.rows.get(roster.name, 0)
    result = _question(survey, q, acc.counts, acc, rows, lang)
    return replace(
        result,
        roster=roster.name,
        roster_rows=rows,
        roster_responses=acc.counts.get((roster.name, ""), 0),
    )


def _choices(
    base: QuestionResult,
    survey: MergedSurvey,
    q: Question,
    counts: Counter,
    acc: Accumulator,
    total: int,
    lang: str,
) -> QuestionResult:
    answered = base.answered.count
    # A choice that is in the answers but no longer in any version still shows.
    labels = survey.choice_labels(
        q, lang, sorted(c for (name, c) in counts if name == q.name and c)
    )
    weighted = is_weighted(acc)
    choices = tuple(
        ChoiceCount(
            name,
            label,
            Share(counts.get((q.name, name), 0), answered),
            Share(counts.get((q.name, name), 0), total),
            weighted_share(acc, q.name, name) if weighted else None,
        )
        for name, label in labels.items()
    )
    return replace(base, kind="choices", choices=choices, other_texts=acc.other_texts[q.name])


def _numbers(
    base: QuestionResult,
    survey: MergedSurvey,
    q: Question,
    counts: Counter,
    acc: Accumulator,
    total: int,
    lang: str,
) -> QuestionResult:
    values = acc.values.get(q.name, Counter())
    numbers = summarize(values)
    weighted = is_weighted(acc)
    if numbers is not None and weighted:
        numbers = replace(numbers, weighted_mean=weighted_mean(acc, q.name))
    distribution = _distribution(q, values, total)
    if weighted:
        distribution = tuple(
            replace(c, weighted=weighted_share(acc, q.name, c.name)) for c in distribution
        )
    return replace(base, kind="numbers", numbers=numbers, distribution=distribution)


def _text(
    base: QuestionResult,
    survey: MergedSurvey,
    q: Question,
    counts: Counter,
    acc: Accumulator,
    total: int,
    lang: str,
) -> QuestionResult:
    return replace(base, kind="text")


def _matrix(
    base: QuestionResult,
    survey: MergedSurvey,
    q: Question,
    counts: Counter,
    acc: Accumulator,
    total: int,
    lang: str,
) -> QuestionResult:
    cells = acc.matrix_cells.get(q.name, Counter())
    rows_answered = acc.matrix_rows.get(q.name, Counter())
    weighted = is_weighted(acc)
    rows = tuple(
        MatrixRow(
            row["name"],
            survey.text(row.get("label"), lang) or row["name"],
            rows_answered[row["name"]],
            tuple(
                ChoiceCount(
                    c["name"],
                    survey.choice_label(c, lang),
                    Share(cells[(row["name"], c["name"])], rows_answered[row["name"]]),
                    Share(cells[(row["name"], c["name"])], total),
                    weighted_share(acc, f"{q.name}/{row['name']}", c["name"]) if weighted else None,
                )
                for c in q.choices
            ),
        )
        for row in q.rows
    )
    return replace(base, kind="matrix", matrix=rows)


def _rank(
    base: QuestionResult,
    survey: MergedSurvey,
    q: Question,
    counts: Counter,
    acc: Accumulator,
    total: int,
    lang: str,
) -> QuestionResult:
    positions = acc.rank_positions.get(q.name, Counter())
    ranked = acc.rank_counts.get(q.name, Counter())
    first = acc.rank_first.get(q.name, Counter())
    weighted = is_weighted(acc)
    items = [
        RankItem(
            c["name"],
            survey.choice_label(c, lang),
            positions[c["name"]] / ranked[c["name"]] if ranked[c["name"]] else None,
            Share(first[c["name"]], base.answered.count),
            weighted_share(acc, q.name, c["name"]) if weighted else None,
        )
        for c in q.choices
    ]
    items.sort(key=lambda item: (item.mean_position is None, item.mean_position or 0))
    return replace(base, kind="rank", rank=tuple(items))


def _date(
    base: QuestionResult,
    survey: MergedSurvey,
    q: Question,
    counts: Counter,
    acc: Accumulator,
    total: int,
    lang: str,
) -> QuestionResult:
    seen = acc.dates.get(q.name)
    return replace(base, kind="date", dates=(seen[0], seen[1]) if seen else None)


def _place(
    base: QuestionResult,
    survey: MergedSurvey,
    q: Question,
    counts: Counter,
    acc: Accumulator,
    total: int,
    lang: str,
) -> QuestionResult:
    box = acc.places.get(q.name)
    return replace(base, kind="place", box=(box[0], box[1], box[2], box[3]) if box else None)


# A family's result: the bare count (`base`) completed from the question's figures.
_Result = Callable[
    [QuestionResult, MergedSurvey, Question, Counter, Accumulator, int, str], QuestionResult
]
# Each family's result, tried in this order; any other type keeps the bare count.
_FAMILIES: tuple[tuple[frozenset[str], _Result], ...] = (
    (SELECT, _choices),
    (NUMBER, _numbers),
    (TEXT, _text),
    (MATRIX, _matrix),
    (RANK, _rank),
    (DATE, _date),
    (GEOPOINT, _place),
)


def _distribution(q: Question, values: Counter, total: int) -> tuple[ChoiceCount, ...]:
    """A bar per point of a rating or 0–10 scale, or per value of a whole number with
    few values; none for decimals (their statistics say more)."""
    if q.type == "rating":
        points = range(1, int(q.raw.get("scale", 5)) + 1)
    elif q.type == "nps":
        points = range(0, 11)
    elif q.type == "integer" and values and all(float(v).is_integer() for v in values):
        low, high = int(min(values)), int(max(values))
        if high - low > MAX_DISTRIBUTION_SPAN:
            return ()
        points = range(low, high + 1)
    else:
        return ()
    answered = sum(values.values())
    return tuple(
        ChoiceCount(
            str(p),
            str(p),
            Share(values.get(float(p), 0), answered),
            Share(values.get(float(p), 0), total),
        )
        for p in points
    )


def _crosstab(survey: MergedSurvey, acc: Accumulator, lang: str) -> CrossTab | None:
    spec = acc.crosstab
    if spec is None:
        return None
    row, col = survey.by_name[spec.row], survey.by_name[spec.col]

    def choices(q: Question, seen: Iterable[str]) -> tuple[tuple[str, str], ...]:
        return tuple(survey.choice_labels(q, lang, sorted(seen)).items())

    return CrossTab(
        row=row,
        col=col,
        row_label=survey.label(row, lang),
        col_label=survey.label(col, lang),
        rows=choices(row, acc.cross_rows),
        cols=choices(col, acc.cross_cols),
        cells=dict(acc.cross_cells),
        row_totals=dict(acc.cross_rows),
        col_totals=dict(acc.cross_cols),
        total=acc.cross_total,
        weighted=dict(acc.cross_weighted) if is_weighted(acc) else None,
        weighted_squares=dict(acc.cross_weighted_squares) if is_weighted(acc) else None,
    )
