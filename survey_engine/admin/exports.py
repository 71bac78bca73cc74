"""A survey's exports for staff: start one in the background, follow its progress,
download the finished file until it expires. Anyone who may see the survey may
(analysts above all); the files are in survey_engine/exporting/files.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from flask import (
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from survey_engine.admin.blueprint import bp
from survey_engine.admin.survey_access import XLSX_MIME, title_of, visible_survey
from survey_engine.catalog import definition_for
from survey_engine.definition import Definition
from survey_engine.exporting import files as export_files
from survey_engine.exporting.files import FORMATS
from survey_engine.exporting.survey_file import ExportOptions
from survey_engine.extensions import db
from survey_engine.i18n import LANGUAGE_NAMES
from survey_engine.localtime import local_text
from survey_engine.models import ExportFile, ExportStatus, Survey
from survey_engine.results.filters import DEFAULT_INCLUDE, FilterError, Filters
from survey_engine.results.responses import NO_FILTERS
from survey_engine.staff.accounts import may_see

MIMETYPES = {
    "xlsx": XLSX_MIME,
    "csv": "text/csv",
    "sav": "application/x-spss-sav",
    "dta": "application/x-stata-dta",
    "r": "application/zip",
    "pdf": "application/pdf",
}


def _mimetype(export: ExportFile) -> str:
    """A .zip's (the R bundle, a survey with rosters), else the format's."""
    return "application/zip" if export_files.ending_of(export) == "zip" else MIMETYPES[export.fmt]


class BadRequest(ValueError):
    """A form field the page would never send; the message says which."""


def _definition(survey: Survey) -> Definition | None:
    version = survey.published_version()
    return definition_for(version) if version is not None else None


def read_options(form: Mapping, definition: Definition) -> ExportOptions:
    """The export form (and the dashboard's filters in it) as ExportOptions."""
    fmt = form.get("fmt", "xlsx")
    if fmt not in FORMATS:
        raise BadRequest(_("Choose a format: .xlsx, .csv, .sav, .dta, R or the report (.pdf)."))
    lang = form.get("lang") or None
    if lang is not None and lang not in definition.languages():
        raise BadRequest(_("The survey has no texts in the language %(lang)s.", lang=lang))
    breakdown = form.get("breakdown") or None
    question = definition.by_name.get(breakdown) if breakdown else None
    if breakdown and (question is None or not question.is_select):
        raise BadRequest(_("A breakdown must be by a select question of the survey."))
    try:
        filters = Filters.from_args(form, definition)
    except FilterError as error:
        raise BadRequest(
            _("The filters cannot be applied: %(reason)s", reason=error.problem.in_language(_))
        ) from None
    return ExportOptions(
        fmt=fmt,
        lang=lang,
        filters=filters,
        codes=form.get("codes") in ("1", "on", "yes"),
        breakdown=breakdown,
    )


def size_text(size: int | None) -> str:
    if size is None:
        return ""
    if size < 1024:
        return f"{size} B"
    return f"{size / 1024:.1f} KB" if size < 1024**2 else f"{size / 1024**2:.1f} MB"


def _page(
    survey: Survey, problem: str | None = None, status: int = 200, filters: Filters = NO_FILTERS
):
    definition = _definition(survey)
    rows = export_files.exports_of(survey)
    html = render_template(
        "admin/exports.html",
        lang=g.lang,
        survey=survey,
        title=title_of(survey, g.lang),
        definition=definition,
        exports=rows,
        problem=problem,
        filters=filters,
        # The form's own selector says which reviewed responses count.
        filter_lines=replace(filters, include=DEFAULT_INCLUDE).describe(definition, g.lang)
        if definition
        else [],
        select_questions=[q for q in definition.questions if q.is_select] if definition else [],
        language_names=LANGUAGE_NAMES,
        local_time=local_text,
        size_text=size_text,
        percent=export_files.percent,
        S=ExportStatus,
        keep_hours=f"{current_app.config['EXPORT_KEEP_HOURS']:g}",
        running=any(e.status in ExportStatus.ACTIVE for e in rows),
        download_name=lambda export: export_files.download_name(export, survey),
        file_ending=export_files.ending_of,
    )
    return html, status


@bp.get("/surveys/<slug>/exports")
@login_required
def exports(slug: str):
    """The list; the dashboard links here with its filters in the query string."""
    survey = visible_survey(slug)
    definition = _definition(survey)
    try:
        filters = Filters.from_args(request.args, definition) if definition else NO_FILTERS
    except FilterError as error:
        reason = error.problem.in_language(_)
        return _page(survey, _("The filters cannot be applied: %(reason)s", reason=reason), 400)
    return _page(survey, filters=filters)


@bp.post("/surveys/<slug>/exports")
@login_required
def start_export(slug: str):
    survey = visible_survey(slug)
    definition = _definition(survey)
    if definition is None:
        return _page(survey, _("There is nothing to export before the survey is published."), 409)
    try:
        options = read_options(request.form, definition)
    except BadRequest as error:
        return _page(survey, str(error), 400)
    export_files.start_export(survey, current_user, options)
    return redirect(url_for("admin.exports", slug=slug), code=303)


def _visible_export(export_id: int) -> tuple[ExportFile, Survey]:
    export = db.session.get(ExportFile, export_id)
    survey = db.session.get(Survey, export.survey_id) if export is not None else None
    if export is None or survey is None:
        abort(404)
    if not may_see(current_user, survey):
        abort(403)
    return export, survey


@bp.get("/exports/<int:export_id>/progress")
@login_required
def export_progress(export_id: int):
    """For exports.js, which moves the page's bars while exports run."""
    export, _survey = _visible_export(export_id)
    export_files.fail_stale([export])
    body = {
        "status": export.status,
        "rows_done": export.rows_done,
        "rows_total": export.rows_total,
        "percent": export_files.percent(export),
    }
    return body, 200, {"Cache-Control": "no-store"}


@bp.get("/exports/<int:export_id>/download")
@login_required
def download_export(export_id: int):
    export, survey = _visible_export(export_id)
    if not export_files.is_available(export):
        abort(404)
    name = export_files.download_name(export, survey)
    if export.storage == export_files.DATABASE:
        # Streamed a chunk at a time, from whichever node the balancer picked.
        response = Response(
            export_files.stored_chunks(db.engine, export.id), mimetype=_mimetype(export)
        )
        response.headers.set("Content-Disposition", "attachment", filename=name)
        if export.size is not None:
            response.content_length = export.size
        return response
    return send_file(
        export_files.path_of(export),
        mimetype=_mimetype(export),
        as_attachment=True,
        download_name=name,
    )
