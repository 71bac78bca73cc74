"""Exports of a survey's responses: .xlsx (tallies + raw data) and .csv."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from exports.columns import RowMaker, merged_questions
from exports.csv_file import write_csv
from exports.workbook import write_workbook
from survey_engine.extensions import db
from survey_engine.models import Survey, SurveyVersion
from survey_engine.results.filters import Filters
from survey_engine.results.responses import NO_FILTERS, response_chunks
from survey_engine.surveys import definition_for

FORMATS = ("xlsx", "csv")


@dataclass(frozen=True)
class ExportOptions:
    """What the analyst chose: the dashboard's filters apply to the export too."""

    fmt: str = "xlsx"
    lang: str | None = None  # sheet names, headers and labels; default: the survey's
    filters: Filters = NO_FILTERS
    codes: bool = False  # choice names (codes) instead of labels in the responses sheet
    breakdown: str | None = None  # a select question: one cross-tab sheet by it


def export_survey(survey: Survey, path: Path, fmt: str = "xlsx", lang: str | None = None,
                  filters: Filters = NO_FILTERS,
                  progress: Callable[[int], None] | None = None,
                  options: ExportOptions | None = None) -> int:
    """Write the responses of `survey` the filters keep to `path`; returns how many.

    `progress(rows_written)` is called after each chunk, for the export page's bar.
    """
    options = options or ExportOptions(fmt, lang, filters)
    fmt, lang, filters = options.fmt, options.lang, options.filters
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; one of {', '.join(FORMATS)}")
    versions = db.session.scalars(
        sa.select(SurveyVersion)
        .where(SurveyVersion.survey_id == survey.id, SurveyVersion.published_at.is_not(None))
        .order_by(SurveyVersion.number.desc())
    ).all()
    if not versions:
        raise ValueError(f"survey {survey.slug!r} has no published version")
    definitions = [definition_for(v) for v in versions]
    newest = definitions[0]
    lang = lang or newest.default_language
    rows = RowMaker(newest, merged_questions(definitions), lang)
    rows.version_numbers = {v.id: v.number for v in versions}
    chunks = _counted(response_chunks(survey.id, filters), progress)
    if fmt == "csv":
        return write_csv(path, rows, chunks)
    return write_workbook(path, newest, rows, chunks, lang)


def _counted(chunks: Iterator[list[Any]], progress: Callable[[int], None] | None
             ) -> Iterator[list[Any]]:
    done = 0
    for chunk in chunks:
        yield chunk
        done += len(chunk)
        if progress is not None:
            progress(done)
