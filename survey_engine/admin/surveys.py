"""One survey for staff: its page, lifecycle buttons, definition uploads and downloads.

Who may do what: anyone the survey is shared with (and every admin) sees the page and
downloads the definition and the responses; editors it is shared with, and admins,
upload new versions and move it along draft -> published -> closed -> archived.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from flask import abort, flash, g, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.utils import secure_filename

from exports import export_survey
from survey_engine.admin import bp
from survey_engine.auth import may_see, share_survey
from survey_engine.definition import validate_definition
from survey_engine.definition.xlsform import XLSFormInvalid, read_xlsform, write_xlsform
from survey_engine.extensions import db
from survey_engine.models import Role, Survey, SurveyStatus, SurveyVersion
from survey_engine.surveys import (
    DefinitionInvalid,
    find_survey,
    response_count,
    save_definition,
    set_status,
)

try:
    from zoneinfo import ZoneInfo

    LOCAL_TIME = ZoneInfo("Asia/Ho_Chi_Minh")
except Exception:  # no time zone database on this machine: Vietnam has no DST
    LOCAL_TIME = timezone(timedelta(hours=7), "ICT")

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The endpoints that take a file; admin.init_app lets them exceed MAX_CONTENT_LENGTH.
UPLOAD_ENDPOINTS = frozenset({"admin.new_survey", "admin.survey"})


def local_time(moment: datetime | None) -> str:
    """A stored (UTC) time as Vietnam reads it; SQLite gives naive UTC datetimes back."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(LOCAL_TIME).strftime("%Y-%m-%d %H:%M")


def title_of(survey: Survey, lang: str) -> str:
    title = survey.title
    if isinstance(title, dict):
        return title.get(lang) or next(iter(title.values()), survey.slug)
    return title or survey.slug


def status_name(status: str) -> str:
    return {SurveyStatus.DRAFT: _("draft"), SurveyStatus.PUBLISHED: _("published"),
            SurveyStatus.CLOSED: _("closed"), SurveyStatus.ARCHIVED: _("archived")}.get(
                status, status)


def may_manage(user, survey: Survey | None = None) -> bool:
    """Upload and lifecycle: admins, and editors (for a survey: one shared with them)."""
    if user.role == Role.ADMIN:
        return True
    return user.role == Role.EDITOR and (survey is None or may_see(user, survey))


def _visible_survey(slug: str) -> Survey:
    survey = find_survey(slug)
    if survey is None:
        abort(404)
    if not may_see(current_user, survey):
        abort(403)
    return survey


def _managed_survey(slug: str) -> Survey:
    survey = _visible_survey(slug)
    if not may_manage(current_user, survey):
        abort(403)
    return survey


def _newest(survey: Survey) -> SurveyVersion | None:
    return survey.versions[-1] if survey.versions else None


# -- reading an uploaded definition -------------------------------------------------


def read_upload() -> tuple[dict | None, list[str]]:
    """The definition in the request's file (JSON or .xlsx), or every problem with it."""
    upload = request.files.get("definition")
    if upload is None or not upload.filename:
        return None, [_("Choose a file: a JSON definition or an XLSForm (.xlsx).")]
    suffix = Path(upload.filename).suffix.lower()
    if suffix == ".json":
        try:
            data = json.loads(upload.read().decode("utf-8-sig"))
        except UnicodeDecodeError:
            return None, [_("The JSON file is not UTF-8 text.")]
        except json.JSONDecodeError as error:
            return None, [_("Not valid JSON: %(error)s (line %(line)s, column %(column)s).",
                            error=error.msg, line=error.lineno, column=error.colno)]
        return data, validate_definition(data)
    if suffix in (".xlsx", ".xls"):
        with tempfile.TemporaryDirectory() as folder:
            # Without a form_id, the slug comes from the file's name.
            name = secure_filename(upload.filename) or "upload" + suffix
            path = Path(folder) / (name if name.lower().endswith(suffix) else name + suffix)
            upload.save(path)
            try:
                return read_xlsform(path), []
            except XLSFormInvalid as error:
                return None, error.problems
    return None, [_("Only .json and .xlsx files can be uploaded.")]


def _store(data: dict, survey: Survey | None) -> tuple[Survey | None, list[str]]:
    """Save `data` as a draft version; for a new survey its slug must be free."""
    slug = data.get("slug")
    if survey is None and find_survey(slug) is not None:
        return None, [_("A survey with the slug %(slug)s already exists; upload the new "
                        "version on its page.", slug=slug)]
    if survey is not None and slug != survey.slug:
        return None, [_("The file is for the survey %(other)s, not %(slug)s.",
                        other=slug, slug=survey.slug)]
    if survey is not None and survey.status == SurveyStatus.ARCHIVED:
        return None, [_("An archived survey takes no new versions.")]
    try:
        return save_definition(data), []
    except DefinitionInvalid as error:
        db.session.rollback()
        return None, error.problems


# -- pages --------------------------------------------------------------------------


def _survey_page(survey: Survey, problems: list[str] | None = None, status: int = 200):
    versions = list(reversed(survey.versions))
    html = render_template(
        "admin/survey.html", lang=g.lang, survey=survey, title=title_of(survey, g.lang),
        versions=versions, local_time=local_time, status_name=status_name,
        responses=response_count(survey.id),
        may_manage=may_manage(current_user, survey), problems=problems or [],
        has_draft=bool(versions) and versions[0].published_at is None,
        has_published=any(v.published_at for v in versions), SurveyStatus=SurveyStatus)
    return html, status


@bp.route("/surveys/new", methods=["GET", "POST"])
@login_required
def new_survey():
    if not may_manage(current_user):
        abort(403)
    problems: list[str] = []
    if request.method == "POST":
        data, problems = read_upload()
        if not problems:
            survey, problems = _store(data, None)
            if not problems:
                if current_user.role != Role.ADMIN:
                    share_survey(current_user, survey)
                flash(_("The survey was created as a draft."))
                return redirect(url_for("admin.survey", slug=survey.slug))
    html = render_template("admin/new_survey.html", lang=g.lang, problems=problems)
    return html, 422 if problems else 200


@bp.route("/surveys/<slug>", methods=["GET", "POST"])
@login_required
def survey(slug: str):
    if request.method == "GET":
        return _survey_page(_visible_survey(slug))
    survey = _managed_survey(slug)
    data, problems = read_upload()
    if not problems:
        _saved, problems = _store(data, survey)
    if problems:
        db.session.refresh(survey)
        return _survey_page(survey, problems, 422)
    flash(_("The new draft version was saved."))
    return redirect(url_for("admin.survey", slug=slug))


# -- lifecycle ----------------------------------------------------------------------


@bp.post("/surveys/<slug>/publish")
@login_required
def publish(slug: str):
    survey = _managed_survey(slug)
    newest = _newest(survey)
    if newest is None or survey.status == SurveyStatus.ARCHIVED:
        flash(_("This survey cannot be published."), "error")
    else:
        # Publishes the newest draft, or (re)publishes the newest version as it is.
        save_definition(newest.definition, publish=True)
        flash(_("The survey is published."))
    return redirect(url_for("admin.survey", slug=slug))


# action: (the statuses it starts from, the status it leads to)
TRANSITIONS = {
    "close": ((SurveyStatus.PUBLISHED,), SurveyStatus.CLOSED),
    "reopen": ((SurveyStatus.CLOSED,), SurveyStatus.PUBLISHED),
    "archive": ((SurveyStatus.CLOSED,), SurveyStatus.ARCHIVED),
}


@bp.post("/surveys/<slug>/<any(close, reopen, archive):action>")
@login_required
def change_status(slug: str, action: str):
    survey = _managed_survey(slug)
    sources, target = TRANSITIONS[action]
    if survey.status not in sources:
        flash(_("Not possible while the survey is %(status)s.",
                status=status_name(survey.status)),
              "error")
    else:
        set_status(survey, target)
        flash(_("The survey is now %(status)s.", status=status_name(target)))
    return redirect(url_for("admin.survey", slug=slug))


# -- downloads ----------------------------------------------------------------------


def _newest_or_404(survey: Survey) -> SurveyVersion:
    newest = _newest(survey)
    if newest is None:
        abort(404)
    return newest


def _send_temporary(path: str, name: str, mimetype: str):
    """Send a file this request wrote, and remove it (POSIX: the open file stays readable)."""
    handle = open(path, "rb")  # noqa: SIM115 - closed by the response
    os.unlink(path)
    return send_file(handle, mimetype=mimetype, as_attachment=True, download_name=name)


@bp.get("/surveys/<slug>/definition.json")
@login_required
def definition_json(slug: str):
    survey = _visible_survey(slug)
    version = _newest_or_404(survey)
    body = json.dumps(version.definition, ensure_ascii=False, indent=2) + "\n"
    return send_file(io.BytesIO(body.encode("utf-8")), mimetype="application/json",
                     as_attachment=True, download_name=f"{slug}-v{version.number}.json")


@bp.get("/surveys/<slug>/definition.xlsx")
@login_required
def definition_xlsx(slug: str):
    survey = _visible_survey(slug)
    version = _newest_or_404(survey)
    fd, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(fd)
    try:
        write_xlsform(version.definition, path)
    except BaseException:
        os.unlink(path)
        raise
    return _send_temporary(path, f"{slug}-v{version.number}.xlsx", XLSX_MIME)


@bp.get("/surveys/<slug>/responses.xlsx")
@login_required
def export_responses(slug: str):
    survey = _visible_survey(slug)
    if survey.published_version() is None:
        flash(_("There is nothing to export before the survey is published."), "error")
        return redirect(url_for("admin.survey", slug=slug))
    fd, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(fd)
    try:
        export_survey(survey, Path(path), "xlsx")  # in the survey's own language
    except BaseException:
        os.unlink(path)
        raise
    stamp = datetime.now(LOCAL_TIME).strftime("%Y%m%d-%H%M")
    return _send_temporary(path, f"{slug}-responses-{stamp}.xlsx", XLSX_MIME)
