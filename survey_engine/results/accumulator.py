"""The one response accumulator: what the dashboard, the results API and the workbook
count from the responses themselves, fed a chunk at a time.

Only counters are kept (ints, datetimes, Counters and dicts of Counters), so a chunk
can go once it is counted and the memory used grows with the number of distinct
answers, never with the number of responses; the state can be saved and continued.
The counts of a pass are kept with the last response id it read, so the next pass of
the same view reads only the responses stored since (accumulate()).

Plain Python, not pandas: a column at a time, one Counter update per column and chunk
(a breakdown's (choice, answer) pairs counted by Counter itself). On 75,000 demo
responses in memory (benchmarks/accumulator.py) it counts what the dashboard shows in
about 0.53 s, where the pandas scan it replaces took 0.6 s, and the workbook's sheets
with a breakdown in 0.47 s, as the plain counter the workbook had did; building the
DataFrames was most of pandas' time. The workbook asks for its own counts only
(views=False).

What counts, in every output alike: an answer is given when it is not None (as in
the tallies table); the choices of an answer are its list's items, or the answer
itself (an older version may have had a select_one where there is now a
select_multiple); a number is what families.number_of reads.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from survey_engine.definition.expressions import evaluate, references, truthy
from survey_engine.definition.families import (
    DATE,
    GEOPOINT,
    MATRIX,
    NOT_ASKED,
    NUMBER,
    RANK,
    SELECT,
    number_of,
)
from survey_engine.definition.merged import MergedSurvey
from survey_engine.definition.model import Question
from survey_engine.localtime import to_local
from survey_engine.results.filters import Filters
from survey_engine.results.responses import (
    NO_FILTERS,
    count_up_to,
    newest_id,
    response_chunks,
)
from survey_engine.results.weights import CellWeights

NO_ANSWER = ""  # the breakdown "choice" of a response that did not answer it
SHEETS = SELECT | NUMBER | MATRIX  # the families the workbook's sheets show


@dataclass(frozen=True)
class CrossTabSpec:
    """The dashboard's cross-tab: two select questions, rows by columns."""

    row: str
    col: str


def picks(value: Any) -> list[str]:
    """The choices an answer names: a list's items, or the answer itself; none for no
    answer, an empty text or a matrix's dict. Not by the question's type: an older
    version may have had it the other way."""
    if type(value) is str:
        return [value] if value else []
    if value is None or type(value) is dict:
        return []
    if type(value) is list or type(value) is tuple:
        return [v if type(v) is str else str(v) for v in value if v is not None and v != ""]
    return [str(value)]


def _text(value: Any) -> str | None:
    """A choice name as text (None stays None)."""
    return value if type(value) is str or value is None else str(value)


def _all_picks(values: list[Any]) -> list[str]:
    """The choices of every answer in `values`, in one list (one Counter update)."""
    chosen = [v for v in values if type(v) is str and v]
    if len(chosen) < len(values):
        chosen += [c for v in values if type(v) is not str for c in picks(v)]
    return chosen


def series_keys(survey: MergedSurvey) -> list[str]:
    """The workbook's frequency tables: each select question, each matrix row."""
    keys: list[str] = []
    for q in survey.questions:
        if q.type in SELECT:
            keys.append(q.name)
        elif q.type in MATRIX:
            keys += [f"{q.name}/{row['name']}" for row in q.rows]
    return keys


@dataclass
class Accumulator:
    """Counts of the responses added so far (add()); read them after."""

    survey: MergedSurvey = field(repr=False, compare=False)
    crosstab: CrossTabSpec | None = None
    breakdown: str | None = None  # the workbook's cross-tab sheet: a select question
    # Pages, hours, ranks, dates and 'other' texts too: the dashboard shows them, the
    # workbook (False) does not, and is written the faster for not counting them.
    views: bool = True
    # The survey's raking weights (results/weights.py), when it is weighted: then each
    # select question's choices and the breakdown's cells are summed by weight too.
    weights: CellWeights | None = field(default=None, repr=False, compare=False)
    responses: int = 0
    # ('', '') responses, (q, '') answered q, (q, choice) chose it: the tallies' shape
    counts: Counter = field(default_factory=Counter)
    values: dict[str, Counter] = field(default_factory=dict)  # number q -> value -> n
    hours: Counter = field(default_factory=Counter)  # local hour start -> responses
    first: datetime | None = None  # earliest and latest submission, local time
    last: datetime | None = None
    reached: Counter = field(default_factory=Counter)  # page -> responses it was shown to
    page_answered: Counter = field(default_factory=Counter)  # page -> with an answer on it
    other_texts: Counter = field(default_factory=Counter)  # select q -> 'other' texts
    matrix_cells: dict[str, Counter] = field(default_factory=dict)  # q -> (row, choice) -> n
    matrix_rows: dict[str, Counter] = field(default_factory=dict)  # q -> row -> answered
    rank_positions: dict[str, Counter] = field(default_factory=dict)  # q -> choice -> sum
    rank_counts: dict[str, Counter] = field(default_factory=dict)  # q -> choice -> ranked
    rank_first: dict[str, Counter] = field(default_factory=dict)  # q -> choice -> first
    dates: dict[str, list[str]] = field(default_factory=dict)  # q -> [earliest, latest]
    # geopoint q -> [south, west, north, east]: the box around every point answered
    places: dict[str, list[float]] = field(default_factory=dict)
    cross_cells: Counter = field(default_factory=Counter)  # (row choice, col choice) -> n
    cross_rows: Counter = field(default_factory=Counter)  # row choice -> respondents
    cross_cols: Counter = field(default_factory=Counter)  # col choice -> respondents
    cross_total: int = 0  # respondents who answered both
    # With weights: the cross-tab's cells (row, col), its rows' (row, '') and columns'
    # ('', col) sums of weights, and their squares (rows and columns only).
    cross_weighted: dict[tuple[str, str], float] = field(default_factory=dict)
    cross_weighted_squares: dict[tuple[str, str], float] = field(default_factory=dict)
    by_breakdown: Counter = field(default_factory=Counter)  # breakdown choice -> responses
    # series key -> (breakdown choice, choice) -> n, and -> breakdown choice -> answered
    breakdown_cells: dict[str, Counter] = field(default_factory=dict)
    breakdown_answered: dict[str, Counter] = field(default_factory=dict)
    # With weights: as counts (select questions and ('', '')), each response counted
    # by its weight; the squares of the weights of those who answered ((q, '') and
    # ('', '')), for Kish's effective n; the breakdown's cells by weight.
    weighted: dict[tuple[str, str], float] = field(default_factory=dict)
    weighted_squares: dict[tuple[str, str], float] = field(default_factory=dict)
    weighted_breakdown: dict[str, dict[tuple[str, str], float]] = field(default_factory=dict)
    # series key -> breakdown choice -> the squares of the weights of those who answered
    weighted_breakdown_squares: dict[str, dict[str, float]] = field(default_factory=dict)
    # roster -> its rows counted: a roster's row questions are counted over its rows
    # (a household member's sex: shares of the members), under their own names
    rows: Counter = field(default_factory=Counter)
    last_id: int = 0  # responses up to this id are counted, those after it not
    seen: int = 0  # count_up_to(last_id) when they were read: see accumulate()

    def copy_for(self, survey: MergedSurvey) -> Accumulator:
        """A copy to add to, attached to `survey`: this one may be cached and read by
        another request."""
        return deepcopy(self, {id(self.survey): survey})

    def add(self, rows: list[Any]) -> None:
        """Count one chunk of rows (id, submission_id, submitted_at, version_id, source,
        answers) from response_chunks."""
        if not rows:
            return
        answers = [row.answers or {} for row in rows]
        self.responses += len(rows)
        self.counts[("", "")] += len(rows)
        if self.views:
            self._add_times([row.submitted_at for row in rows])
            self._add_pages([row.version_id for row in rows], answers)
        columns: dict[str, list[Any]] = {}  # kept for the breakdown's pass
        for q in self.survey.questions:
            name = q.name
            column = columns[name] = [a.get(name) for a in answers]
            given = [v for v in column if v is not None]
            if given:
                self.counts[(q.name, "")] += len(given)
                if self.views or q.type in SHEETS:
                    self._add_question(q, given)
                if q.is_repeat:
                    self._add_roster(q, given)
        for name, q in self.survey.other_fields.items() if self.views else ():
            self.other_texts[q.name] += sum(
                1 for a in answers if a.get(name) is not None and str(a[name]).strip()
            )
        if self.crosstab is not None:
            self._add_crosstab(answers)
        if self.breakdown is not None:
            self._add_breakdown(answers, columns)
        if self.weights is not None:
            self._add_weighted(answers, columns)

    def _add_roster(self, q: Question, given: list[Any]) -> None:
        """A roster's rows, and its row questions' answers over every row."""
        lines = roster_lines(given)
        self.rows[q.name] += len(lines)
        for asked in q.questions:
            values = [v for line in lines if (v := line.get(asked.name)) is not None]
            if values:
                self.counts[(asked.name, "")] += len(values)
                if self.views or asked.type in SHEETS:
                    self._add_question(asked, values)

    def _add_weighted(self, answers: list[dict], columns: dict[str, list[Any]]) -> None:
        """The shares' counts again, each response counted by its weight: select
        questions, matrix rows, the points of a number (its distribution and its mean),
        a ranking's first place, and the breakdown's cells. A response's weight is its
        cell's, so the responses are counted per (cell, answer) first, in C, and each
        distinct pair weighed once."""
        weights = self.weights
        assert weights is not None
        # The answers to the weighting variables as they are (map: no Python per row),
        # each distinct combination made a cell once.
        variables = weights.variables
        cells = [tuple(map(a.get, variables)) for a in answers]
        try:
            distinct = set(cells)
        except TypeError:  # a list where an older version had a select_multiple
            cells = [tuple(map(_frozen, cell)) for cell in cells]
            distinct = set(cells)
        weight = {
            cell: weights.weight_of(dict(zip(variables, cell, strict=True))) for cell in distinct
        }
        per_cell = Counter(cells)
        _add(self.weighted, ("", ""), math.fsum(weight[c] * n for c, n in per_cell.items()))
        _add(
            self.weighted_squares,
            ("", ""),
            math.fsum(weight[c] ** 2 * n for c, n in per_cell.items()),
        )
        row_columns: dict[str, list[Any]] = {}  # matrix row -> its answers, made once
        for q in self.survey.questions:
            column = columns[q.name]
            if q.type in SELECT:
                self._weigh(q.name, cells, column, weight, picks)
            elif q.type in MATRIX:
                for row in q.rows:
                    key = f"{q.name}/{row['name']}"
                    row_columns[key] = _series_column(key, answers)
                    self._weigh(key, cells, row_columns[key], weight, picks)
            elif q.type in NUMBER:
                self._weigh(q.name, cells, column, weight, _point)
            elif q.type in RANK and self.views:
                self._weigh(q.name, cells, column, weight, _first_ranked)
            elif q.is_repeat:  # each row weighs its response's weight
                pairs = [
                    (cell, line)
                    for cell, rows in zip(cells, column, strict=True)
                    for line in roster_lines([rows])
                ]
                row_cells = [cell for cell, _ in pairs]
                for asked in q.questions:
                    values = [line.get(asked.name) for _, line in pairs]
                    if asked.type in SELECT:
                        self._weigh(asked.name, row_cells, values, weight, picks)
                    elif asked.type in NUMBER:
                        self._weigh(asked.name, row_cells, values, weight, _point)
        if self.breakdown is None:
            return
        where = [_frozen(b) for b in columns[self.breakdown]]
        places = list(zip(cells, where, strict=True))
        for key in series_keys(self.survey):
            if key == self.breakdown:
                continue
            sums = self.weighted_breakdown.setdefault(key, {})
            squares = self.weighted_breakdown_squares.setdefault(key, {})
            column = row_columns[key] if "/" in key else columns[key]
            for ((cell, b), value), n in _pairs(places, column).items():
                if value is None:
                    continue
                w = weight[cell] * n
                for place in picks(b) or [NO_ANSWER]:
                    _add(sums, (place, ""), w)
                    squares[place] = squares.get(place, 0.0) + weight[cell] * w
                    for c in picks(value):
                        _add(sums, (place, c), w)

    def _weigh(
        self,
        key: str,
        cells: list[tuple],
        column: list[Any],
        weight: dict[tuple, float],
        choices_of: Callable[[Any], list[str] | None],
    ) -> None:
        """Sum the weights of those who answered `key` into (key, '') and of those
        who chose each choice choices_of(answer) names into (key, choice); an answer
        it refuses (None), such as a text in a number, is not counted."""
        total = squares = 0.0
        for (cell, value), n in _pairs(cells, column).items():
            chosen = None if value is None else choices_of(value)
            if chosen is None:
                continue
            w = weight[cell]
            total += w * n
            squares += w * w * n
            for c in chosen:
                _add(self.weighted, (key, c), w * n)
        if total:
            _add(self.weighted, (key, ""), total)
            _add(self.weighted_squares, (key, ""), squares)

    def _add_times(self, moments: list[datetime]) -> None:
        # Hours are floored as stored (UTC, naive on SQLite), then each distinct hour
        # made local once: Vietnam is a whole number of hours ahead of UTC.
        for hour, n in Counter(
            m.replace(minute=0, second=0, microsecond=0) for m in moments
        ).items():
            self.hours[to_local(hour).replace(tzinfo=None)] += n
        first, last = to_local(min(moments)), to_local(max(moments))
        self.first = first if self.first is None else min(self.first, first)
        self.last = last if self.last is None else max(self.last, last)

    def _add_pages(self, versions: list[int], answers: list[dict]) -> None:
        """A page was reached when its skip rule let the respondent see it (stored
        answers are what the rule saw), answered when one of its questions has an
        answer; each response by its own version's pages."""
        by_version: dict[int, list[dict]] = {}
        for version_id, given in zip(versions, answers, strict=True):
            by_version.setdefault(version_id, []).append(given)
        for version_id, part in by_version.items():
            definition = self.survey.definition_for(version_id)
            # The keys of the answers given (stored answers rarely hold a None).
            present = [
                a if None not in a.values() else {k: v for k, v in a.items() if v is not None}
                for a in part
            ]
            for page, questions in definition.pages_with_questions():
                name = page["name"]
                asked = {q.name for q in questions if q.type not in NOT_ASKED}
                if asked:
                    self.page_answered[name] += sum(1 for a in present if not asked.isdisjoint(a))
                rule = definition.page_relevant.get(name)
                self.reached[name] += len(part) if rule is None else _count_true(rule, part)

    def _add_question(self, q: Question, given: list[Any]) -> None:
        name = q.name
        if q.type in SELECT:
            self.counts.update((name, c) for c in _all_picks(given))
        elif q.type in NUMBER:
            numbers = (number_of(value) for value in given)
            self.values.setdefault(name, Counter()).update(
                number for number in numbers if number is not None
            )
        elif q.type in MATRIX:
            cells = self.matrix_cells.setdefault(name, Counter())
            answered = self.matrix_rows.setdefault(name, Counter())
            grids = [grid for grid in given if type(grid) is dict]
            for row in set().union(*grids):
                column = [v for grid in grids if (v := grid.get(row)) is not None]
                answered[row] += len(column)
                cells.update((row, c) for c in _all_picks(column))
        elif q.type in RANK:
            self._add_rank(name, given)
        elif q.type in DATE:
            days = [str(value) for value in given]
            low, high = min(days), max(days)
            seen = self.dates.get(name)
            self.dates[name] = (
                [low, high] if seen is None else [min(seen[0], low), max(seen[1], high)]
            )
        elif q.type in GEOPOINT:
            self._add_places(name, given)

    def _add_places(self, name: str, given: list[Any]) -> None:
        """Widen the question's bounding box by the points given (anything else that an
        older version stored is skipped)."""
        points = [
            (p["lat"], p["lon"])
            for p in given
            if type(p) is dict
            and number_of(p.get("lat")) is not None
            and number_of(p.get("lon")) is not None
        ]
        if not points:
            return
        lats, lons = [float(p[0]) for p in points], [float(p[1]) for p in points]
        box = [min(lats), min(lons), max(lats), max(lons)]
        seen = self.places.get(name)
        self.places[name] = (
            box
            if seen is None
            else [
                min(seen[0], box[0]),
                min(seen[1], box[1]),
                max(seen[2], box[2]),
                max(seen[3], box[3]),
            ]
        )

    def _add_rank(self, name: str, given: list[Any]) -> None:
        positions = self.rank_positions.setdefault(name, Counter())
        ranked = self.rank_counts.setdefault(name, Counter())
        first = self.rank_first.setdefault(name, Counter())
        places = Counter(
            (position, choice)
            for order in given
            if type(order) is list
            for position, choice in enumerate(map(_text, order))
            if choice is not None
        )
        for (position, choice), n in places.items():
            positions[str(choice)] += (position + 1) * n
            ranked[str(choice)] += n
            if position == 0:
                first[str(choice)] += n

    def _add_crosstab(self, answers: list[dict]) -> None:
        """Respondents who answered both questions; a select_multiple's respondent
        counts once under each choice they picked."""
        if self.crosstab is None:
            return
        row, col = self.crosstab.row, self.crosstab.col
        weights = self.weights
        weight_of_cell: dict[tuple, float] = {}
        for a in answers:
            r, c = a.get(row), a.get(col)
            if r is None or c is None:
                continue
            self.cross_total += 1
            rows, cols = picks(r), picks(c)
            self.cross_rows.update(rows)
            self.cross_cols.update(cols)
            self.cross_cells.update((x, y) for x in rows for y in cols)
            if weights is None:
                continue
            cell = weights.cell_of(a)
            w = weight_of_cell.get(cell)
            if w is None:
                w = weight_of_cell[cell] = weights.weight_of_cell(cell)
            sums, squares = self.cross_weighted, self.cross_weighted_squares
            for key in [(x, "") for x in rows] + [("", y) for y in cols]:
                _add(sums, key, w)
                _add(squares, key, w * w)
            for x in rows:
                for y in cols:
                    _add(sums, (x, y), w)

    def _add_breakdown(self, answers: list[dict], columns: dict[str, list[Any]]) -> None:
        """The workbook's cross-tab sheet: every select question and matrix row by the
        breakdown's choices, NO_ANSWER for responses that skipped it."""
        breakdown = self.breakdown
        if breakdown is None:
            return
        where = columns[breakdown]
        single = all(type(b) is str or b is None for b in where)
        if single:  # the usual breakdown, a select_one: (where, answer) pairs counted in C
            where = [NO_ANSWER if b is None else b for b in where]
            self.by_breakdown.update(where)
            parts = None
        else:
            parts = _parts(breakdown, answers)
            for b, part in parts.items():
                self.by_breakdown[b] += len(part)
        for key in series_keys(self.survey):
            if key == breakdown:
                continue
            cells = self.breakdown_cells.setdefault(key, Counter())
            answered = self.breakdown_answered.setdefault(key, Counter())
            name, _, row = key.partition("/")
            column = (
                columns[name]
                if not row
                else [grid.get(row) if type(grid) is dict else None for grid in columns[name]]
            )
            try:
                pairs = Counter(zip(where, column, strict=True)) if single else None
            except TypeError:  # lists (select_multiple) in the column
                pairs = None
            if pairs is not None:
                for (b, value), n in pairs.items():
                    if value is not None:
                        answered[b] += n
                        cells.update({(b, c): n for c in picks(value)})
                continue
            parts = parts or _parts(breakdown, answers)
            for b, part in parts.items():
                given = [v for v in _series_column(key, part) if v is not None]
                answered[b] += len(given)
                cells.update((b, c) for c in _all_picks(given))


def roster_lines(given: Iterable[Any]) -> list[dict]:
    """The rows of a roster's answers, one list: what its row questions count over."""
    return [line for rows in given if type(rows) is list for line in rows if type(line) is dict]


def counted_questions(questions: Iterable[Question]) -> list[tuple[Question, Question | None]]:
    """Every question the results count, with the roster whose rows it is counted
    over (None: over the responses): a roster's row questions follow it."""
    out: list[tuple[Question, Question | None]] = []
    for q in questions:
        out.append((q, None))
        out += [(asked, q) for asked in q.questions if asked.takes_answer]
    return out


def _pairs(keys: list[Any], column: list[Any]) -> Counter:
    """How often each (key, answer) pair comes, counted in C; a column with lists
    (select_multiple) or dicts in it is made hashable first."""
    try:
        return Counter(zip(keys, column, strict=True))
    except TypeError:
        return Counter(zip(keys, map(_frozen, column), strict=True))


def _frozen(value: Any) -> Any:
    """An answer as a key: a list (select_multiple) as a tuple, which picks() reads
    alike; a matrix's dict is no select answer and counts as none."""
    if type(value) is list:
        return tuple(value)
    return None if type(value) is dict else value


def _point(value: Any) -> list[str] | None:
    """A number's answer as a choice: its value, whole numbers without '.0' (as the
    dashboard's distribution names them)."""
    number = number_of(value)
    if number is None:
        return None
    return [str(int(number)) if number.is_integer() else repr(number)]


def _first_ranked(value: Any) -> list[str] | None:
    """A ranking's first place, the choice its share of first places counts."""
    if type(value) is not tuple or not value:
        return None
    first = _text(value[0])
    return None if first is None else [first]


def _add(sums: dict[tuple[str, str], float], key: tuple[str, str], weight: float) -> None:
    sums[key] = sums.get(key, 0.0) + weight


def _parts(breakdown: str, answers: list[dict]) -> dict[str, list[dict]]:
    """The answer sets by breakdown choice; a response in each choice it names."""
    parts: dict[str, list[dict]] = {}
    for a in answers:
        for b in picks(a.get(breakdown)) or (NO_ANSWER,):
            parts.setdefault(b, []).append(a)
    return parts


def _series_column(key: str, answers: list[dict]) -> list[Any]:
    """A select question's answers, or one matrix row's ("measures/masks")."""
    name, _, row = key.partition("/")
    if not row:
        return [a.get(name) for a in answers]
    grids = (a.get(name) for a in answers)
    return [grid.get(row) if type(grid) is dict else None for grid in grids]


def _count_true(rule: list, answer_sets: Iterable[dict]) -> int:
    """How many answer sets make `rule` true. A rule reads a few answers, which take
    few distinct values: each distinct combination is evaluated once, not each row."""
    names = sorted(references(rule))
    verdicts: dict[tuple, bool] = {}
    true = 0
    for answers in answer_sets:
        key = tuple(_hashable(answers.get(name)) for name in names)
        verdict = verdicts.get(key)
        if verdict is None:
            verdict = verdicts[key] = truthy(evaluate(rule, answers))
        true += verdict
    return true


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value


def accumulate(
    survey_id: int,
    survey: MergedSurvey,
    filters: Filters = NO_FILTERS,
    crosstab: CrossTabSpec | None = None,
    previous: Accumulator | None = None,
    weights: CellWeights | None = None,
) -> Accumulator:
    """One pass over the responses the filters keep, a chunk at a time. Given
    `previous`, the same view's counts at an older response count, only the responses
    stored since it are read, into a copy of it: a live campaign's view costs the new
    responses, not all of them."""
    # Ids are handed out in order but committed in any order (two drain workers), so
    # a response can arrive below previous.last_id after the pass read past it; or
    # responses were deleted. Either changes the count up to last_id: start over.
    fresh = previous is None or (count_up_to(survey_id, filters, previous.last_id) != previous.seen)
    counts = (
        previous.copy_for(survey)
        if previous is not None and not fresh
        else Accumulator(survey, crosstab, weights=weights)
    )
    after = counts.last_id
    # Counted before the rows are read, never after: a late row the read misses is
    # then missing from `seen` too, and shows up as a difference next time.
    last_id = max(newest_id(survey_id), after)
    seen = counts.seen + count_up_to(survey_id, filters, last_id, after)
    for chunk in response_chunks(survey_id, filters, after_id=after):
        counts.add([row for row in chunk if row.id <= last_id])  # later ones: next time
    counts.last_id, counts.seen = last_id, seen
    return counts
