"""Exports of a survey's responses: .xlsx (figures + raw data) and .csv."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import current_app, has_request_context, request
from sqlalchemy.orm import Session

from exports.about import AboutFacts
from exports.columns import TRAIL_COLUMNS, RowMaker
from exports.csv_file import write_csv
from exports.data_columns import DataColumns
from exports.data_files import write_dta, write_sav
from exports.r_script import write_r_bundle
from exports.workbook import write_workbook
from survey_engine.catalog import definition_for
from survey_engine.definition import Definition, Question
from survey_engine.definition.merged import MergedSurvey
from survey_engine.exporting.figures import workbook_figures
from survey_engine.exporting.left_out import left_out_lines
from survey_engine.extensions import db
from survey_engine.i18n import message
from survey_engine.intake.retention import retention_days
from survey_engine.models import Response, ResponseStatus, Survey, SurveyVersion
from survey_engine.replica import reading
from survey_engine.results.accumulator import Accumulator
from survey_engine.results.filters import Filters
from survey_engine.results.responses import CHUNK_SIZE, NO_FILTERS, response_chunks
from survey_engine.results.weights import CellWeights, current_weights

FORMATS = ("xlsx", "csv", "sav", "dta", "r")
# The file each format writes: "r" is a .zip of the CSV (choice codes) and the .R
# script that reads it with labels.
FILE_ENDINGS = {"xlsx": "xlsx", "csv": "csv", "sav": "sav", "dta": "dta", "r": "zip"}


@dataclass(frozen=True)
class ExportOptions:
    """What the analyst chose: the dashboard's filters apply to the export too."""

    fmt: str = "xlsx"
    lang: str | None = None  # sheet names, headers and labels; default: the survey's
    filters: Filters = NO_FILTERS
    codes: bool = False  # choice names (codes) instead of labels in the responses sheet
    breakdown: str | None = None  # a select question: one cross-tab sheet by it
    requested_by: str | None = None  # who asked, named on the about sheet
    # The site's address as the asker reached it (https://host), for the links to
    # uploaded files when STAFF_BASE_URL is unset: a worker has no request of its own.
    asked_at: str | None = None


def export_survey(
    survey: Survey,
    path: Path,
    fmt: str = "xlsx",
    lang: str | None = None,
    filters: Filters = NO_FILTERS,
    progress: Callable[[int], None] | None = None,
    options: ExportOptions | None = None,
) -> int:
    """Write the responses of `survey` the filters keep to `path`; returns how many.

    `progress(rows_written)` is called after each chunk, for the export page's bar.
    Raises ValueError for a format, breakdown or survey that cannot be exported.
    The responses (and the about sheet's counts of them) are read in one scan, from
    the read replica when there is one (replica.py): the file is as of one moment.
    """
    options = options or ExportOptions(fmt, lang, filters)
    if options.fmt not in FORMATS:
        raise ValueError(f"unknown export format {options.fmt!r}; one of {', '.join(FORMATS)}")
    versions = published_versions(survey)
    merged = MergedSurvey({v.id: definition_for(v) for v in versions})
    newest = merged.newest
    lang = options.lang or newest.default_language
    breakdown = _breakdown(options.breakdown, merged.questions)
    weights = current_weights(survey.id)
    # SPSS, Stata and R take choices as codes, with the labels beside them
    codes = options.codes or options.fmt in DATA_FORMATS
    rows = _row_maker(versions, merged, lang, codes, weights, options.asked_at)
    if options.fmt in DATA_FORMATS:
        return _data_file(survey, path, options, rows, merged, progress)
    with reading() as reads:
        chunks = _counted(
            response_chunks(survey.id, options.filters, extra=TRAIL_COLUMNS, reads=reads),
            progress,
        )
        if options.fmt == "csv":
            return write_csv(path, rows, chunks)
        about = _about_facts(survey, versions, newest, lang, options, breakdown, reads)
        # The summary and cross-tab sheets' figures: each chunk is counted as it goes by
        # to be written, by the accumulator the dashboard and the results API read.
        counted = Accumulator(
            merged, breakdown=breakdown.name if breakdown else None, views=False, weights=weights
        )
        return write_workbook(
            path,
            newest,
            rows,
            _fed(chunks, counted),
            lang,
            lambda: workbook_figures(counted),
            breakdown,
            about,
        )


def _weight_of(weights: CellWeights) -> Callable[[Any], float | None]:
    """A response's weight for its row: none for one excluded in review."""

    def weight(response: Any) -> float | None:
        if getattr(response, "status", None) == ResponseStatus.EXCLUDED:
            return None
        return weights.weight_of(response.answers or {})

    return weight


def survey_rows(survey: Survey, lang: str | None = None, codes: bool = False) -> RowMaker:
    """The columns and rows of the survey's responses sheet and CSV file, for a reader
    that writes them itself (the data API's CSV stream: the same rows as the file)."""
    versions = published_versions(survey)
    merged = MergedSurvey({v.id: definition_for(v) for v in versions})
    return _row_maker(
        versions, merged, lang or merged.newest.default_language, codes, current_weights(survey.id)
    )


def site_address(asked_at: str | None = None) -> str:
    """Where staff reach this site, for absolute links: STAFF_BASE_URL when set, else
    the address an export was asked at (kept with it for its worker), else the
    request's own host; "" from the command line without STAFF_BASE_URL."""
    return (
        current_app.config.get("STAFF_BASE_URL")
        or asked_at
        or (request.host_url.rstrip("/") if has_request_context() else "")
    )


def upload_link(slug: str, asked_at: str | None = None) -> str:
    """A file answer's cell: the staff download's absolute URL, "{token}" left to fill
    (the path alone only when site_address has none)."""
    return f"{site_address(asked_at)}/admin/surveys/{slug}/uploads/{{token}}"


def _row_maker(
    versions: list[SurveyVersion],
    merged: MergedSurvey,
    lang: str,
    codes: bool,
    weights: CellWeights | None,
    asked_at: str | None = None,
) -> RowMaker:
    return RowMaker(
        merged.newest,
        merged.questions,
        lang,
        codes=codes,
        version_numbers={v.id: v.number for v in versions},
        weight_of=_weight_of(weights) if weights is not None else None,
        upload_link=upload_link(merged.newest.slug, asked_at),
    )


DATA_FORMATS = ("sav", "dta", "r")
# Cells (rows × columns) read at a time for the .sav and .dta: a chunk's stored answers,
# its cells and its frame are what their writer holds, so a wide survey reads fewer
# rows at a time (510 fields: ~1,900 rows) and memory stays bounded.
DATA_CHUNK_CELLS = 1_000_000


def _data_file(
    survey: Survey,
    path: Path,
    options: ExportOptions,
    rows: RowMaker,
    merged: MergedSurvey,
    progress: Callable[[int], None] | None,
) -> int:
    """The SPSS, Stata or R file: the same rows as the CSV, read the same way (the .sav
    and .dta read them twice: string widths first, then the data, up to the last
    response the first read saw)."""
    size = max(100, min(CHUNK_SIZE, DATA_CHUNK_CELLS // len(rows.columns)))
    with reading() as reads:
        reads_made = 0

        def chunks() -> Iterator[list[Any]]:
            """A new read of the responses; the bar counts the last (the data's) only."""
            nonlocal reads_made
            reads_made += 1
            read = response_chunks(
                survey.id, options.filters, size, extra=TRAIL_COLUMNS, reads=reads
            )
            last = options.fmt == "r" or reads_made == 2
            return _counted(read, progress) if last else read

        if options.fmt == "r":
            return write_r_bundle(path, rows, chunks(), slug=survey.slug)
        columns = DataColumns(rows, merged.definitions)
        if options.fmt == "sav":
            title = merged.newest.text(merged.newest.title, rows.lang)
            return write_sav(path, columns, chunks, title)
        return write_dta(path, columns, chunks)


def published_versions(survey: Survey) -> list[SurveyVersion]:
    """The survey's published versions, newest first; ValueError if there is none."""
    versions = db.session.scalars(
        sa.select(SurveyVersion)
        .where(SurveyVersion.survey_id == survey.id, SurveyVersion.published_at.is_not(None))
        .order_by(SurveyVersion.number.desc())
    ).all()
    if not versions:
        raise ValueError(f"survey {survey.slug!r} has no published version")
    return list(versions)


def _about_facts(
    survey: Survey,
    versions: list[SurveyVersion],
    newest: Definition,
    lang: str,
    options: ExportOptions,
    breakdown: Question | None,
    reads: Session,
) -> AboutFacts:
    """What the workbook's about sheet says of this export."""
    return AboutFacts(
        title=newest.text(newest.title, lang),
        slug=survey.slug,
        versions=[(v.number, v.published_at) for v in versions],
        filter_lines=options.filters.describe(newest, lang),
        exported_at=datetime.now(UTC),
        lang=lang,
        codes=options.codes,
        count_all=lambda: _count_all(survey.id, reads),
        breakdown=breakdown.name if breakdown else None,
        requested_by=options.requested_by,
        view=message(f"include_{options.filters.include}", lang),
        left_out=lambda: left_out_lines(survey.id, options.filters, lang, reads),
        anonymous=bool(newest.settings.get("anonymous")),
        retention_days=retention_days(newest.settings),
    )


def _breakdown(name: str | None, questions: list[Question]) -> Question | None:
    if not name:
        return None
    question = next((q for q in questions if q.name == name), None)
    if question is None or not question.is_select:
        raise ValueError(f"breakdown: no select question named {name!r}")
    return question


def _count_all(survey_id: int, reads: Session) -> int:
    return reads.execute(
        sa.select(sa.func.count()).select_from(Response).where(Response.survey_id == survey_id)
    ).scalar_one()


def _fed(chunks: Iterator[list[Any]], counted: Accumulator) -> Iterator[list[Any]]:
    for chunk in chunks:
        counted.add(chunk)
        yield chunk


def _counted(
    chunks: Iterator[list[Any]], progress: Callable[[int], None] | None
) -> Iterator[list[Any]]:
    done = 0
    for chunk in chunks:
        yield chunk
        done += len(chunk)
        if progress is not None:
            progress(done)
