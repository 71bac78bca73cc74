"""The builder's survey-wide pages: settings (title, languages, schedule, response
limit) and every text of the survey side by side in each language."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from survey_engine.admin import builder_drafts as drafts
from survey_engine.admin.blueprint import bp
from survey_engine.admin.builder_forms import (
    MAX_RESPONSES_LIMIT,
    SETTINGS_FIELDS,
    access_from_form,
    from_local_input,
    local_input,
    settings_problems,
    texts_from_form,
    whole_from_text,
)
from survey_engine.definition import editing as edit
from survey_engine.definition.schema import ACCESS_MODES
from survey_engine.extensions import db


def _settings_from_form(form, settings: dict, problems: list[str]) -> dict:
    """The settings the form edits, over the ones it does not (e.g. quotas); a value
    that cannot be read is kept as typed and its problem added to `problems`."""
    limit = form.get("max_responses", "").strip()
    limit_problems: dict[str, list[str]] = {}
    kept = {key: value for key, value in settings.items() if key not in SETTINGS_FIELDS}
    edited = {
        **kept,
        **access_from_form(form, problems),
        "opens_at": from_local_input(form.get("opens_at", ""), problems, "opens_at"),
        "closes_at": from_local_input(form.get("closes_at", ""), problems, "closes_at"),
        "max_responses": whole_from_text(
            limit, 1, MAX_RESPONSES_LIMIT, limit_problems, "max_responses"
        )
        if limit
        else None,
    }
    problems += [
        f"settings.max_responses: {text}" for text in limit_problems.get("max_responses", [])
    ]
    return edited


@bp.route("/surveys/<slug>/edit/settings", methods=["GET", "POST"])
@login_required
def edit_settings(slug: str):
    survey = drafts.editable_survey(slug)
    data, version = drafts.working_copy(survey)
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
        problems: list[str] = []
        data["settings"] = _settings_from_form(form, data.get("settings") or {}, problems)
        try:
            drafts.refuse_fields(problems, data)
            drafts.save(survey, data, "settings")
        except drafts.SaveRefused as error:
            db.session.rollback()
            errors, others = settings_problems(error.problems)
        else:
            flash(_("The settings were saved."))
            return redirect(url_for("admin.builder", slug=slug))
    settings = data.get("settings") or {}
    html = render_template(
        "admin/builder/settings.html",
        **drafts.page_context(survey, data, version),
        errors=errors,
        others=others,
        text=drafts.text_in,
        opens_at=local_input(settings.get("opens_at")),
        closes_at=local_input(settings.get("closes_at")),
        max_responses=settings.get("max_responses") or "",
        settings=settings,
        access_modes=ACCESS_MODES,
        quotas=settings.get("quotas") or [],
    )
    return html, 422 if errors or others else 200


@bp.route("/surveys/<slug>/edit/translations", methods=["GET", "POST"])
@login_required
def edit_translations(slug: str):
    """Every text of the survey in a table, one column per language, side by side."""
    survey = drafts.editable_survey(slug)
    data, version = drafts.working_copy(survey)
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
            drafts.save(survey, data, "translations")
        except (drafts.SaveRefused, edit.EditRefused) as error:
            db.session.rollback()
            others = (
                error.problems
                if isinstance(error, drafts.SaveRefused)
                else [error.problem.in_language(_)]
            )
        else:
            flash(_("The translations were saved."))
            return redirect(url_for("admin.edit_translations", slug=slug))
    html = render_template(
        "admin/builder/translations.html",
        **{**drafts.page_context(survey, data, version), "languages": languages},
        texts=list(edit.iter_texts(data)),
        others=others,
        text=drafts.text_in,
        added=added,
    )
    return html, 422 if others else 200
