"""One survey for staff: its page, lifecycle buttons, definition uploads and downloads.

Who may do what: anyone the survey is shared with (and every admin) sees the page and
downloads the definition and the responses; editors it is shared with, and admins,
upload new versions and move it along draft -> published -> closed -> archived,
duplicate it, and delete it (one with responses: admins only, typing its slug).
Every change and download is written to the audit log once it has succeeded.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import os
import tempfile
from datetime import datetime
from pathlib import Path

import redis
import sqlalchemy as sa
from flask import (
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import format_number
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.utils import secure_filename

from survey_engine.admin.blueprint import bp
from survey_engine.catalog import (
    DefinitionInvalid,
    find_survey,
    forget_deleted,
    published,
    response_count,
    save_definition,
    set_status,
    unavailable_reason,
)
from survey_engine.definition import validate_definition
from survey_engine.definition.schema import SLUG_RE
from survey_engine.definition.xlsform import (
    MAX_LISTED_PROBLEMS,
    XLSFormInvalid,
    read_xlsform,
    write_xlsform,
)
from survey_engine.exporting import files as export_files
from survey_engine.exporting.survey_file import export_survey
from survey_engine.extensions import db
from survey_engine.i18n import UI_LANGUAGES, choose_language
from survey_engine.intake.buffer import current_buffer, waiting
from survey_engine.localtime import LOCAL_TIME
from survey_engine.localtime import local_text as local_time
from survey_engine.models import (
    ExportFile,
    Response,
    ResultState,
    Role,
    Survey,
    SurveyShare,
    SurveyStatus,
    SurveyVersion,
    Tally,
)
from survey_engine.staff import audit
from survey_engine.staff.accounts import may_see, share_survey
from survey_engine.untrusted import MAX_JSON_DEPTH, TooDeep, load_json

log = logging.getLogger(__name__)

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The endpoints that take a file; admin.init_app lets them exceed MAX_CONTENT_LENGTH.
UPLOAD_ENDPOINTS = frozenset({"admin.new_survey", "admin.survey"})


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


def visible_survey(slug: str) -> Survey:
    survey = find_survey(slug)
    if survey is None:
        abort(404)
    if not may_see(current_user, survey):
        abort(403)
    return survey


def managed_survey(slug: str) -> Survey:
    survey = visible_survey(slug)
    if not may_manage(current_user, survey):
        abort(403)
    return survey


def _newest(survey: Survey) -> SurveyVersion | None:
    return survey.versions[-1] if survey.versions else None


# -- reading an uploaded definition -------------------------------------------------


def listed(problems: list[str], total: int | None = None) -> list[str]:
    """The first MAX_LISTED_PROBLEMS problems, then how many more there are: a page
    listing 2.1 million problems helps nobody and weighed 162 MB."""
    total = max(total or 0, len(problems))
    shown = problems[:MAX_LISTED_PROBLEMS]
    if total > len(shown):
        shown.append(_("… and %(count)s more problems.",
                       count=format_number(total - len(shown))))
    return shown


def decode_json(raw: bytes) -> tuple[object, list[str]]:
    """A JSON definition file's data, or why it cannot be read (UTF-8, syntax, depth)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return None, [_("The JSON file is not UTF-8 text: byte %(position)s cannot be "
                        "read; save it as UTF-8.", position=format_number(error.start + 1))]
    try:
        return load_json(text), []
    except TooDeep:
        return None, [_("The JSON file is nested more than %(depth)s levels deep; a survey "
                        "definition needs about 6.", depth=MAX_JSON_DEPTH)]
    except json.JSONDecodeError as error:
        return None, [_("Not valid JSON: %(error)s (line %(line)s, column %(column)s).",
                        error=error.msg, line=error.lineno, column=error.colno)]
    except ValueError as error:  # NaN / Infinity
        return None, [_("Not valid JSON: %(error)s.", error=str(error))]


def read_upload() -> tuple[dict | None, list[str]]:
    """The definition in the request's file (JSON or .xlsx), or its first problems and
    how many more: every limit of the XLSForm reader and of JSON applies."""
    upload = request.files.get("definition")
    if upload is None or not upload.filename:
        return None, [_("Choose a file: a JSON definition or an XLSForm (.xlsx).")]
    suffix = Path(upload.filename).suffix.lower()
    if suffix == ".json":
        data, problems = decode_json(upload.read())
        if problems:
            return None, problems
        return data, listed(validate_definition(data))  # type: ignore[return-value]
    if suffix in (".xlsx", ".xls"):
        with tempfile.TemporaryDirectory() as folder:
            # Without a form_id, the slug comes from the file's name.
            name = secure_filename(upload.filename) or "upload" + suffix
            path = Path(folder) / (name if name.lower().endswith(suffix) else name + suffix)
            upload.save(path)
            try:
                return read_xlsform(path), []
            except XLSFormInvalid as error:
                return None, listed(error.problems, error.total)
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
        return None, listed(error.problems)


# -- pages --------------------------------------------------------------------------


def _setting_time(value: str | None) -> str:
    return local_time(datetime.fromisoformat(value)) if value else ""


def availability(reason: str | None) -> str:
    """unavailable_reason() in words, for staff."""
    return {None: _("yes"), "closed": _("no: the survey is closed"),
            "not_open": _("no: it is not open yet"),
            "full": _("no: the response limit is reached")}.get(reason, reason)


def _schedule(survey: Survey) -> dict | None:
    """What the public side goes by: the newest published version's schedule and limit."""
    snapshot = published(survey.slug)
    if snapshot is None:
        return None
    settings = snapshot.definition.settings
    return {"opens_at": _setting_time(settings.get("opens_at")),
            "closes_at": _setting_time(settings.get("closes_at")),
            "max_responses": settings.get("max_responses"),
            "accepting": availability(unavailable_reason(snapshot))}


def _survey_page(survey: Survey, problems: list[str] | None = None, status: int = 200):
    versions = list(reversed(survey.versions))
    responses = response_count(survey.id)
    manages = may_manage(current_user, survey)
    html = render_template(
        "admin/survey.html", lang=g.lang, survey=survey, title=title_of(survey, g.lang),
        versions=versions, local_time=local_time, status_name=status_name,
        responses=responses, schedule=_schedule(survey),
        may_manage=manages, problems=problems or [],
        # The delete page has the last word (buffered responses, the typed slug).
        may_delete=manages and (current_user.role == Role.ADMIN or responses == 0),
        has_draft=bool(versions) and versions[0].published_at is None,
        has_published=any(v.published_at for v in versions), SurveyStatus=SurveyStatus)
    return html, status


@bp.errorhandler(RequestEntityTooLarge)
def upload_too_large(error: RequestEntityTooLarge):
    """A definition file over ADMIN_UPLOAD_MAX_BYTES: the upload's own page says so, with
    the limit (elsewhere in the staff pages, the usual 413 page)."""
    from survey_engine.public.routes import render_message

    lang = choose_language(UI_LANGUAGES, "vi")  # CSRF's check may have run first
    slug = (request.view_args or {}).get("slug")
    survey = find_survey(slug) if isinstance(slug, str) else None
    # Nothing may abort in an error handler: whoever may not upload here gets the
    # usual page.
    if request.endpoint not in UPLOAD_ENDPOINTS or not current_user.is_authenticated \
            or not may_manage(current_user, survey) or (slug is not None and survey is None):
        return render_message(lang, "too_large", 413)
    problems = [_("The file is larger than %(size)s MB; at most that much can be uploaded.",
                  size=format_number(current_app.config["ADMIN_UPLOAD_MAX_BYTES"]
                                     / (1024 * 1024)))]
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
        data, problems = read_upload()
        if not problems:
            survey, problems = _store(data, None)
            if not problems:
                if current_user.role != Role.ADMIN:
                    share_survey(current_user, survey)
                audit.record("survey_created", survey, version=survey.versions[-1].number)
                flash(_("The survey was created as a draft."))
                return redirect(url_for("admin.survey", slug=survey.slug))
    html = render_template("admin/new_survey.html", lang=g.lang, problems=problems)
    return html, 422 if problems else 200


@bp.route("/surveys/<slug>", methods=["GET", "POST"])
@login_required
def survey(slug: str):
    if request.method == "GET":
        return _survey_page(visible_survey(slug))
    survey = managed_survey(slug)
    data, problems = read_upload()
    if not problems:
        _saved, problems = _store(data, survey)
    if problems:
        db.session.refresh(survey)
        return _survey_page(survey, problems, 422)
    audit.record("version_uploaded", survey, version=survey.versions[-1].number)
    flash(_("The new draft version was saved."))
    return redirect(url_for("admin.survey", slug=slug))


# -- lifecycle ----------------------------------------------------------------------


@bp.post("/surveys/<slug>/publish")
@login_required
def publish(slug: str):
    survey = managed_survey(slug)
    newest = _newest(survey)
    if newest is None or survey.status == SurveyStatus.ARCHIVED:
        flash(_("This survey cannot be published."), "error")
    else:
        # Publishes the newest draft, or (re)publishes the newest version as it is.
        try:
            save_definition(newest.definition, publish=True)
        except DefinitionInvalid as error:  # stored before a check that now refuses it
            db.session.rollback()
            flash(_("This version cannot be published: %(problem)s (%(count)s problem(s) "
                    "in all). Correct it in the builder or upload a corrected file.",
                    problem=error.problems[0], count=format_number(len(error.problems))),
                  "error")
            return redirect(url_for("admin.survey", slug=slug))
        audit.record("published", survey, version=survey.published_version().number)
        flash(_("The survey is published."))
    return redirect(url_for("admin.survey", slug=slug))


# action: (the statuses it starts from, the status it leads to, its audit action)
TRANSITIONS = {
    "close": ((SurveyStatus.PUBLISHED,), SurveyStatus.CLOSED, "closed"),
    "reopen": ((SurveyStatus.CLOSED,), SurveyStatus.PUBLISHED, "reopened"),
    "archive": ((SurveyStatus.CLOSED,), SurveyStatus.ARCHIVED, "archived"),
}


@bp.post("/surveys/<slug>/<any(close, reopen, archive):action>")
@login_required
def change_status(slug: str, action: str):
    survey = managed_survey(slug)
    sources, target, logged = TRANSITIONS[action]
    if survey.status not in sources:
        flash(_("Not possible while the survey is %(status)s.",
                status=status_name(survey.status)),
              "error")
    else:
        set_status(survey, target)
        audit.record(logged, survey)
        flash(_("The survey is now %(status)s.", status=status_name(target)))
    return redirect(url_for("admin.survey", slug=slug))


# -- duplicate and delete -----------------------------------------------------------


def _with_title(data: dict, title: str) -> dict | str:
    """The definition's title with `title` in its default language."""
    old = data.get("title")
    if not isinstance(old, dict):
        return title
    lang = data.get("default_language") or next(iter(old), "vi")
    return {**old, lang: title}


def _copy(version: SurveyVersion, slug: str, title: str) -> tuple[Survey | None, list[str]]:
    """Save `version`'s definition as a new draft survey at `slug`, or say why not."""
    if not SLUG_RE.match(slug):
        return None, [_("The new address must be 1 to 64 lower-case letters, digits and "
                        "'-', starting and ending with a letter or digit.")]
    if find_survey(slug) is not None:
        return None, [_("A survey with the slug %(slug)s already exists.", slug=slug)]
    data = copy.deepcopy(version.definition)
    data["slug"] = slug
    if title:
        data["title"] = _with_title(data, title)
    try:
        return save_definition(data), []
    except DefinitionInvalid as error:
        db.session.rollback()
        return None, error.problems


@bp.route("/surveys/<slug>/duplicate", methods=["GET", "POST"])
@login_required
def duplicate_survey(slug: str):
    """A new draft from the newest version: the usual start of next year's round."""
    source = managed_survey(slug)
    newest = _newest_or_404(source)
    new_slug = request.form.get("slug", "").strip()
    new_title = request.form.get("title", "").strip()
    problems: list[str] = []
    if request.method == "POST":
        copied, problems = _copy(newest, new_slug, new_title)
        if copied is not None:
            if current_user.role != Role.ADMIN:
                share_survey(current_user, copied)
            audit.record("duplicated", copied, **{"from": slug, "to": new_slug})
            flash(_("The copy was created as a draft."))
            return redirect(url_for("admin.survey", slug=new_slug))
    html = render_template("admin/duplicate_survey.html", lang=g.lang, survey=source,
                           title=title_of(source, g.lang), version=newest.number,
                           new_slug=new_slug, new_title=new_title, problems=problems)
    return html, 422 if problems else 200


def _waiting(survey_id: int) -> int | None:
    """Submissions in the Redis buffer not stored yet; None when Redis cannot be asked."""
    buffer = current_buffer()
    if buffer is None:
        return 0
    try:
        return waiting(buffer.client, survey_id)
    except redis.RedisError as error:
        log.warning("cannot count the buffered submissions of survey %s: %s", survey_id, error)
        return None


def _delete(survey: Survey) -> None:
    """Everything of the survey, in one transaction; SQLite would not cascade."""
    survey_id, slug = survey.id, survey.slug
    version_ids = [version.id for version in survey.versions]
    files = export_files.files_of_survey(survey_id)
    for model in (ResultState, ExportFile, Response, Tally, SurveyShare, SurveyVersion):
        db.session.execute(sa.delete(model).where(model.survey_id == survey_id))
    db.session.execute(sa.delete(Survey).where(Survey.id == survey_id))
    db.session.commit()
    for path in files:
        path.unlink(missing_ok=True)
    forget_deleted(slug, survey_id, version_ids)
    buffer = current_buffer()
    if buffer is not None:
        try:
            buffer.forget(survey_id)
        except redis.RedisError as error:  # the survey is gone; stale keys only cost memory
            log.warning("deleted survey %s (id %s) but not its Redis keys: %s",
                        slug, survey_id, error)


@bp.route("/surveys/<slug>/delete", methods=["GET", "POST"])
@login_required
def delete_survey(slug: str):
    """Deleting loses answers for good: closed first, and with responses admins only,
    who type the slug, so a slip of the mouse cannot do it."""
    survey = managed_survey(slug)
    stored = response_count(survey.id)
    buffered = _waiting(survey.id)
    # A buffer that cannot be asked may hold answers: the careful path then.
    has_responses = stored > 0 or buffered != 0
    is_admin = current_user.role == Role.ADMIN
    problem, status = None, 200
    if request.method == "POST":
        if survey.status == SurveyStatus.PUBLISHED:
            problem, status = _("Close the survey before deleting it."), 409
        elif has_responses and not is_admin:
            abort(403)
        elif has_responses and request.form.get("confirm_slug", "").strip() != slug:
            problem, status = _("Type the slug %(slug)s exactly to delete the survey.",
                                slug=slug), 422
        elif not has_responses and request.form.get("confirm") != "yes":
            problem, status = _("Tick the box to confirm the deletion."), 422
        else:
            try:
                _delete(survey)
            except sa.exc.IntegrityError:  # an answer stored meanwhile points at it
                db.session.rollback()
                problem, status = _("Responses arrived while deleting; nothing was "
                                    "deleted. Please try again."), 409
            else:
                responses = stored + (buffered or 0)
                audit.record("deleted", slug, responses=responses)
                flash(_("The survey %(slug)s was deleted with its %(count)s responses.",
                        slug=slug, count=responses))
                return redirect(url_for("admin.index"))
    html = render_template(
        "admin/delete_survey.html", lang=g.lang, survey=survey, title=title_of(survey, g.lang),
        stored=stored, buffered=buffered, has_responses=has_responses, is_admin=is_admin,
        is_published=survey.status == SurveyStatus.PUBLISHED, problem=problem)
    return html, status


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


def definition_bytes(definition: dict) -> bytes:
    """The definition as UTF-8 JSON; one stored before the checks, holding a lone
    surrogate, is written with ASCII escapes (still exact JSON) instead of failing."""
    try:
        return (json.dumps(definition, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(definition, ensure_ascii=True, indent=2) + "\n").encode("ascii")


@bp.get("/surveys/<slug>/definition.json")
@login_required
def definition_json(slug: str):
    survey = visible_survey(slug)
    version = _newest_or_404(survey)
    audit.record("exported", survey, kind="definition.json", version=version.number)
    return send_file(io.BytesIO(definition_bytes(version.definition)),
                     mimetype="application/json",
                     as_attachment=True, download_name=f"{slug}-v{version.number}.json")


@bp.get("/surveys/<slug>/definition.xlsx")
@login_required
def definition_xlsx(slug: str):
    survey = visible_survey(slug)
    version = _newest_or_404(survey)
    fd, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(fd)
    try:
        write_xlsform(version.definition, path)
    except BaseException:
        os.unlink(path)
        raise
    audit.record("exported", survey, kind="definition.xlsx", version=version.number)
    return _send_temporary(path, f"{slug}-v{version.number}.xlsx", XLSX_MIME)


@bp.get("/surveys/<slug>/responses.xlsx")
@login_required
def export_responses(slug: str):
    survey = visible_survey(slug)
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
    audit.record("exported", survey, kind="responses.xlsx")
    stamp = datetime.now(LOCAL_TIME).strftime("%Y%m%d-%H%M")
    return _send_temporary(path, f"{slug}-responses-{stamp}.xlsx", XLSX_MIME)
