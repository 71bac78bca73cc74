"""Exports of a survey's responses: .xlsx (tallies + raw data) and .csv."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from exports.columns import RowMaker, merged_questions
from exports.csv_file import write_csv
from exports.workbook import write_workbook
from survey_engine.extensions import db
from survey_engine.models import Response, Survey, SurveyVersion
from survey_engine.surveys import definition_for

FORMATS = ("xlsx", "csv")
CHUNK_SIZE = 5000


def export_survey(survey: Survey, path: Path, fmt: str = "xlsx", lang: str | None = None) -> int:
    """Write every response of `survey` to `path`; returns how many rows were written."""
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
    chunks = _response_chunks(survey.id)
    if fmt == "csv":
        return write_csv(path, rows, chunks)
    return write_workbook(path, newest, rows, chunks, lang)


def _response_chunks(survey_id: int) -> Iterator[list[Any]]:
    """Responses in id order, CHUNK_SIZE at a time, streamed from the database."""
    statement = (
        sa.select(Response.id, Response.submission_id, Response.submitted_at,
                  Response.version_id, Response.source, Response.answers)
        .where(Response.survey_id == survey_id)
        .order_by(Response.id)
        .execution_options(yield_per=CHUNK_SIZE)
    )
    yield from db.session.execute(statement).partitions()
