"""The province's quick report (PDF): one pass of the response accumulator over the
responses the filters keep, the dashboard's figures built from it (build_dashboard,
as the results API and the workbook read them, so the three agree), written in words
by results/readings.py and drawn with the dashboard's SVG charts; exports/report_pdf.py
lays them out on A4.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from markupsafe import Markup

from exports.report_figures import BreakdownSection, Cover, QuestionSection, ReportFigures, Table
from exports.report_pdf import write_report_pdf
from survey_engine.catalog import definition_for, response_count
from survey_engine.definition.families import SELECT
from survey_engine.definition.merged import MergedSurvey
from survey_engine.definition.model import Question
from survey_engine.exporting.left_out import left_out_lines
from survey_engine.exporting.survey_file import ExportOptions, published_versions
from survey_engine.figures import Share, WeightedShare
from survey_engine.i18n import N_, message, ui_language
from survey_engine.intake.submit import access_mode
from survey_engine.localtime import local_text
from survey_engine.models import Survey
from survey_engine.replica import reading
from survey_engine.results.accumulator import NO_ANSWER, Accumulator
from survey_engine.results.charts import Bar, bar_chart
from survey_engine.results.dashboard import Dashboard, QuestionResult, build_dashboard
from survey_engine.results.filters import Filters
from survey_engine.results.readings import Words
from survey_engine.results.responses import response_chunks
from survey_engine.results.weights import current_weights

REPORT_FORMAT = "pdf"
REPORT_TRACK_END = 68.0  # % of the width for a bar: the interval is written after it
MAX_BARS = 15  # as the dashboard: a longer list (communes) shows its most chosen
MAX_BREAKDOWN_CHOICES = 6  # columns of a breakdown table that fit across A4
# The breakdown when none is chosen: the first select_one question of these names.
DISTRICT_NAMES = ("district", "huyen", "quan_huyen", "district_name")

ACCESS_WORDS = {
    "open": N_("Open: anyone with the link, as often as they like"),
    "device": N_(
        "One answer per device: a second answer from the same phone or computer is refused"
    ),
    "code": N_("Closed: single-use access codes (made on the survey's Access codes page)"),
}
KIND_NOTES = {
    "select_multiple": N_("Several answers allowed: the percentages add up to more than 100%."),
    "matrix": N_("A grid: each row answered on the same scale."),
    "rank": N_("Ranked: 1 = put first."),
}


def default_breakdown(merged: MergedSurvey, filters: Filters) -> str | None:
    """The district question, when the survey has one by a usual name and the filters
    do not keep a single district (a breakdown of one row says nothing)."""
    pinned = {name for name, choices in filters.choices if len(choices) == 1}
    for name in DISTRICT_NAMES:
        question = merged.by_name.get(name)
        if question is not None and question.type == "select_one":
            return None if name in pinned else name
    return None


def _breakdown(name: str | None, merged: MergedSurvey) -> Question | None:
    if not name:
        return None
    question = merged.by_name.get(name)
    if question is None or question.type not in SELECT:
        raise ValueError(f"breakdown: no select question named {name!r}")
    return question


def write_survey_report(
    survey: Survey,
    path: Path,
    options: ExportOptions,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the report of the responses `options.filters` keep to `path` (PDF);
    returns their number. ValueError for a breakdown or survey that cannot be
    reported; `progress(responses_read)` after each chunk, as an export's."""
    versions = published_versions(survey)
    merged = MergedSurvey({v.id: definition_for(v) for v in versions})
    newest = merged.newest
    words = Words(ui_language(options.lang or newest.default_language))
    text_lang = options.lang if options.lang in newest.languages() else newest.default_language
    breakdown = _breakdown(options.breakdown or default_breakdown(merged, options.filters), merged)
    weights = current_weights(survey.id)
    counted = Accumulator(merged, breakdown=breakdown.name if breakdown else None, weights=weights)
    with reading() as reads:
        for chunk in response_chunks(survey.id, options.filters, reads=reads):
            counted.add(chunk)
            if progress is not None:
                progress(counted.responses)
        left_out = left_out_lines(survey.id, options.filters, words.lang, reads)
    all_responses = response_count(survey.id)
    dashboard = build_dashboard(merged, counted, text_lang, all_responses)
    lines = options.filters.describe(newest, words.lang)
    cover = Cover(
        title=newest.text(newest.title, text_lang),
        slug=survey.slug,
        first=local_text(counted.first),
        last=local_text(counted.last),
        responses=counted.responses,
        responses_text=words.number(counted.responses),
        all_responses_text=words.number(all_responses),
        access=words._(ACCESS_WORDS.get(access_mode(newest), ACCESS_WORDS["open"])),
        weighting=_weighting(dashboard, merged, text_lang, words),
        view=message(f"include_{options.filters.include}", words.lang),
        left_out_total=words.number(left_out[0][1]) if left_out[0][1] else "",
        left_out=[(reason, words.number(n)) for reason, n in left_out[1:]],
        filters=lines,
        breakdown=merged.label(breakdown, text_lang) if breakdown else "",
        versions=", ".join(
            f"{v.number} ({local_text(v.published_at)})" for v in sorted(versions, key=_number)
        ),
        made_at=local_text(datetime.now(UTC)),
    )
    figures = ReportFigures(
        lang=words.lang,
        cover=cover,
        questions=[_section(result, words) for result in dashboard.questions],
        breakdown=_breakdown_section(counted, merged, breakdown, text_lang, words)
        if breakdown
        else None,
        methods=_methods(words, counted.responses, breakdown is not None, dashboard),
    )
    refused = write_report_pdf(path, figures)
    if refused:  # nothing of ours asks for any: survey text that tried is shown as text
        raise ValueError(f"the report asked for addresses it may not fetch: {refused[:3]}")
    return counted.responses


NO_WEIGHTING = N_("None: every response counts once (unweighted)")
WEIGHTING = N_(
    "Raking to population margins of %(variables)s: each figure is followed by its "
    "weighted estimate (effective n %(effective)s)"
)


def _weighting(dashboard: Dashboard, merged: MergedSurvey, lang: str, words: Words) -> str:
    if not dashboard.weighted_by or dashboard.effective_n is None:
        return words._(NO_WEIGHTING)
    return words._(
        WEIGHTING,
        variables=", ".join(merged.label(merged.by_name[v], lang) for v in dashboard.weighted_by),
        effective=words.number(round(dashboard.effective_n)),
    )


def _number(version) -> int:
    return int(version.number)


# -- a question ------------------------------------------------------------------------


def _bars(
    name: str,
    title: str,
    rows: list[tuple[str, Share, WeightedShare | None]],
    words: Words,
) -> Markup:
    bars = [
        Bar(
            label,
            share.ratio,
            share.interval,
            words.estimate(share),
            words._(
                "%(count)s of %(total)s, 95%% CI %(interval)s",
                count=words.number(share.count),
                total=words.number(share.total),
                interval=words.interval(share),
            ),
            weighted.ratio if weighted is not None else None,
        )
        for label, share, weighted in rows
    ]
    desc = words._(
        "Bars: the share of each answer, with a line across the bar for its "
        "confidence interval (95%)."
    )
    if any(weighted is not None for _label, _share, weighted in rows):
        desc += " " + words._("A mark standing out of the bar shows the weighted share.")
    return bar_chart(f"report-{name}", title, desc, bars, track_end=REPORT_TRACK_END)


def _section(result: QuestionResult, words: Words) -> QuestionSection:
    """One question: its chart, its reading, and a table where a chart says too little."""
    note = words._(KIND_NOTES[result.type]) if result.type in KIND_NOTES else ""
    if result.roster:  # its shares are of the roster's rows (the dashboard's words)
        over_rows = words._(
            "A question of each row of %(roster)s: counted over its %(rows)s rows in "
            "%(responses)s responses; its percentages are shares of rows.",
            roster=result.roster,
            rows=words.number(result.roster_rows),
            responses=words.number(result.roster_responses),
        )
        note = f"{note} {over_rows}".strip()
    base = QuestionSection(result.name, result.label, note, "")
    answered = result.answered.count
    if result.kind == "choices" or (result.kind == "numbers" and result.distribution):
        rows = result.choices or result.distribution
        shown = list(rows)
        title = result.label
        if len(shown) > MAX_BARS:
            shown = sorted(shown, key=lambda c: -c.of_answered.count)[:MAX_BARS]
            title = words._(
                "%(question)s: the %(count)s most frequent answers",
                question=result.label,
                count=MAX_BARS,
            )
        chart = _bars(
            result.name, title, [(c.label, c.of_answered, c.weighted) for c in shown], words
        )
        if result.kind == "numbers":
            reading = words.numbers_reading(result.numbers)
        elif not answered:
            reading = words._(NOBODY)
        else:
            top = max(rows, key=lambda c: c.of_answered.count)
            reading = words.choice_reading(
                top.label,
                top.of_answered,
                answered,
                result.type == "select_multiple",
                top.weighted,
            )
        weighted = [c for c in rows if c.weighted is not None]
        tables = [_weighted_table(result, weighted, words)] if weighted else []
        return QuestionSection(result.name, result.label, note, reading, chart, tables)
    if result.kind == "numbers":
        return replace(base, reading=words.numbers_reading(result.numbers))
    if result.kind == "matrix":
        return replace(base, reading=_matrix_reading(result, words), tables=_matrix(result, words))
    if result.kind == "rank":
        return replace(base, reading=_rank_reading(result, words), tables=[_rank(result, words)])
    if result.kind == "date" and result.dates:
        reading = words._(
            "Answers from %(earliest)s to %(latest)s (%(answered)s answered).",
            earliest=result.dates[0],
            latest=result.dates[1],
            answered=words.number(answered),
        )
        return replace(base, reading=reading)
    return replace(base, reading=words.answered_reading(result.answered, answered))


def _weighted_table(result: QuestionResult, rows: list, words: Words) -> Table:
    """Each answer's share as counted and as weighted, side by side."""
    return Table(
        head=[words._(ANSWER), words._(UNWEIGHTED), words._(WEIGHTED)],
        rows=[
            [c.label, words.cell(c.of_answered), words.cell(c.weighted)]
            for c in rows
            if c.of_answered.count or (c.weighted and c.weighted.weight)
        ],
    )


def _matrix(result: QuestionResult, words: Words) -> list[Table]:
    if not result.matrix:
        return []
    choices = [c.label for c in result.matrix[0].cells]
    return [
        Table(
            head=[words._(ROW), *choices, "n"],
            rows=[
                [
                    row.label,
                    *(words.cell(c.of_answered, c.weighted) for c in row.cells),
                    words.number(row.answered),
                ]
                for row in result.matrix
            ],
        )
    ]


def _matrix_reading(result: QuestionResult, words: Words) -> str:
    rows = [row for row in result.matrix if row.answered and row.cells]
    if not rows:
        return words._(NOBODY)
    first = rows[0]
    top = max(first.cells, key=lambda c: c.of_answered.count)
    return words._(
        "“%(row)s”: %(estimate)s answered “%(choice)s” (of %(answered)s).",
        row=first.label,
        estimate=words.estimate(top.of_answered),
        choice=top.label,
        answered=words.number(first.answered),
    )


def _rank(result: QuestionResult, words: Words) -> Table:
    return Table(
        head=[words._(ANSWER), words._(MEAN_POSITION), words._(RANKED_FIRST)],
        rows=[
            [
                item.label,
                words.number(round(item.mean_position, 2))
                if item.mean_position is not None
                else "–",
                words.cell(item.first, item.weighted_first),
            ]
            for item in result.rank
        ],
    )


def _rank_reading(result: QuestionResult, words: Words) -> str:
    ranked = [item for item in result.rank if item.mean_position is not None]
    if not ranked:
        return words._(NOBODY)
    top = ranked[0]
    return words._(
        "“%(choice)s” is put highest (mean position %(position)s); %(estimate)s put it first.",
        choice=top.label,
        position=words.number(round(top.mean_position or 0, 2)),
        estimate=words.estimate(top.first),
    )


# -- the breakdown ---------------------------------------------------------------------


def _breakdown_section(
    counted: Accumulator, merged: MergedSurvey, breakdown: Question, lang: str, words: Words
) -> BreakdownSection:
    """Responses by the breakdown's choices, then each other select question's choices
    as percentages of those who answered it in each (with the 95% interval)."""
    seen = sorted(b for b in counted.by_breakdown if b != NO_ANSWER)
    places = list(merged.choice_labels(breakdown, lang, seen).items())
    if counted.by_breakdown.get(NO_ANSWER):
        places.append((NO_ANSWER, words._(NO_ANSWER_WORDS)))
    chart = _bars(
        f"by-{breakdown.name}",
        words._("Responses by %(question)s", question=merged.label(breakdown, lang)),
        [
            (label, Share(counted.by_breakdown.get(code, 0), counted.responses), None)
            for code, label in places
        ],
        words,
    )
    tables = []
    for question in merged.questions:
        # A list filtered by another answer (communes of the district) says nothing
        # broken down by that answer.
        if (
            question.type not in SELECT
            or question.name == breakdown.name
            or question.raw.get("choice_filter")
        ):
            continue
        cells: Mapping[tuple[str, str], int] = counted.breakdown_cells.get(question.name, {})
        weighted = counted.weighted_breakdown.get(question.name) if counted.weights else None
        squares = counted.weighted_breakdown_squares.get(question.name, {})
        answered: Mapping[str, int] = counted.breakdown_answered.get(question.name, {})
        totals: dict[str, int] = {}
        for (_, choice), n in cells.items():
            totals[choice] = totals.get(choice, 0) + n
        labels = merged.choice_labels(question, lang, sorted(totals))
        ordered = [code for code in labels if totals.get(code)]
        shown = sorted(ordered, key=lambda code: -totals[code])[:MAX_BREAKDOWN_CHOICES]
        shown = [code for code in ordered if code in shown]
        left = len(ordered) - len(shown)
        rows = [
            [
                label,
                words.number(answered.get(code, 0)),
                *(
                    words.cell(
                        Share(cells.get((code, c), 0), answered.get(code, 0)),
                        _weighted_cell(weighted, squares, code, c),
                    )
                    for c in shown
                ),
            ]
            for code, label in places
            if answered.get(code, 0)
        ]
        if not rows:
            continue
        tables.append(
            Table(
                caption=merged.label(question, lang),
                head=[merged.label(breakdown, lang), "n", *(labels[c] for c in shown)],
                rows=rows,
                note=words._(
                    "The %(count)s least frequent answers are left out here (see the question).",
                    count=left,
                )
                if left
                else "",
            )
        )
    return BreakdownSection(merged.label(breakdown, lang), chart, tables)


def _weighted_cell(
    weighted: Mapping[tuple[str, str], float] | None,
    squares: Mapping[str, float],
    place: str,
    choice: str,
) -> WeightedShare | None:
    """A breakdown cell's weighted share, its interval on the effective n of those
    in its row who answered."""
    if weighted is None or not weighted.get((place, ""), 0.0):
        return None
    total = weighted[(place, "")]
    return WeightedShare(weighted.get((place, choice), 0.0), total, total**2 / squares[place])


def _methods(words: Words, responses: int, broken_down: bool, dashboard: Dashboard) -> list[str]:
    paragraphs = [
        words._(
            "Sample: the %(count)s responses that the filters and the review on the cover "
            "keep. An online survey reaches those who have the link and choose to answer; "
            "it is not a random sample of the population, and the figures describe the "
            "respondents.",
            count=words.number(responses),
        ),
        words._(
            "Percentages are of those who answered the question (questions shown only to "
            "some respondents have a smaller base). Each is followed by its confidence "
            "interval (95%, Wilson score interval), which is wide for small groups: a "
            "district with 12 answers says much less than one with 1,200."
        ),
        words._(
            "Weighting: none. Each response counts once; where the respondents differ from "
            "the population (towns, age, phones), the figures may differ from the "
            "population's."
        )
        if not dashboard.weighted_by
        else words._(
            "Weighting: the responses are raked (iterative proportional fitting) to the "
            "population margins staff uploaded, so that the weighted respondents match the "
            "population on those variables; the weights are kept within bounds. Weighted "
            "shares follow the counted ones; their intervals use Kish's effective n "
            "(%(effective)s), which is smaller than the number of responses: weighting "
            "costs precision.",
            effective=words.number(round(dashboard.effective_n or 0)),
        ),
        words._(
            "The figures are counted by the same accumulator as the results dashboard, the "
            "results API and the Excel workbook, and agree with them for the same filters."
        ),
    ]
    if broken_down:
        paragraphs.append(
            words._(
                "The breakdown counts each response under the answer it gave to the breakdown "
                "question; percentages in a row are of those in that row who answered the "
                "question."
            )
        )
    return paragraphs


ANSWER = N_("Answer")
UNWEIGHTED = N_("Counted")
WEIGHTED = N_("Weighted")
ROW = N_("Row")
MEAN_POSITION = N_("Mean position")
RANKED_FIRST = N_("Ranked first")
NOBODY = N_("Nobody has answered this question yet.")
NO_ANSWER_WORDS = N_("(No answer)")
