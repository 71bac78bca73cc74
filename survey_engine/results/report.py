"""The results a survey's staff may read, for the dashboard and the results API alike:
the published versions merged, the filters read and checked, one Dashboard built from
the tallies (unfiltered) and the accumulator (through results/live.py: the dashboard's
cache and saved state, within the request's budget), and that Dashboard as JSON."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from survey_engine.catalog import definition_of, response_count
from survey_engine.definition.merged import MergedSurvey
from survey_engine.definition.problems import N_
from survey_engine.figures import NumberSummary, Share, WeightedShare
from survey_engine.models import Survey
from survey_engine.results.dashboard import (
    ChoiceCount,
    Dashboard,
    QuestionResult,
    build_dashboard,
    tally_counts,
)
from survey_engine.results.filters import FilterError, Filters
from survey_engine.results.live import counted_view
from survey_engine.results.saved import Counting, View
from survey_engine.results.weights import current_weights


def merged_survey(survey: Survey) -> MergedSurvey | None:
    """The published versions, newest first; None before the first is published."""
    versions = sorted(
        (v for v in survey.versions if v.published_at is not None),
        key=lambda v: v.number,
        reverse=True,
    )
    if not versions:
        return None
    return MergedSurvey({v.id: definition_of(v.id) for v in versions})


def read_filters(args: Mapping[str, Any], merged: MergedSurvey) -> Filters:
    """The dashboard's query arguments (f.<question>, from, to) as Filters; FilterError
    says what is wrong with them."""
    filters = Filters.from_args(args, merged)
    if filters.since and filters.until and filters.since > filters.until:
        raise FilterError(
            N_("the first day (%(since)s) is after the last (%(until)s)"),
            since=filters.since.isoformat(),
            until=filters.until.isoformat(),
        )
    return filters


def survey_dashboard(
    survey: Survey, merged: MergedSurvey, filters: Filters, lang: str
) -> tuple[Dashboard, Counting | None]:
    """What the dashboard shows of `survey` under `filters`, and None; or, while a job
    counts more than a request may read (RESULTS_REQUEST_SCAN_ROWS), a Dashboard of the
    tallies' counts only (nothing filtered) and how far the job has come."""
    count = response_count(survey.id)
    view = View(filters, weights=current_weights(survey.id))
    counted, counting = counted_view(survey, merged, view, count)
    counts = None if filters else tally_counts(survey.id)
    return build_dashboard(merged, counted, lang, count, counts), counting


def share_json(share: Share) -> dict[str, Any]:
    """A share with its 95% Wilson interval; ratio and bounds null when total is 0."""
    bounds = share.interval
    return {
        "count": share.count,
        "total": share.total,
        "ratio": share.ratio,
        "ci_low": bounds[0] if bounds else None,
        "ci_high": bounds[1] if bounds else None,
    }


def weighted_json(share: WeightedShare | None) -> dict[str, Any] | None:
    """A weighted share: its ratio and interval on Kish's effective n of the base."""
    if share is None:
        return None
    bounds = share.interval
    return {
        "ratio": share.ratio,
        "ci_low": bounds[0] if bounds else None,
        "ci_high": bounds[1] if bounds else None,
        "effective_n": share.effective_n,
    }


def _numbers_json(numbers: NumberSummary | None) -> dict[str, Any] | None:
    if numbers is None:
        return None
    return {
        "count": numbers.count,
        "mean": numbers.mean,
        "min": numbers.minimum,
        "q1": numbers.q1,
        "median": numbers.median,
        "q3": numbers.q3,
        "max": numbers.maximum,
        **({"weighted_mean": numbers.weighted_mean} if numbers.weighted_mean is not None else {}),
    }


def _choices_json(choices: tuple[ChoiceCount, ...]) -> dict[str, Any]:
    return {
        c.name: {
            "label": c.label,
            "of_answered": share_json(c.of_answered),
            "of_all": share_json(c.of_all),
            **({"weighted": weighted_json(c.weighted)} if c.weighted is not None else {}),
        }
        for c in choices
    }


def question_json(result: QuestionResult) -> dict[str, Any]:
    """One question's figures: `answered` and `counts` as always, then what the
    dashboard shows of its kind."""
    item: dict[str, Any] = {
        "answered": result.answered.count,
        "counts": {c.name: c.of_answered.count for c in result.choices if c.of_answered.count},
        "type": result.type,
        "kind": result.kind,
        "label": result.label,
        "answered_share": share_json(result.answered),
    }
    if result.kind == "choices":
        item["choices"] = _choices_json(result.choices)
        item["other_texts"] = result.other_texts
    elif result.kind == "numbers":
        item["numbers"] = _numbers_json(result.numbers)
        if result.distribution:
            item["distribution"] = _choices_json(result.distribution)
    elif result.kind == "matrix":
        item["matrix"] = {
            row.name: {
                "label": row.label,
                "answered": row.answered,
                "choices": _choices_json(row.cells),
            }
            for row in result.matrix
        }
    elif result.kind == "rank":
        item["rank"] = {
            r.name: {
                "label": r.label,
                "mean_position": r.mean_position,
                "first": share_json(r.first),
                **(
                    {"weighted_first": weighted_json(r.weighted_first)}
                    if r.weighted_first is not None
                    else {}
                ),
            }
            for r in result.rank
        }
    elif result.kind == "date" and result.dates:
        item["dates"] = {"earliest": result.dates[0], "latest": result.dates[1]}
    elif result.kind == "place" and result.box:
        item["box"] = dict(zip(("south", "west", "north", "east"), result.box, strict=True))
    if result.roster:  # a row question: counted over its roster's rows
        item["roster"] = result.roster
    if result.roster or result.type == "repeat":
        item["rows"] = {"rows": result.roster_rows, "responses": result.roster_responses}
    return item


def results_json(
    slug: str,
    merged: MergedSurvey,
    filters: Filters,
    dashboard: Dashboard,
    counting: Counting | None = None,
) -> dict[str, Any]:
    """The results API's answer: every question of the merged versions (answered or
    not yet), the filters applied, and the dashboard's figures; while a job counts
    (`counting`), `complete` false, its progress, and only what the tallies know
    (`answered` and `counts`, unfiltered; nothing under filters)."""
    questions: dict[str, Any] = {q.name: {"answered": 0, "counts": {}} for q in merged.questions}
    head: dict[str, Any] = {
        "survey": slug,
        "status": "complete",
        "complete": True,
        "responses": dashboard.responses,
        "all_responses": dashboard.all_responses,
        "filters": [[name, value] for name, value in filters.to_args()],
        "include": filters.include,
        "weighted_by": list(dashboard.weighted_by),
        "effective_n": dashboard.effective_n,
    }
    if counting is not None:
        head.update(
            status="counting",
            complete=False,
            progress={
                "counted": counting.counted,
                "total": counting.total,
                "ratio": round(counting.ratio, 4),
            },
        )
        if filters:
            head["responses"] = None
            return {**head, "questions": {}, "pages": {}}
        questions.update(
            {
                result.name: {
                    "answered": result.answered.count,
                    "counts": question_json(result)["counts"],
                }
                for result in dashboard.questions
            }
        )
        return {**head, "questions": questions, "pages": {}}
    questions.update({result.name: question_json(result) for result in dashboard.questions})
    return {
        **head,
        "questions": questions,
        "pages": {
            page.name: {"reached": share_json(page.reached), "answered": share_json(page.answered)}
            for page in dashboard.pages
        },
    }
