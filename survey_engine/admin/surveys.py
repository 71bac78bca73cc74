"""One survey for staff: its page, and a new survey or version from an uploaded file
(or, for the builder, from a slug and a title).

Who may do what: anyone the survey is shared with (and every admin) sees the page;
editors it is shared with, and admins, upload new versions. The lifecycle buttons are
in survey_lifecycle.py, the downloads in survey_files.py, who may see what in
survey_access.py. Every upload is written to the audit log once it has succeeded.
"""

from __future__ import annotations

import json
import tempfile
from datetime import datetime
from pathlib import Path

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import format_number, format_percent
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.utils import secure_filename

from survey_engine.admin.blueprint import bp
from survey_engine.admin.survey_access import (
    managed_survey,
    may_manage,
    status_name,
    title_of,
    visible_survey,
)
from survey_engine.catalog import (
    DefinitionInvalid,
    find_survey,
    published,
    response_count,
    save_definition,
    unavailable_reason,
)
from survey_engine.definition import editing as edit
from survey_engine.definition import validate_definition
from survey_engine.definition.problems import ProblemList, in_language
from survey_engine.definition.xlsform import XLSFormInvalid, read_xlsform
from survey_engine.extensions import db
from survey_engine.i18n import UI_LANGUAGES, choose_language
from survey_engine.localtime import local_text as local_time
from survey_engine.models import Role, Survey, SurveyStatus
from survey_engine.public.rendering import render_message
from survey_engine.results.quota_fill import QuotaView, quota_views
from survey_engine.results.report import merged_survey
from survey_engine.staff import audit
from survey_engine.staff.accounts import share_survey
from survey_engine.untrusted import MAX_JSON_DEPTH, TooDeep, load_json

# The endpoints that take a file; admin.init_app lets them exceed MAX_CONTENT_LENGTH.
# Notes of the XLSForm reader shown after an upload; the rest are counted.
MAX_FLASHED_NOTES = 20
UPLOAD_ENDPOINTS = frozenset({"admin.new_survey", "admin.survey", "admin.weights"})


# -- reading an uploaded definition -------------------------------------------------


def listed(problems: list[str], total: int | None = None) -> list[str]:
    """The first MAX_LISTED_PROBLEMS problems, then how many more there are: a page
    listing 2.1 million problems helps nobody and weighed 162 MB."""
    found = ProblemList(in_language(problems, _, format_number), total)
    shown = found.listed
    if found.more:
        shown.append(_("… and %(count)s more problems.", count=format_number(found.more)))
    return shown


def decode_json(raw: bytes) -> tuple[object, list[str]]:
    """A JSON definition file's data, or why it cannot be read (UTF-8, syntax, depth)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return None, [
            _(
                "The JSON file is not UTF-8 text: byte %(position)s cannot be "
                "read; save it as UTF-8.",
                position=format_number(error.start + 1),
            )
        ]
    try:
        return load_json(text), []
    except TooDeep:
        return None, [
            _(
                "The JSON file is nested more than %(depth)s levels deep; a survey "
                "definition needs about 6.",
                depth=MAX_JSON_DEPTH,
            )
        ]
    except json.JSONDecodeError as error:
        return None, [
            _(
                "Not valid JSON: %(error)s (line %(line)s, column %(column)s).",
                error=error.msg,
                line=error.lineno,
                column=error.colno,
            )
        ]
    except ValueError as error:  # NaN / Infinity
        return None, [_("Not valid JSON: %(error)s.", error=str(error))]


def read_upload() -> tuple[dict | None, list[str], list[str]]:
    """The definition in the request's file (JSON, .xlsx or .xls), or its first problems
    and how many more: every limit of the XLSForm reader and of JSON applies; then the
    XLSForm reader's notes (what it ignored or adjusted)."""
    upload = request.files.get("definition")
    if upload is None or not upload.filename:
        return None, [_("Choose a file: a JSON definition or an XLSForm (.xlsx or .xls).")], []
    suffix = Path(upload.filename).suffix.lower()
    if suffix == ".json":
        data, problems = decode_json(upload.read())
        if problems:
            return None, problems, []
        # Anything but an object is a problem of validate_definition's, so no data.
        return (data if isinstance(data, dict) else None), listed(validate_definition(data)), []
    if suffix in (".xlsx", ".xls"):
        with tempfile.TemporaryDirectory() as folder:
            # Without a form_id, the slug comes from the file's name.
            name = secure_filename(upload.filename) or "upload" + suffix
            path = Path(folder) / (name if name.lower().endswith(suffix) else name + suffix)
            upload.save(path)
            notes: list[str] = []
            try:
                return read_xlsform(path, notes), [], notes
            except XLSFormInvalid as error:
                return None, listed(error.problems, error.total), []
    return None, [_("Only .json, .xlsx and .xls files can be uploaded.")], []


def flash_notes(notes: list[str]) -> None:
    """The XLSForm reader's notes after a saved upload, the first MAX_FLASHED_NOTES."""
    for note in in_language(notes[:MAX_FLASHED_NOTES], _, format_number):
        flash(_("Read with a note: %(note)s", note=note))
    if len(notes) > MAX_FLASHED_NOTES:
        flash(_("… and %(count)d more notes.", count=len(notes) - MAX_FLASHED_NOTES))


def _store(data: dict, survey: Survey | None) -> tuple[Survey | None, list[str]]:
    """Save `data` as a draft version; for a new survey its slug must be free."""
    slug = data.get("slug")
    # A slug that is no text is the validator's to refuse, in save_definition below.
    if survey is None and isinstance(slug, str) and find_survey(slug) is not None:
        return None, [
            _(
                "A survey with the slug %(slug)s already exists; upload the new "
                "version on its page.",
                slug=slug,
            )
        ]
    if survey is not None and slug != survey.slug:
        return None, [
            _("The file is for the survey %(other)s, not %(slug)s.", other=slug, slug=survey.slug)
        ]
    if survey is not None and survey.status == SurveyStatus.ARCHIVED:
        return None, [_("An archived survey takes no new versions.")]
    try:
        return save_definition(data), []
    except DefinitionInvalid as error:
        db.session.rollback()
        return None, listed(error.problems)


# -- pages --------------------------------------------------------------------------


def _setting_time(value: str | None) -> str:
    return local_time(datetime.fromisoformat(value)) if value else ""


def availability(reason: str | None) -> str:
    """unavailable_reason() in words, for staff."""
    if reason is None:
        return _("yes")
    return {
        "closed": _("no: the survey is closed"),
        "not_open": _("no: it is not open yet"),
        "full": _("no: the response limit is reached"),
    }.get(reason, reason)


def _schedule(survey: Survey) -> dict | None:
    """What the public side goes by: the newest published version's schedule and limit."""
    snapshot = published(survey.slug)
    if snapshot is None:
        return None
    settings = snapshot.definition.settings
    return {
        "opens_at": _setting_time(settings.get("opens_at")),
        "closes_at": _setting_time(settings.get("closes_at")),
        "max_responses": settings.get("max_responses"),
        "accepting": availability(unavailable_reason(snapshot)),
    }


def _quotas(survey: Survey) -> tuple[QuotaView, ...]:
    """How full the published version's quotas are (results/quota_fill.py)."""
    merged = merged_survey(survey)
    return quota_views(survey.id, merged, g.lang) if merged is not None else ()


def _survey_page(survey: Survey, problems: list[str] | None = None, status: int = 200):
    versions = list(reversed(survey.versions))
    responses = response_count(survey.id)
    manages = may_manage(current_user, survey)
    html = render_template(
        "admin/survey.html",
        lang=g.lang,
        survey=survey,
        title=title_of(survey, g.lang),
        versions=versions,
        local_time=local_time,
        status_name=status_name,
        responses=responses,
        schedule=_schedule(survey),
        quotas=_quotas(survey),
        number=format_number,
        percent=lambda ratio: format_percent(ratio, "#,##0.0%"),
        may_manage=manages,
        problems=problems or [],
        # The delete page has the last word (buffered responses, the typed slug).
        may_delete=manages and (current_user.role == Role.ADMIN or responses == 0),
        has_draft=bool(versions) and versions[0].published_at is None,
        has_published=any(v.published_at for v in versions),
        SurveyStatus=SurveyStatus,
    )
    return html, status


@bp.errorhandler(RequestEntityTooLarge)
def upload_too_large(error: RequestEntityTooLarge):
    """A definition file over ADMIN_UPLOAD_MAX_BYTES: the upload's own page says so, with
    the limit (elsewhere in the staff pages, the usual 413 page)."""
    lang = choose_language(UI_LANGUAGES, "vi")  # CSRF's check may have run first
    slug = (request.view_args or {}).get("slug")
    survey = find_survey(slug) if isinstance(slug, str) else None
    # Nothing may abort in an error handler: whoever may not upload here gets the
    # usual page.
    if (
        request.endpoint not in UPLOAD_ENDPOINTS
        or not current_user.is_authenticated
        or not may_manage(current_user, survey)
        or (slug is not None and survey is None)
    ):
        return render_message(lang, "too_large", 413)
    problems = [
        _(
            "The file is larger than %(size)s MB; at most that much can be uploaded.",
            size=format_number(current_app.config["ADMIN_UPLOAD_MAX_BYTES"] / (1024 * 1024)),
        )
    ]
    if survey is None:
        return render_template("admin/new_survey.html", lang=lang, problems=problems), 413
    return _survey_page(survey, problems, 413)


@bp.route("/surveys/new", methods=["GET", "POST"])
@login_required
def new_survey():
    if not may_manage(current_user):
        abort(403)
    problems: list[str] = []
    if request.method == "POST":
        data, problems, notes = read_upload()
        if data is not None and not problems:
            survey, problems = _store(data, None)
            if survey is not None:
                if current_user.role != Role.ADMIN:
                    share_survey(current_user, survey)
                audit.record("survey_created", survey, version=survey.versions[-1].number)
                flash(_("The survey was created as a draft."))
                flash_notes(notes)
                return redirect(url_for("admin.survey", slug=survey.slug))
    html = render_template("admin/new_survey.html", lang=g.lang, problems=problems)
    return html, 422 if problems else 200


@bp.route("/surveys/<slug>", methods=["GET", "POST"])
@login_required
def survey(slug: str):
    if request.method == "GET":
        return _survey_page(visible_survey(slug))
    survey = managed_survey(slug)
    data, problems, notes = read_upload()
    if data is not None and not problems:
        _saved, problems = _store(data, survey)
    if problems:
        db.session.refresh(survey)
        return _survey_page(survey, problems, 422)
    audit.record("version_uploaded", survey, version=survey.versions[-1].number)
    flash(_("The new draft version was saved."))
    flash_notes(notes)
    return redirect(url_for("admin.survey", slug=slug))


@bp.post("/surveys/create")
@login_required
def create_survey():
    """A new draft from a slug and a title; the builder takes it from there."""
    if not may_manage(current_user):
        abort(403)
    form = request.form
    slug = form.get("slug", "").strip()
    language = form.get("language", "vi")
    if find_survey(slug) is not None:
        problems = [_("A survey with the slug %(slug)s already exists.", slug=slug)]
    else:
        first = {
            "name": "q1",
            "type": "text",
            "label": {language: form.get("first_question", "").strip() or "?"},
        }
        data = edit.new_definition(slug, form.get("title", "").strip(), language, first)
        problems = in_language(validate_definition(data), _, format_number)
    if problems:
        html = render_template(
            "admin/new_survey.html", lang=g.lang, problems=[], create_problems=problems, form=form
        )
        return html, 422
    survey = save_definition(data)
    if current_user.role != Role.ADMIN:
        share_survey(current_user, survey)
    audit.record("survey_created", survey, via="builder")
    flash(_("The survey was created as a draft; now add its questions."))
    return redirect(url_for("admin.builder", slug=slug))
