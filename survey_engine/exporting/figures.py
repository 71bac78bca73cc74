"""The workbook's figures from the accumulator: the counts the dashboard and the
results API read, in the shape exports/ takes (it may not import the services)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from exports import figures as sheets
from survey_engine.definition.families import NUMBER
from survey_engine.definition.model import Question
from survey_engine.figures import NumberSummary, summarize
from survey_engine.results import accumulator
from survey_engine.results.accumulator import Accumulator, counted_questions
from survey_engine.results.dashboard import effective_n, is_weighted, weighted_mean, weighted_share


def _column(code: str) -> str:
    return sheets.NO_ANSWER if code == accumulator.NO_ANSWER else code


def workbook_figures(counted: Accumulator) -> sheets.WorkbookFigures:
    """Per select question and matrix row its choices and answered, per number question
    its statistics, and by the breakdown (if the accumulator had one) the same."""
    survey = counted.survey
    series = sheets.select_series(survey.questions)
    counts: dict[str, dict[str, int]] = {}
    answered: dict[str, int] = {}
    for s in series:
        if s.row is None:
            counts[s.key] = {c: n for (q, c), n in counted.counts.items() if q == s.key and c}
            answered[s.key] = counted.counts.get((s.key, ""), 0)
        else:
            name, row = s.question.name, s.row["name"]
            cells: Mapping[tuple[str, str], int] = counted.matrix_cells.get(name, {})
            counts[s.key] = {c: n for (r, c), n in cells.items() if r == row}
            answered[s.key] = counted.matrix_rows.get(name, {}).get(row, 0)
    weighted = is_weighted(counted)
    numbers = [
        (q, _with_weighted_mean(summarize(counted.values.get(q.name, {})), counted, q, weighted))
        for q, _roster in counted_questions(survey.questions)
        if q.type in NUMBER
    ]
    breakdown = survey.by_name.get(counted.breakdown) if counted.breakdown else None
    return sheets.WorkbookFigures(
        responses=counted.responses,
        series=series,
        counts=counts,
        answered=answered,
        numbers=numbers,
        rows={
            q.name: (counted.rows.get(q.name, 0), counted.counts.get((q.name, ""), 0))
            for q in survey.questions
            if q.is_repeat
        },
        breakdown=breakdown,
        by_breakdown={_column(b): n for b, n in counted.by_breakdown.items()},
        cross={
            key: {(_column(b), c): n for (b, c), n in cells.items()}
            for key, cells in counted.breakdown_cells.items()
        },
        cross_answered={
            key: {_column(b): n for b, n in by.items()}
            for key, by in counted.breakdown_answered.items()
        },
        weighted_by=counted.weights.variables if weighted and counted.weights else (),
        effective_n=effective_n(counted, "") if weighted else None,
        weighted={
            s.key: {
                c: weighted_share(counted, s.key, c)
                for (q, c) in counted.weighted
                if q == s.key and c
            }
            for s in series
        }
        if weighted
        else {},
        weighted_cross={
            key: {(_column(b), c): x for (b, c), x in cells.items()}
            for key, cells in counted.weighted_breakdown.items()
        }
        if weighted
        else {},
    )


def _with_weighted_mean(
    stats: NumberSummary | None, counted: Accumulator, q: Question, weighted: bool
) -> NumberSummary | None:
    if stats is None or not weighted:
        return stats
    return replace(stats, weighted_mean=weighted_mean(counted, q.name))
