"""The data API (staff): the surveys one may read, their responses page by page (JSON)
or all at once (CSV, the export's rows), and each published version's definition."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from types import SimpleNamespace
from typing import cast

import sqlalchemy as sa
from flask import Response, current_app, request, stream_with_context
from itsdangerous import BadSignature, URLSafeSerializer

from exports.csv_file import csv_text
from survey_engine.api.access import NOT_VISIBLE_TEXT, staff_user, unauthorized, visible_survey
from survey_engine.api.blueprint import bp
from survey_engine.catalog import response_count
from survey_engine.definition.families import FILE
from survey_engine.definition.merged import MergedSurvey
from survey_engine.exporting.survey_file import survey_rows, upload_link
from survey_engine.extensions import db
from survey_engine.i18n import choose_language
from survey_engine.localtime import aware
from survey_engine.models import Survey, SurveyVersion
from survey_engine.replica import reading
from survey_engine.results.filters import FilterError, Filters
from survey_engine.results.report import merged_survey, read_filters
from survey_engine.results.response_pages import (
    CursorError,
    NotSettled,
    page_of,
    read_limit,
    response_json,
    settled_horizon,
)
from survey_engine.results.response_pages import csv_chunks as response_csv_chunks
from survey_engine.results.weights import current_weights
from survey_engine.staff.accounts import visible_surveys

CURSOR_SALT = "survey-engine api responses cursor"
SETTLE_RETRY_SECONDS = 1
CSV_TYPE = "text/csv"


def _error(status: int, text: str):
    return {"error": text}, status


def _not_found():
    return _error(404, NOT_VISIBLE_TEXT)


def _published_versions(survey: Survey) -> list[SurveyVersion]:
    return list(
        db.session.scalars(
            sa.select(SurveyVersion)
            .where(SurveyVersion.survey_id == survey.id, SurveyVersion.published_at.is_not(None))
            .order_by(SurveyVersion.number)
        )
    )


@bp.get("/surveys")
def list_surveys():
    """Every survey the caller may read (admins: all), with its status, its published
    versions and its count of responses (the tallies': the default view's)."""
    user = staff_user()
    if user is None:
        return unauthorized()
    surveys = []
    for survey in db.session.scalars(visible_surveys(user)):
        versions = _published_versions(survey)
        surveys.append(
            {
                "slug": survey.slug,
                "title": survey.title,
                "status": survey.status,
                "created_at": aware(survey.created_at).isoformat(),
                "versions": [
                    {"number": v.number, "published_at": aware(v.published_at).isoformat()}
                    for v in versions
                    if v.published_at is not None
                ],
                "responses": response_count(survey.id),
            }
        )
    return {"surveys": surveys}, 200


@bp.get("/surveys/<slug>/versions/<int:number>/definition")
def version_definition(slug: str, number: int):
    """The definition of one published version (what its responses answered)."""
    user = staff_user()
    if user is None:
        return unauthorized()
    survey = visible_survey(user, slug)
    if survey is None:
        return _not_found()
    version = db.session.scalar(
        sa.select(SurveyVersion).where(
            SurveyVersion.survey_id == survey.id,
            SurveyVersion.number == number,
            SurveyVersion.published_at.is_not(None),
        )
    )
    if version is None or version.published_at is None:
        return _error(404, "no published version with this number")
    return {
        "survey": survey.slug,
        "version": version.number,
        "published_at": aware(version.published_at).isoformat(),
        "definition": version.definition,
    }, 200


def _cursors() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=CURSOR_SALT)


def make_cursor(survey_id: int, after_id: int) -> str:
    """Opaque to the client; signed, and bound to its survey."""
    return str(_cursors().dumps([survey_id, after_id]))


def read_cursor(text: str | None, survey_id: int) -> int:
    """The id a cursor continues after (0 without one); CursorError for one this server
    did not make for this survey."""
    if not text:
        return 0
    try:
        value = _cursors().loads(text[:200])
    except (BadSignature, UnicodeError, ValueError):
        raise CursorError("cursor: not a cursor this API gave (use next_cursor as it is)") from None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or value[0] != survey_id
        or not isinstance(value[1], int)
        or value[1] < 0
    ):
        raise CursorError("cursor: a cursor of another survey") from None
    return value[1]


def _wants_csv() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", CSV_TYPE])
    return best == CSV_TYPE


@bp.get("/surveys/<slug>/responses")
def list_responses(slug: str):
    """The survey's responses under the dashboard's filters, in id order: a page of
    JSON after `cursor`, or with `Accept: text/csv` every row after it as the CSV
    export writes them (docs/api.md)."""
    user = staff_user()
    if user is None:
        return unauthorized()
    survey = visible_survey(user, slug)
    if survey is None:
        return _not_found()
    merged = merged_survey(survey)
    try:
        filters = read_filters(request.args, merged) if merged is not None else _no_filters()
        after_id = read_cursor(request.args.get("cursor"), survey.id)
        limit = read_limit(request.args.get("limit"))
    except (FilterError, CursorError) as error:
        return _error(400, str(error))
    if merged is None:  # nothing published: nothing answered
        if _wants_csv():
            return _error(404, "this survey has no published version to export")
        return _page_body(survey, filters, limit, [], make_cursor(survey.id, after_id), False), 200
    try:
        if _wants_csv():
            return _csv_stream(survey, merged, filters, after_id)
        with reading() as reads:
            page = page_of(survey.id, filters, after_id, limit, reads)
    except NotSettled as error:
        return _busy(str(error))
    numbers = {v.id: v.number for v in _published_versions(survey)}
    weights = current_weights(survey.id)
    link = upload_link(survey.slug)
    links = {q.name: link for q in merged.questions if q.type in FILE}
    rows = [response_json(row, numbers, weights, links) for row in page.rows]
    cursor = make_cursor(survey.id, page.next_after)
    return _page_body(survey, filters, limit, rows, cursor, page.more), 200


def _no_filters() -> Filters:
    """Without a published version only include= can be read (no question to filter)."""
    if any(key.startswith("f.") for key in request.args):
        raise FilterError("this survey has no published version: no question to filter by")
    no_questions = cast(MergedSurvey, SimpleNamespace(by_name={}))
    return read_filters(request.args, no_questions)


def _page_body(
    survey: Survey, filters: Filters, limit: int, rows: list, next_cursor: str, more: bool
) -> dict:
    return {
        "survey": survey.slug,
        "filters": [list(pair) for pair in filters.to_args()],
        "include": filters.include,
        "limit": limit,
        "responses": rows,
        "next_cursor": next_cursor,
        "more": more,
    }


def _busy(text: str):
    return {"error": text}, 503, {"Retry-After": str(SETTLE_RETRY_SECONDS)}


def _csv_stream(survey: Survey, merged: MergedSurvey, filters: Filters, after_id: int) -> Response:
    """The CSV export's text of the kept responses up to the horizon, written while
    they are read, on one scan's session (the replica when there is one)."""
    lang = choose_language(merged.newest.languages(), merged.default_language)
    rows = survey_rows(survey, lang)
    scan = ExitStack()
    reads = scan.enter_context(reading())
    try:
        horizon = settled_horizon(survey.id, reads)
    except BaseException:
        scan.close()
        raise

    def text() -> Iterator[bytes]:
        with scan:
            for piece in csv_text(
                rows, response_csv_chunks(survey.id, filters, after_id, horizon, reads)
            ):
                yield piece.encode("utf-8")

    streamed = Response(
        stream_with_context(text()),
        200,
        mimetype=CSV_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="{survey.slug}.csv"',
            "X-Content-Type-Options": "nosniff",
        },
    )
    # A stream never started (a HEAD request, a client gone) still ends the scan.
    streamed.call_on_close(scan.close)
    return streamed
