"""What the province's quick report shows, as text and drawings made elsewhere: the
export service (survey_engine/exporting/report.py) counts with the accumulator, writes
the figures in words (survey_engine/results/readings.py) and draws the dashboard's SVG
charts; exports/report_pdf.py only lays them out on A4."""

from __future__ import annotations

from dataclasses import dataclass, field

from markupsafe import Markup


@dataclass(frozen=True)
class Table:
    """A small table: the first column names the row (a choice, a district)."""

    head: list[str]
    rows: list[list[str]]
    caption: str = ""
    note: str = ""  # under the table, e.g. "3 less frequent choices left out"


@dataclass(frozen=True)
class QuestionSection:
    name: str
    label: str
    note: str  # the kind of question in words, e.g. "Several answers allowed"
    reading: str  # the one-line plain reading
    chart: Markup | None = None  # the dashboard's SVG (survey text escaped in it)
    tables: list[Table] = field(default_factory=list)


@dataclass(frozen=True)
class Cover:
    title: str
    slug: str
    first: str  # first and last response, Vietnam time ('' before any)
    last: str
    responses: int  # the n of every figure in the report
    responses_text: str  # the same in the report's language (vi: 1.234)
    all_responses_text: str  # stored, whatever the filters and review
    access: str  # the access mode in words
    weighting: str
    view: str  # which reviewed responses are counted
    left_out_total: str  # '' when the review leaves nothing out
    left_out: list[tuple[str, str]]  # (reason, n)
    filters: list[str]
    breakdown: str  # the breakdown question's label, '' for none
    versions: str
    made_at: str  # Vietnam time


@dataclass(frozen=True)
class BreakdownSection:
    label: str  # the breakdown question
    chart: Markup | None  # responses by its choices
    tables: list[Table]


@dataclass(frozen=True)
class ReportFigures:
    lang: str  # the report's words (vi or en)
    cover: Cover
    questions: list[QuestionSection]
    breakdown: BreakdownSection | None
    methods: list[str]  # the methods box, a paragraph each
