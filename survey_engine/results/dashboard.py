"""The analysts' results dashboard: what it counts, and how.

Two sources, one shape. Unfiltered counts of responses, answers and choices come from
the tallies table (a few hundred rows, whatever the number of responses), so they show
in milliseconds. Everything the tallies do not hold (filtered views, statistics of
numbers, the time series, completion by page, matrices, ranks, cross-tabs, free text)
is a pass of pandas over the responses, read chunk by chunk through
`response_chunks`, each chunk reduced to counts before the next is read: the memory
used grows with the number of distinct answers, never with the number of responses.
The counts of a pass are kept with the last response id it read, so the next pass
of the same view reads only the responses stored since (scan_responses).

Everything here returns plain data (numbers, names, labels); the page formats it.
"""

from __future__ import annotations

import math
import unicodedata
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa

from exports.columns import merged_questions
from survey_engine.definition import Definition, Question
from survey_engine.definition.expressions import evaluate, references, truthy
from survey_engine.definition.model import OTHER
from survey_engine.extensions import db
from survey_engine.i18n import message
from survey_engine.localtime import LOCAL_TIME, to_local
from survey_engine.models import Tally
from survey_engine.results.filters import FILTERABLE_TYPES, Filters
from survey_engine.results.responses import (
    NO_FILTERS,
    count_up_to,
    newest_id,
    response_chunks,
)
from survey_engine.results.stats import quantile, wilson_interval

NUMBER_TYPES = ("integer", "decimal", "rating", "nps")
TEXT_TYPES = ("text",)
# Answered by the engine, not by the citizen: they say nothing about reaching a page.
NOT_ASKED = ("note", "calculate", "hidden")
# A whole-number question gets a bar per value when its values span at most this many.
MAX_DISTRIBUTION_SPAN = 20
TEXT_PAGE_SIZE = 50


# -- the survey as the dashboard sees it: every published version merged by name -----


class MergedSurvey:
    """Published versions of one survey read as one: responses to old versions count
    under the same question names. Quacks like a Definition for Filters.from_args."""

    def __init__(self, definitions: Mapping[int, Definition]) -> None:
        # {version id: definition}, newest version first
        self.definitions = dict(definitions)
        self.newest = next(iter(self.definitions.values()))
        self.default_language = self.newest.default_language
        # The export's merge, so the dashboard and the workbook agree on the questions
        # and choices: the newest version's order and choices first, choices only older
        # versions had appended, questions dropped since kept.
        self.questions = merged_questions(list(self.definitions.values()))
        self.by_name: dict[str, Question] = {q.name: q for q in self.questions}
        self.pages = self._merged_pages()
        self.other_fields: dict[str, Question] = {
            q.other_field: q for q in self.questions if q.is_select and q.other}

    def _merged_pages(self) -> list[dict]:
        seen: dict[str, dict] = {}
        for definition in self.definitions.values():
            for page in definition.pages:
                seen.setdefault(page["name"], page)
        return list(seen.values())

    @property
    def version_ids(self) -> tuple[int, ...]:
        return tuple(self.definitions)

    def text(self, value: Any, lang: str) -> str:
        return self.newest.text(value, lang)

    def label(self, question: Question, lang: str) -> str:
        return self.text(question.label, lang) or question.name

    def choice_label(self, choice: dict, lang: str) -> str:
        if choice["name"] == OTHER and choice.get("label") is None:
            return message("other", lang)
        return self.text(choice.get("label"), lang) or choice["name"]

    def choice_labels(self, question: Question, lang: str,
                      extra: Iterable[str] = ()) -> dict[str, str]:
        """{choice: label} in the list's order, then `extra` names (answers no version
        lists any more). Labels two choices share (Phường 1 of Đà Lạt and of Bảo Lộc)
        get the choice's name after them, so a chart never shows the same bar twice."""
        names = question.choice_names() + [n for n in extra if question.choice(n) is None]
        labels = {name: self.choice_label(question.choice(name) or {"name": name}, lang)
                  for name in names}
        seen = Counter(labels.values())
        return {name: f"{label} ({name})" if seen[label] > 1 else label
                for name, label in labels.items()}

    def select_questions(self) -> list[Question]:
        """What filters and cross-tabs take: select_one and select_multiple questions."""
        return [q for q in self.questions if q.type in FILTERABLE_TYPES]

    def text_fields(self) -> dict[str, Question]:
        """Free-text answers a list can show: text questions and 'other' texts."""
        fields = {q.name: q for q in self.questions if q.type in TEXT_TYPES}
        fields.update(self.other_fields)
        return fields

    def definition_for(self, version_id: int) -> Definition:
        return self.definitions.get(version_id, self.newest)


# -- a proportion and its interval -----------------------------------------------------


@dataclass(frozen=True)
class Share:
    """`count` out of `total`, with its 95% Wilson interval: every proportion the page
    shows carries one, because a district with 12 answers is not a district with 12,000."""

    count: int
    total: int

    @property
    def ratio(self) -> float | None:
        return self.count / self.total if self.total else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson_interval(self.count, self.total)


# -- counts from the tallies table -----------------------------------------------------


def tally_counts(survey_id: int) -> Counter[tuple[str, str]]:
    """The tallies summed over versions: ('', '') responses, (q, '') answers to q,
    (q, choice) a choice. One indexed query over a few hundred rows, whatever the
    number of responses."""
    rows = db.session.execute(
        sa.select(Tally.question, Tally.choice, sa.func.sum(Tally.count))
        .where(Tally.survey_id == survey_id)
        .group_by(Tally.question, Tally.choice))
    return Counter({(question, choice): int(count or 0) for question, choice, count in rows})


# -- one pass of pandas over the responses ---------------------------------------------


@dataclass(frozen=True)
class CrossTabSpec:
    row: str
    col: str


@dataclass
class ResponseScan:
    """Everything the dashboard counts from the responses themselves, accumulated chunk
    by chunk (add()); only counters are kept, so a chunk can go once it is counted."""

    survey: MergedSurvey
    crosstab: CrossTabSpec | None = None
    responses: int = 0
    counts: Counter = field(default_factory=Counter)  # tally-shaped, for filtered views
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
    cross_cells: Counter = field(default_factory=Counter)  # (row choice, col choice) -> n
    cross_rows: Counter = field(default_factory=Counter)  # row choice -> respondents
    cross_cols: Counter = field(default_factory=Counter)  # col choice -> respondents
    cross_total: int = 0  # respondents who answered both
    last_id: int = 0  # responses up to this id are counted, those after it not
    seen: int = 0  # count_up_to(last_id) when they were read: see scan_responses

    def copy_for(self, survey: MergedSurvey) -> ResponseScan:
        """A copy to add to: this one may be cached and read by another request."""
        return deepcopy(self, {id(self.survey): survey})

    def add(self, rows: list[Any]) -> None:
        """Count one chunk of rows (id, submission_id, submitted_at, version_id, source,
        answers) from response_chunks."""
        if not rows:
            return
        answers = [row.answers or {} for row in rows]
        frame = pd.DataFrame(answers, index=pd.RangeIndex(len(rows)))
        self.responses += len(rows)
        self.counts[("", "")] += len(rows)
        self._add_times([row.submitted_at for row in rows])
        versions = pd.Series([row.version_id for row in rows], index=frame.index)
        self._add_pages(frame, versions, answers)
        for q in self.survey.questions:
            if q.name in frame:
                column = frame[q.name].dropna()
                if len(column):
                    self._add_question(q, column)
        for name, q in self.survey.other_fields.items():
            if name in frame:
                texts = frame[name].dropna().astype(str).str.strip()
                self.other_texts[q.name] += int((texts != "").sum())
        if self.crosstab is not None:
            self._add_crosstab(frame)

    def _add_times(self, moments: list[datetime]) -> None:
        # SQLite hands back naive UTC, PostgreSQL aware datetimes: utc=True reads both.
        local = pd.to_datetime(pd.Series(moments), utc=True).dt.tz_convert(LOCAL_TIME)
        hours = local.dt.floor("h").dt.tz_localize(None)
        for hour, n in hours.value_counts().items():
            self.hours[hour.to_pydatetime()] += int(n)
        first, last = local.min().to_pydatetime(), local.max().to_pydatetime()
        self.first = first if self.first is None else min(self.first, first)
        self.last = last if self.last is None else max(self.last, last)

    def _add_pages(self, frame: pd.DataFrame, versions: pd.Series,
                   answers: list[dict]) -> None:
        """A page was reached when its skip rule let the respondent see it (stored
        answers are what the rule saw), answered when one of its questions has an
        answer; each response by its own version's pages."""
        for version_id, index in versions.groupby(versions).groups.items():
            definition = self.survey.definition_for(int(version_id))
            part = frame.loc[index]
            for page, questions in definition.pages_with_questions():
                asked = [q.name for q in questions
                         if q.type not in NOT_ASKED and q.name in part]
                if asked:
                    self.page_answered[page["name"]] += int(
                        part[asked].notna().any(axis=1).sum())
                rule = definition.page_relevant.get(page["name"])
                if rule is None:
                    self.reached[page["name"]] += len(part)
                else:
                    self.reached[page["name"]] += _count_true(rule, [answers[i] for i in index])

    def _add_question(self, q: Question, column: pd.Series) -> None:
        name = q.name
        self.counts[(name, "")] += len(column)
        if q.is_select and q.type in FILTERABLE_TYPES:
            # explode() leaves a select_one's text as it is and opens a list.
            for choice, n in column.explode().dropna().value_counts().items():
                self.counts[(name, str(choice))] += int(n)
        elif q.type in NUMBER_TYPES:
            numbers = pd.to_numeric(column, errors="coerce").dropna()
            counter = self.values.setdefault(name, Counter())
            for value, n in numbers.value_counts().items():
                counter[float(value)] += int(n)
        elif q.type == "matrix":
            grid = pd.DataFrame([v for v in column if isinstance(v, dict)])
            cells = self.matrix_cells.setdefault(name, Counter())
            answered = self.matrix_rows.setdefault(name, Counter())
            for row in grid.columns:
                picked = grid[row].dropna()
                answered[row] += len(picked)
                for choice, n in picked.value_counts().items():
                    cells[(row, str(choice))] += int(n)
        elif q.type == "rank":
            order = pd.DataFrame([v for v in column if isinstance(v, list)])
            positions = self.rank_positions.setdefault(name, Counter())
            ranked = self.rank_counts.setdefault(name, Counter())
            first = self.rank_first.setdefault(name, Counter())
            for position in order.columns:
                for choice, n in order[position].dropna().value_counts().items():
                    positions[str(choice)] += (int(position) + 1) * int(n)
                    ranked[str(choice)] += int(n)
                    if position == 0:
                        first[str(choice)] += int(n)
        elif q.type == "date":
            days = column.astype(str)
            low, high = days.min(), days.max()
            seen = self.dates.get(name)
            self.dates[name] = [low, high] if seen is None else [
                min(seen[0], low), max(seen[1], high)]

    def _add_crosstab(self, frame: pd.DataFrame) -> None:
        """Respondents who answered both questions; a select_multiple's respondent
        counts once under each choice they picked."""
        row, col = self.crosstab.row, self.crosstab.col
        if row not in frame or col not in frame:
            return
        both = frame[[row, col]].dropna()
        if both.empty:
            return
        self.cross_total += len(both)
        for choice, n in both[row].explode().dropna().value_counts().items():
            self.cross_rows[str(choice)] += int(n)
        for choice, n in both[col].explode().dropna().value_counts().items():
            self.cross_cols[str(choice)] += int(n)
        pairs = both.explode(row).explode(col).dropna()
        for (r, c), n in pairs.groupby([row, col]).size().items():
            self.cross_cells[(str(r), str(c))] += int(n)


def _count_true(rule: list, answer_sets: list[dict]) -> int:
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


def scan_responses(survey_id: int, survey: MergedSurvey, filters: Filters = NO_FILTERS,
                   crosstab: CrossTabSpec | None = None,
                   previous: ResponseScan | None = None) -> ResponseScan:
    """One pass over the responses the filters keep, a chunk at a time. Given
    `previous`, the same view's scan at an older response count, only the responses
    stored since it are read, into a copy of it: a live campaign's view costs the new
    responses, not all of them."""
    # Ids are handed out in order but committed in any order (two drain workers), so
    # a response can arrive below previous.last_id after the scan read past it; or
    # responses were deleted. Either changes the count up to last_id: start over.
    fresh = previous is None or (
        count_up_to(survey_id, filters, previous.last_id) != previous.seen)
    scan = ResponseScan(survey, crosstab) if fresh else previous.copy_for(survey)
    after = scan.last_id
    # Counted before the rows are read, never after: a late row the read misses is
    # then missing from `seen` too, and shows up as a difference next time.
    last_id = max(newest_id(survey_id), after)
    seen = scan.seen + count_up_to(survey_id, filters, last_id, after)
    for chunk in response_chunks(survey_id, filters, after_id=after):
        scan.add([row for row in chunk if row.id <= last_id])  # later ones: next time
    scan.last_id, scan.seen = last_id, seen
    return scan


# -- statistics of numbers from their frequency table ----------------------------------


@dataclass(frozen=True)
class NumberSummary:
    count: int
    mean: float
    minimum: float
    q1: float
    median: float
    q3: float
    maximum: float


def summarize(values: Counter) -> NumberSummary | None:
    total = sum(values.values())
    if not total:
        return None
    frequencies = sorted(values.items())
    mean = math.fsum(value * count for value, count in frequencies) / total
    return NumberSummary(
        count=total, mean=mean, minimum=frequencies[0][0],
        q1=quantile(frequencies, total, 0.25), median=quantile(frequencies, total, 0.5),
        q3=quantile(frequencies, total, 0.75), maximum=frequencies[-1][0])


# -- what the page shows ---------------------------------------------------------------


@dataclass(frozen=True)
class ChoiceCount:
    name: str
    label: str
    of_answered: Share
    of_all: Share


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


@dataclass(frozen=True)
class QuestionResult:
    name: str
    label: str
    type: str
    kind: str  # choices | numbers | text | matrix | rank | date | count
    answered: Share  # of all respondents
    choices: tuple[ChoiceCount, ...] = ()
    numbers: NumberSummary | None = None
    distribution: tuple[ChoiceCount, ...] = ()  # a bar per value of a scale
    matrix: tuple[MatrixRow, ...] = ()
    rank: tuple[RankItem, ...] = ()
    dates: tuple[str, str] | None = None
    other_texts: int = 0  # 'other (please specify)' texts, listed on their own page


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

    def count(self, row: str, col: str) -> int:
        return self.cells.get((row, col), 0)

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


def build_dashboard(survey: MergedSurvey, scan: ResponseScan, lang: str,
                    all_responses: int, counts: Counter | None = None) -> Dashboard:
    """Put the numbers together: `counts` from the tallies (unfiltered) or, when None,
    the scan's own (filtered); everything else from the scan."""
    from_tallies = counts is not None
    counts = counts if counts is not None else scan.counts
    total = counts.get(("", ""), 0)
    # A hidden or calculated field nobody's answers filled is noise, not a result.
    questions = tuple(_question(survey, q, counts, scan, total, lang)
                      for q in survey.questions
                      if q.type not in NOT_ASKED or counts.get((q.name, "")))
    pages = tuple(
        PageResult(page["name"], survey.text(page.get("title"), lang) or page["name"],
                   Share(scan.reached[page["name"]], scan.responses),
                   Share(scan.page_answered[page["name"]], scan.responses))
        for page in survey.pages)
    return Dashboard(
        responses=total, all_responses=all_responses, from_tallies=from_tallies,
        questions=questions, pages=pages, hours=dict(scan.hours), first=scan.first,
        last=scan.last, crosstab=_crosstab(survey, scan, lang))


def _question(survey: MergedSurvey, q: Question, counts: Counter, scan: ResponseScan,
              total: int, lang: str) -> QuestionResult:
    answered = counts.get((q.name, ""), 0)
    base = {"name": q.name, "label": survey.label(q, lang), "type": q.type,
            "answered": Share(answered, total)}
    if q.type in FILTERABLE_TYPES:
        # A choice that is in the answers but no longer in any version still shows.
        labels = survey.choice_labels(
            q, lang, sorted(c for (name, c) in counts if name == q.name and c))
        choices = tuple(ChoiceCount(name, label, Share(counts.get((q.name, name), 0), answered),
                                    Share(counts.get((q.name, name), 0), total))
                        for name, label in labels.items())
        return QuestionResult(kind="choices", choices=choices,
                              other_texts=scan.other_texts[q.name], **base)
    if q.type in NUMBER_TYPES:
        values = scan.values.get(q.name, Counter())
        return QuestionResult(kind="numbers", numbers=summarize(values),
                              distribution=_distribution(q, values, total), **base)
    if q.type in TEXT_TYPES:
        return QuestionResult(kind="text", **base)
    if q.type == "matrix":
        cells = scan.matrix_cells.get(q.name, Counter())
        rows_answered = scan.matrix_rows.get(q.name, Counter())
        rows = tuple(
            MatrixRow(row["name"], survey.text(row.get("label"), lang) or row["name"],
                      rows_answered[row["name"]],
                      tuple(ChoiceCount(c["name"], survey.choice_label(c, lang),
                                        Share(cells[(row["name"], c["name"])],
                                              rows_answered[row["name"]]),
                                        Share(cells[(row["name"], c["name"])], total))
                            for c in q.choices))
            for row in q.rows)
        return QuestionResult(kind="matrix", matrix=rows, **base)
    if q.type == "rank":
        positions = scan.rank_positions.get(q.name, Counter())
        ranked = scan.rank_counts.get(q.name, Counter())
        first = scan.rank_first.get(q.name, Counter())
        items = [RankItem(c["name"], survey.choice_label(c, lang),
                          positions[c["name"]] / ranked[c["name"]] if ranked[c["name"]]
                          else None, Share(first[c["name"]], answered))
                 for c in q.choices]
        items.sort(key=lambda item: (item.mean_position is None, item.mean_position or 0))
        return QuestionResult(kind="rank", rank=tuple(items), **base)
    if q.type == "date":
        seen = scan.dates.get(q.name)
        return QuestionResult(kind="date", dates=tuple(seen) if seen else None, **base)
    return QuestionResult(kind="count", **base)


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
    return tuple(ChoiceCount(str(p), str(p), Share(values.get(float(p), 0), answered),
                             Share(values.get(float(p), 0), total)) for p in points)


def _crosstab(survey: MergedSurvey, scan: ResponseScan, lang: str) -> CrossTab | None:
    spec = scan.crosstab
    if spec is None:
        return None
    row, col = survey.by_name[spec.row], survey.by_name[spec.col]

    def choices(q: Question, seen: Iterable[str]) -> tuple[tuple[str, str], ...]:
        return tuple(survey.choice_labels(q, lang, sorted(seen)).items())

    return CrossTab(row=row, col=col, row_label=survey.label(row, lang),
                    col_label=survey.label(col, lang),
                    rows=choices(row, scan.cross_rows), cols=choices(col, scan.cross_cols),
                    cells=dict(scan.cross_cells), row_totals=dict(scan.cross_rows),
                    col_totals=dict(scan.cross_cols), total=scan.cross_total)


# -- responses over time ---------------------------------------------------------------


@dataclass(frozen=True)
class TimeSeries:
    unit: str  # hour | day
    points: tuple[tuple[datetime, int], ...]  # every bucket from the first to the last


HOURLY_UP_TO = timedelta(days=3)  # `auto` shows hours over a short span, days beyond


def time_series(hours: Mapping[datetime, int], unit: str = "auto") -> TimeSeries:
    """Responses per local hour or day, empty buckets included (a quiet night shows as
    a gap, not as nothing)."""
    if not hours:
        return TimeSeries("day" if unit == "day" else "hour", ())
    start, end = min(hours), max(hours)
    if unit not in ("hour", "day"):
        unit = "hour" if end - start <= HOURLY_UP_TO else "day"
    if unit == "hour":
        steps = int((end - start) / timedelta(hours=1)) + 1
        buckets = [start + timedelta(hours=i) for i in range(steps)]
        return TimeSeries(unit, tuple((b, hours.get(b, 0)) for b in buckets))
    days: Counter[date] = Counter()
    for hour, n in hours.items():
        days[hour.date()] += n
    first, last = min(days), max(days)
    points = tuple((datetime.combine(first + timedelta(days=i), datetime.min.time()),
                    days.get(first + timedelta(days=i), 0))
                   for i in range((last - first).days + 1))
    return TimeSeries(unit, points)


# -- free-text answers -----------------------------------------------------------------


def fold(text: str) -> str:
    """For searching as people type on a phone: without case and Vietnamese tone marks
    ('dam bao' finds 'Đảm bảo')."""
    decomposed = unicodedata.normalize("NFD", text.casefold())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return bare.replace("đ", "d")


@dataclass(frozen=True)
class TextAnswer:
    response_id: int
    submitted_at: datetime  # local time
    text: str


@dataclass(frozen=True)
class TextPage:
    total: int  # answers that match, over every page
    page: int
    per_page: int
    items: tuple[TextAnswer, ...]  # newest first

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def text_answers(survey_id: int, field_name: str, filters: Filters = NO_FILTERS,
                 query: str = "", page: int = 1,
                 per_page: int = TEXT_PAGE_SIZE) -> TextPage:
    """One page of the answers to a text field that contain `query`, newest first.

    The chunks come oldest first; only the newest page * per_page matches are kept
    as they go, so memory follows the page asked for, not the number of answers."""
    needle = fold(query.strip())
    kept: deque[TextAnswer] = deque(maxlen=page * per_page)
    total = 0
    for chunk in response_chunks(survey_id, filters):
        texts = pd.Series([(row.answers or {}).get(field_name) for row in chunk])
        texts = texts.dropna().astype(str)
        texts = texts[texts.str.strip() != ""]
        if needle:
            texts = texts[texts.map(fold).str.contains(needle, regex=False)]
        total += len(texts)
        for i, text in texts.items():
            row = chunk[i]
            kept.append(TextAnswer(row.id, to_local(row.submitted_at), text))
    newest_first = list(kept)[::-1]
    start = (page - 1) * per_page
    return TextPage(total, page, per_page, tuple(newest_first[start:start + per_page]))
