"""The questionnaire builder: staff edit a survey's newest draft in the browser.

Plain HTML forms, no framework. Every save takes the newest version's definition,
applies one change (survey_engine/definition/editing.py), and stores the result
only if validate_definition() accepts the whole survey; otherwise the form comes
back with each problem at its field and nothing is saved. A published version is
never touched: the first change after publishing starts the next draft version.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.datastructures import MultiDict

from survey_engine import params
from survey_engine.admin.blueprint import bp
from survey_engine.admin.surveys import (
    managed_survey,
    may_manage,
    status_name,
    title_of,
    visible_survey,
)
from survey_engine.catalog import DefinitionInvalid, find_survey, save_definition
from survey_engine.definition import Definition, clean_answers, validate_definition
from survey_engine.definition import editing as edit
from survey_engine.definition.schema import NUMBER_TYPES
from survey_engine.extensions import db
from survey_engine.i18n import LANGUAGE_NAMES, choose_language
from survey_engine.localtime import LOCAL_TIME
from survey_engine.models import Role, Survey, SurveyStatus, SurveyVersion
from survey_engine.public.rendering import answers_from_form
from survey_engine.public.routes import render_survey_page
from survey_engine.staff import audit
from survey_engine.staff.accounts import share_survey

APPEARANCES = ("", "minimal", "likert", "multiline")
PROBLEM_RE = re.compile(r"^(?P<path>[^:\s]+): (?P<text>.*)$", re.S)


# -- loading and saving -------------------------------------------------------------


def _editable_survey(slug: str) -> Survey:
    survey = managed_survey(slug)
    if survey.status == SurveyStatus.ARCHIVED:
        flash(_("An archived survey cannot be edited."), "error")
        abort(redirect(url_for("admin.survey", slug=slug)))
    return survey


def _newest(survey: Survey) -> SurveyVersion:
    if not survey.versions:
        abort(404)
    return survey.versions[-1]


def revision(version: SurveyVersion) -> str:
    """Names what a form was drawn from, so that a save over someone else's newer
    change is refused instead of silently undoing it."""
    body = json.dumps(version.definition, sort_keys=True, ensure_ascii=False)
    return f"{version.number}-{hashlib.sha256(body.encode()).hexdigest()[:16]}"


def working_copy(survey: Survey) -> tuple[dict, SurveyVersion]:
    version = _newest(survey)
    return copy.deepcopy(version.definition), version


class SaveRefused(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def save(survey: Survey, data: dict, change: str) -> None:
    """Store `data` as the draft, if nobody saved in between and the survey is valid."""
    # Locked until save_definition commits: two saves from one revision cannot both pass.
    newest = db.session.scalar(sa.select(SurveyVersion).where(
        SurveyVersion.id == _newest(survey).id).with_for_update())
    if request.form.get("revision") != revision(newest):
        db.session.rollback()
        raise SaveRefused([_("Someone saved a change to this survey after you opened this "
                             "page. Nothing was saved; open it again to see their change.")])
    if data == newest.definition:
        db.session.rollback()
        return
    was_published = newest.published_at is not None
    try:
        save_definition(data)
    except DefinitionInvalid as error:
        db.session.rollback()
        raise SaveRefused(error.problems) from error
    audit.record("survey_edited", survey, change=change)
    if was_published:
        flash(_("Version %(number)s was started as a draft; the published version keeps "
                "collecting answers until you publish this one.",
                number=_newest(survey).number))


def _refuse_fields(problems: list[str], data: dict) -> None:
    """Refuse a form whose own fields are wrong (`path: text` problems), naming the
    validator's other problems with them, so every field shows its message at once."""
    if not problems:
        return
    flagged = {problem.split(": ", 1)[0] for problem in problems}
    others = [problem for problem in validate_definition(data)
              if problem.split(": ", 1)[0] not in flagged]
    raise SaveRefused(problems + others)


def split_problems(problems: list[str], prefix: str) -> tuple[dict[str, list[str]], list[str]]:
    """Problems under `prefix` by their first key (`label`, `rows` ...); the rest with paths."""
    at_field: dict[str, list[str]] = {}
    elsewhere: list[str] = []
    for problem in problems:
        match = PROBLEM_RE.match(problem)
        path = match["path"] if match else ""
        if prefix and path.startswith(prefix + "."):
            field = re.split(r"[.\[]", path[len(prefix) + 1:])[0]
            at_field.setdefault(field, []).append(match["text"])
        else:
            elsewhere.append(problem)
    return at_field, elsewhere


def _page_context(survey: Survey, data: dict, version: SurveyVersion) -> dict[str, Any]:
    return {"lang": g.lang, "survey": survey, "data": data, "title": title_of(survey, g.lang),
            "revision": revision(version), "version": version,
            "languages": edit.languages(data), "language_names": LANGUAGE_NAMES,
            "status_name": status_name}


# -- form reading -------------------------------------------------------------------


def texts_from_form(form: MultiDict, field: str, languages: list[str]) -> dict | None:
    """`label.vi`, `label.en` ... -> {"vi": ..., "en": ...}, without empty ones."""
    value = {lang: form.get(f"{field}.{lang}", "").strip() for lang in languages}
    value = {lang: text for lang, text in value.items() if text}
    return value or None


# Whole-number fields and their ranges (the validator checks their order and more).
WHOLE_FIELDS = {"min_choices": (0, 10_000), "max_choices": (0, 10_000), "scale": (2, 10)}
MAX_RESPONSES_LIMIT = 1_000_000_000


def _number(text: str, problems: dict[str, list[str]] | None = None,
            field: str = "") -> int | float | str:
    """A finite number if it reads as one (a decimal comma too); else the text, and
    the problem at `field`: "nan", "inf" and Unicode digits never become numbers."""
    try:
        number = params.finite_number(text)
    except params.ParamError as error:
        if problems is not None:
            problems.setdefault(field, []).append(str(error))
        return text.strip()
    cleaned = text.strip().replace(",", ".")
    return int(number) if number.is_integer() and not set(".eE") & set(cleaned) else number


def _whole(text: str, low: int, high: int, problems: dict[str, list[str]],
           field: str) -> int | str:
    """A whole number in [low, high] in ASCII digits; else the text and the problem."""
    try:
        return params.whole_number(text, low, high)
    except params.ParamError as error:
        problems.setdefault(field, []).append(str(error))
        return text.strip()


def question_from_form(form: MultiDict, languages: list[str],
                       problems: dict[str, list[str]] | None = None) -> dict:
    """A question with only the properties its (possibly new) type takes; a number
    field that is not one is kept as typed, its problem added to `problems`."""
    problems = {} if problems is None else problems
    qtype = form.get("type", "")
    keys = edit.keys_for(qtype)
    question: dict[str, Any] = {"name": form.get("name", "").strip(), "type": qtype}
    for key in ("label", "hint", "required_message", "constraint_message"):
        if key in keys and (text := texts_from_form(form, key, languages)):
            question[key] = text
    if form.get("required"):
        question["required"] = True
    for key in ("relevant", "constraint", "choice_filter", "calculation", "appearance",
                "choices"):
        if key in keys and (value := form.get(key, "").strip()):
            question[key] = value
    if "other" in keys and form.get("other"):
        question["other"] = True
    for key in ("min", "max"):
        if key in keys and (value := form.get(key, "").strip()):
            question[key] = _number(value, problems, key) if qtype in NUMBER_TYPES else value
    for key in ("min_choices", "max_choices", "scale"):
        if key in keys and (value := form.get(key, "").strip()):
            question[key] = _whole(value, *WHOLE_FIELDS[key], problems, key)
    if value := form.get("default", "").strip():
        if qtype == "select_multiple":
            question["default"] = re.split(r"[\s,]+", value)
        elif qtype in NUMBER_TYPES or qtype in ("rating", "nps"):
            question["default"] = _number(value, problems, "default")
        else:
            question["default"] = value
    if "rows" in keys:
        question["rows"] = _table_rows(form, "row", languages)
    return question


def _table_rows(form: MultiDict, prefix: str, languages: list[str],
                extra_columns: list[str] = ()) -> list[dict]:
    """Rows of an editable table (`row-3-name`, `row-3-label.vi` ...): in the order of
    their `position`, without those whose name was emptied or `delete` ticked."""
    rows = []
    # Row numbers are the page's own: ASCII digits ("row-²-name" is no row of it).
    for index in sorted({int(k.split("-")[1]) for k in form if k.startswith(prefix + "-")
                         and re.fullmatch(r"[0-9]{1,6}", k.split("-")[1])}):
        key = f"{prefix}-{index}"
        name = form.get(f"{key}-name", "").strip()
        if not name or form.get(f"{key}-delete"):
            continue
        row: dict[str, Any] = {"name": name}
        row["label"] = texts_from_form(form, f"{key}-label", languages) or {}
        if not row["label"]:
            del row["label"]
        for column in extra_columns:
            if value := form.get(f"{key}-x-{column}", "").strip():
                row[column] = value
        if form.get(f"{key}-exclusive"):
            row["exclusive"] = True
        position = form.get(f"{key}-position", "").strip()
        rows.append((_position(position, index), index, row))
    return [row for _p, _i, row in sorted(rows, key=lambda r: (r[0], r[1]))]


def _position(text: str, index: int) -> float:
    """Where a row goes: its typed position, or where it stood when that is no number."""
    try:
        return params.finite_number(text)
    except params.ParamError:
        return index + 0.5


# -- the overview and structural changes --------------------------------------------


@bp.get("/surveys/<slug>/edit")
@login_required
def builder(slug: str):
    survey = _editable_survey(slug)
    data, version = working_copy(survey)
    return _overview(survey, data, version)


def _overview(survey: Survey, data: dict, version: SurveyVersion,
              problems: list[str] | None = None, status: int = 200):
    html = render_template("admin/builder/overview.html",
                           **_page_context(survey, data, version),
                           d=Definition(data), problems=problems or [],
                           types=edit.TYPES_IN_ORDER)
    return html, status


STRUCTURE_CHANGES = ("add_page", "add_question", "page_up", "page_down", "delete_page",
                     "question_up", "question_down", "delete_question")


@bp.post("/surveys/<slug>/edit")
@login_required
def change_structure(slug: str):
    """Add, move and delete pages and questions: one button, one change."""
    survey = _editable_survey(slug)
    data, version = working_copy(survey)
    form = request.form
    change = form.get("change", "")
    target = form.get("target", "")
    try:
        if change == "add_page":
            question = edit.blank_question(data, form.get("type", ""),
                                           form.get("question_name", "").strip(),
                                           form.get("question_label", "").strip())
            edit.add_page(data, form.get("page_name", "").strip(),
                          form.get("page_title", "").strip() or None, question)
        elif change == "add_question":
            question = edit.blank_question(data, form.get("type", ""),
                                           form.get("question_name", "").strip(),
                                           form.get("question_label", "").strip())
            data["pages"][edit.page_index(data, target)]["questions"].append(question)
        elif change in ("page_up", "page_down"):
            edit.move_page(data, target, -1 if change == "page_up" else 1)
        elif change == "delete_page":
            edit.delete_page(data, target)
        elif change in ("question_up", "question_down"):
            edit.move_question(data, target, -1 if change == "question_up" else 1)
        elif change == "delete_question":
            edit.delete_question(data, target)
        else:
            abort(400)
        save(survey, data, f"{change} {target or form.get('question_name', '')}".strip())
    except edit.EditRefused as error:
        return _overview(survey, working_copy(survey)[0], version, [str(error)], 422)
    except SaveRefused as error:
        db.session.rollback()
        return _overview(survey, working_copy(survey)[0], version,
                         [_("Not saved:")] + error.problems, 422)
    if change in ("add_question", "add_page"):
        return redirect(url_for("admin.edit_question", slug=slug,
                                name=form.get("question_name", "").strip()))
    return redirect(url_for("admin.builder", slug=slug) + f"#{target}")


# -- one question ---------------------------------------------------------------------


@bp.route("/surveys/<slug>/edit/questions/<name>", methods=["GET", "POST"])
@login_required
def edit_question(slug: str, name: str):
    survey = _editable_survey(slug)
    data, version = working_copy(survey)
    try:
        p, q = edit.question_position(data, name)
    except edit.EditRefused:
        abort(404)
    question, page_name = data["pages"][p]["questions"][q], data["pages"][p]["name"]
    errors: dict[str, list[str]] = {}
    others: list[str] = []
    if request.method == "POST":
        languages = edit.languages(data)
        field_problems: dict[str, list[str]] = {}
        question = question_from_form(request.form, languages, field_problems)
        page_name = request.form.get("page", page_name)
        try:
            _refuse_fields([f"pages[{p}].questions[{q}].{field}: {text}"
                            for field, texts in field_problems.items() for text in texts], data)
            edit.replace_question(data, name, question, page_name)
            if edit.NAME_RE.match(question["name"]):
                edit.rename_references(data, name, question["name"])
            p, q = edit.question_position(data, question["name"]) \
                if question["name"] else (p, q)
            save(survey, data, f"question {question['name']}")
        except edit.EditRefused as error:
            others = [str(error)]
        except SaveRefused as error:
            db.session.rollback()
            errors, others = split_problems(error.problems, f"pages[{p}].questions[{q}]")
            shown = edit.keys_for(question.get("type", "")) | {"page"}
            others += [f"{field}: {text}" for field, texts in errors.items()
                       if field not in shown for text in texts]
        else:
            flash(_("The question %(name)s was saved.", name=question["name"]))
            return redirect(url_for("admin.builder", slug=slug) + f"#q-{question['name']}")
    html = render_template(
        "admin/builder/question.html", **_page_context(survey, data, version),
        question=question, old_name=name, page_name=page_name, errors=errors, others=others,
        types=edit.TYPES_IN_ORDER, keys=edit.keys_for(question.get("type", "")),
        appearances=APPEARANCES, lists=sorted((data.get("choice_lists") or {}).keys()),
        text=_text_in)
    return html, 422 if errors or others else 200


def _text_in(value: Any, lang: str, default_language: str) -> str:
    """One language of a text as the form shows it (a plain string is the default's)."""
    if isinstance(value, dict):
        return value.get(lang, "")
    return value if isinstance(value, str) and lang == default_language else ""


# -- one page ---------------------------------------------------------------------------


@bp.route("/surveys/<slug>/edit/pages/<name>", methods=["GET", "POST"])
@login_required
def edit_page(slug: str, name: str):
    survey = _editable_survey(slug)
    data, version = working_copy(survey)
    try:
        index = edit.page_index(data, name)
    except edit.EditRefused:
        abort(404)
    page = data["pages"][index]
    errors: dict[str, list[str]] = {}
    others: list[str] = []
    if request.method == "POST":
        form = request.form
        page = {"name": form.get("name", "").strip(), **{
            key: value for key, value in (
                ("title", texts_from_form(form, "title", edit.languages(data))),
                ("relevant", form.get("relevant", "").strip())) if value},
            "questions": page["questions"]}
        data["pages"][index] = page
        try:
            save(survey, data, f"page {page['name']}")
        except SaveRefused as error:
            db.session.rollback()
            errors, others = split_problems(error.problems, f"pages[{index}]")
        else:
            flash(_("The page %(name)s was saved.", name=page["name"]))
            return redirect(url_for("admin.builder", slug=slug) + f"#{page['name']}")
    html = render_template("admin/builder/page.html", **_page_context(survey, data, version),
                           page=page, old_name=name, errors=errors, others=others,
                           text=_text_in)
    return html, 422 if errors or others else 200


# -- choice lists ---------------------------------------------------------------------


@bp.get("/surveys/<slug>/edit/lists")
@login_required
def new_list(slug: str):
    """The builder's "create a list" form: an empty table for the name asked for."""
    _editable_survey(slug)
    name = request.args.get("name", "").strip()
    if not edit.NAME_RE.match(name):
        flash(_("A list name has letters, digits and _, and starts with a letter."), "error")
        return redirect(url_for("admin.builder", slug=slug) + "#lists")
    return redirect(url_for("admin.edit_list", slug=slug, name=name, new=1))


@bp.route("/surveys/<slug>/edit/lists/<name>", methods=["GET", "POST"])
@login_required
def edit_list(slug: str, name: str):
    """One choice list as a table: name, label in each language, extra properties
    (what a choice_filter reads, such as a commune's district), exclusive."""
    survey = _editable_survey(slug)
    data, version = working_copy(survey)
    lists = data.setdefault("choice_lists", {})
    is_new = name not in lists
    if is_new and request.method == "GET" and not request.args.get("new"):
        abort(404)
    choices = lists.get(name, [])
    # Extra columns: those the choices have, and one just added (still empty).
    columns = sorted({key for c in choices for key in c} - {"name", "label", "exclusive"})
    columns += [c for c in request.args.getlist("column") if c not in columns]
    problems: list[str] = []
    if request.method == "POST":
        problems = _change_list(data, name, columns)
        if not problems:
            try:
                save(survey, data, f"choice list {name}")
            except SaveRefused as error:
                db.session.rollback()
                problems = error.problems
        if not problems:
            flash(_("The choice list %(name)s was saved.", name=name))
            if new_column := request.form.get("new_column", "").strip():
                # Back to the table, to fill the new column in.
                return redirect(url_for("admin.edit_list", slug=slug, name=name,
                                        column=new_column))
            return redirect(url_for("admin.builder", slug=slug) + "#lists")
        choices = lists.get(name, choices)
    html = render_template("admin/builder/list.html", **_page_context(survey, data, version),
                           list_name=name, choices=choices, columns=columns, is_new=is_new,
                           used_by=edit.list_users(data, name), others=problems,
                           text=_text_in, blank_rows=3 if choices else 5)
    return html, 422 if problems else 200


def _change_list(data: dict, name: str, columns: list[str]) -> list[str]:
    """Apply the list form to `data`; what is wrong with it, if anything."""
    form = request.form
    if new_column := form.get("new_column", "").strip():
        if not edit.NAME_RE.match(new_column) or new_column in ("name", "label"):
            return [_("A column name has letters, digits and _, and starts with a letter.")]
        columns.append(new_column)
    if form.get("delete_list"):
        if users := edit.list_users(data, name):
            return [_("The list is used by %(questions)s; it cannot be deleted.",
                      questions=", ".join(users))]
        del data["choice_lists"][name]
        return []
    data["choice_lists"][name] = _table_rows(form, "choice", edit.languages(data), columns)
    return []


# -- survey settings and translations ---------------------------------------------------


def local_input(moment: str | None) -> str:
    """An ISO time from the definition as a datetime-local value in Vietnam time."""
    if not moment:
        return ""
    try:
        return datetime.fromisoformat(moment).astimezone(LOCAL_TIME).strftime("%Y-%m-%dT%H:%M")
    except (ValueError, OverflowError):  # year 1 cannot move to Vietnam time
        return moment


def from_local_input(value: str, problems: list[str], field: str) -> str | None:
    """A datetime-local value typed in Vietnam time, as ISO 8601 with its offset; one
    that is no time from 1900 to 2100 (year 1 overflows when compared) is kept as
    typed, its problem added to `problems` as settings.<field>."""
    value = value.strip()
    if not value:
        return None
    try:
        return params.local_moment(value).isoformat()
    except params.ParamError as error:
        problems.append(f"settings.{field}: {error}")
        return value


SETTINGS_FIELDS = ("title", "description", "default_language", "opens_at", "closes_at",
                   "max_responses")


def settings_problems(problems: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    """The settings form's problems at its fields (`settings.opens_at` -> opens_at)."""
    at_field: dict[str, list[str]] = {}
    elsewhere: list[str] = []
    for problem in problems:
        match = PROBLEM_RE.match(problem)
        path = match["path"].removeprefix("settings.") if match else ""
        field = re.split(r"[.\[]", path)[0]
        if field in SETTINGS_FIELDS:
            at_field.setdefault(field, []).append(match["text"])
        else:
            elsewhere.append(problem)
    return at_field, elsewhere


@bp.route("/surveys/<slug>/edit/settings", methods=["GET", "POST"])
@login_required
def edit_settings(slug: str):
    survey = _editable_survey(slug)
    data, version = working_copy(survey)
    errors: dict[str, list[str]] = {}
    others: list[str] = []
    if request.method == "POST":
        form = request.form
        languages = edit.languages(data)
        data["default_language"] = form.get("default_language", "").strip() or "vi"
        for key in ("title", "description"):
            data[key] = texts_from_form(form, key, languages)
            if data[key] is None:
                del data[key]
        limit = form.get("max_responses", "").strip()
        problems: list[str] = []
        limit_problems: dict[str, list[str]] = {}
        data["settings"] = {
            "opens_at": from_local_input(form.get("opens_at", ""), problems, "opens_at"),
            "closes_at": from_local_input(form.get("closes_at", ""), problems, "closes_at"),
            "max_responses": _whole(limit, 1, MAX_RESPONSES_LIMIT, limit_problems,
                                    "max_responses") if limit else None}
        problems += [f"settings.max_responses: {text}"
                     for text in limit_problems.get("max_responses", [])]
        try:
            _refuse_fields(problems, data)
            save(survey, data, "settings")
        except SaveRefused as error:
            db.session.rollback()
            errors, others = settings_problems(error.problems)
        else:
            flash(_("The settings were saved."))
            return redirect(url_for("admin.builder", slug=slug))
    settings = data.get("settings") or {}
    html = render_template(
        "admin/builder/settings.html", **_page_context(survey, data, version),
        errors=errors, others=others, text=_text_in,
        opens_at=local_input(settings.get("opens_at")),
        closes_at=local_input(settings.get("closes_at")),
        max_responses=settings.get("max_responses") or "")
    return html, 422 if errors or others else 200


@bp.route("/surveys/<slug>/edit/translations", methods=["GET", "POST"])
@login_required
def edit_translations(slug: str):
    """Every text of the survey in a table, one column per language, side by side."""
    survey = _editable_survey(slug)
    data, version = working_copy(survey)
    languages = edit.languages(data)
    added = request.values.get("add_language", "").strip().lower()
    if added and added not in languages:
        languages.append(added)
    others: list[str] = []
    if request.method == "POST" and not request.form.get("only_add"):
        try:
            for key, _value in list(edit.iter_texts(data)):
                for lang in languages:
                    field = f"{key}|{lang}"
                    if field in request.form:
                        edit.set_text(data, key, lang, request.form[field])
            save(survey, data, "translations")
        except (SaveRefused, edit.EditRefused) as error:
            db.session.rollback()
            others = getattr(error, "problems", [str(error)])
        else:
            flash(_("The translations were saved."))
            return redirect(url_for("admin.edit_translations", slug=slug))
    html = render_template("admin/builder/translations.html",
                           **{**_page_context(survey, data, version), "languages": languages},
                           texts=list(edit.iter_texts(data)), others=others, text=_text_in,
                           added=added)
    return html, 422 if others else 200


# -- preview ----------------------------------------------------------------------------


@bp.route("/surveys/<slug>/preview", methods=["GET", "POST"])
@login_required
def preview(slug: str):
    """The newest version exactly as a citizen sees it; answers are checked, never stored."""
    survey = visible_survey(slug)
    version = _newest(survey)
    d = Definition(version.definition)
    lang = choose_language(d.languages(), d.default_language)
    page = {"action": url_for("admin.preview", slug=slug, lang=lang),
            "storage_key": f"preview:{slug}:{revision(version)}",
            "language_link": lambda code: url_for("admin.preview", slug=slug, lang=code),
            "preview": True}
    if request.method == "GET":
        return render_survey_page(d, lang, str(uuid.uuid4()), **page)
    values = answers_from_form(request.form, d)
    _answers, errors = clean_answers(d, values, lang)
    if errors:
        return render_survey_page(d, lang, request.form.get("submission_id", ""), **page,
                                  values=values, errors=errors, status=422)
    return redirect(url_for("admin.preview_thanks", slug=slug, lang=lang), code=303)


@bp.get("/surveys/<slug>/preview/thanks")
@login_required
def preview_thanks(slug: str):
    survey = visible_survey(slug)
    return render_template("admin/builder/preview_thanks.html", lang=g.lang, survey=survey,
                           title=title_of(survey, g.lang))


# -- a new, empty survey ---------------------------------------------------------------


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
        first = {"name": "q1", "type": "text",
                 "label": {language: form.get("first_question", "").strip() or "?"}}
        data = edit.new_definition(slug, form.get("title", "").strip(), language, first)
        problems = validate_definition(data)
    if problems:
        html = render_template("admin/new_survey.html", lang=g.lang, problems=[],
                               create_problems=problems, form=form)
        return html, 422
    survey = save_definition(data)
    if current_user.role != Role.ADMIN:
        share_survey(current_user, survey)
    audit.record("survey_created", survey, via="builder")
    flash(_("The survey was created as a draft; now add its questions."))
    return redirect(url_for("admin.builder", slug=slug))
