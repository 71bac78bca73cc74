"""The builder's drafts: the newest version of a survey as a working copy, and saving
one change to it.

Every save takes the newest version's definition, applies one change, and stores the
result only if validate_definition() accepts the whole survey; otherwise the form comes
back with each problem at its field and nothing is saved. A published version is never
touched: the first change after publishing starts the next draft version.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

import sqlalchemy as sa
from flask import abort, flash, g, redirect, request, url_for
from flask_babel import format_number
from flask_babel import gettext as _

from survey_engine.admin.survey_access import (
    managed_survey,
    newest_or_404,
    status_name,
    title_of,
)
from survey_engine.catalog import DefinitionInvalid, save_definition
from survey_engine.definition import editing as edit
from survey_engine.definition import validate_definition
from survey_engine.definition.problems import in_language
from survey_engine.extensions import db
from survey_engine.i18n import LANGUAGE_NAMES
from survey_engine.models import Survey, SurveyStatus, SurveyVersion
from survey_engine.staff import audit


def editable_survey(slug: str) -> Survey:
    """The survey at `slug` if this account may change it and it is not archived (that
    one: back to its page with a message)."""
    survey = managed_survey(slug)
    if survey.status == SurveyStatus.ARCHIVED:
        flash(_("An archived survey cannot be edited."), "error")
        abort(redirect(url_for("admin.survey", slug=slug)))
    return survey


def revision(version: SurveyVersion) -> str:
    """Names what a form was drawn from, so that a save over someone else's newer
    change is refused instead of silently undoing it."""
    body = json.dumps(version.definition, sort_keys=True, ensure_ascii=False)
    return f"{version.number}-{hashlib.sha256(body.encode()).hexdigest()[:16]}"


def working_copy(survey: Survey) -> tuple[dict, SurveyVersion]:
    """A copy of the newest version's definition to change, and that version."""
    version = newest_or_404(survey)
    return copy.deepcopy(version.definition), version


class SaveRefused(Exception):
    """Nothing was saved; `problems` says why (the validator's, or a newer save)."""

    def __init__(self, problems: list[str]) -> None:
        # The validator's problems, in the page's words.
        self.problems = in_language(problems, _, format_number)
        super().__init__("\n".join(self.problems))


def save(survey: Survey, data: dict, change: str) -> None:
    """Store `data` as the draft, if nobody saved in between and the survey is valid."""
    # Locked until save_definition commits: two saves from one revision cannot both pass.
    newest = db.session.execute(
        sa.select(SurveyVersion)
        .where(SurveyVersion.id == newest_or_404(survey).id)
        .with_for_update()
    ).scalar_one()
    if request.form.get("revision") != revision(newest):
        db.session.rollback()
        raise SaveRefused(
            [
                _(
                    "Someone saved a change to this survey after you opened this "
                    "page. Nothing was saved; open it again to see their change."
                )
            ]
        )
    if data == newest.definition:
        db.session.rollback()
        return
    was_published = newest.published_at is not None
    before = copy.deepcopy(newest.definition)
    try:
        save_definition(data)
    except DefinitionInvalid as error:
        db.session.rollback()
        raise SaveRefused(error.problems) from error
    draft = newest_or_404(survey)
    draft.previous_definition = before  # one step of undo (builder_live.undo)
    db.session.commit()
    audit.record("survey_edited", survey, change=change)
    if was_published:
        flash(
            _(
                "Version %(number)s was started as a draft; the published version keeps "
                "collecting answers until you publish this one.",
                number=newest_or_404(survey).number,
            )
        )


def refuse_fields(problems: list[str], data: dict) -> None:
    """Refuse a form whose own fields are wrong (`path: text` problems), naming the
    validator's other problems with them, so every field shows its message at once."""
    if not problems:
        return
    flagged = {problem.split(": ", 1)[0] for problem in problems}
    others = [
        problem for problem in validate_definition(data) if problem.split(": ", 1)[0] not in flagged
    ]
    raise SaveRefused(problems + others)


def page_context(survey: Survey, data: dict, version: SurveyVersion) -> dict[str, Any]:
    """What every builder page's template reads."""
    return {
        "lang": g.lang,
        "survey": survey,
        "data": data,
        "title": title_of(survey, g.lang),
        "revision": revision(version),
        "version": version,
        "languages": edit.languages(data),
        "language_names": LANGUAGE_NAMES,
        "status_name": status_name,
    }


def text_in(value: Any, lang: str, default_language: str) -> str:
    """One language of a text as the form shows it (a plain string is the default's)."""
    if isinstance(value, dict):
        return value.get(lang, "")
    return value if isinstance(value, str) and lang == default_language else ""
