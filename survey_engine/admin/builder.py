"""The questionnaire builder: edit a survey's newest draft in the browser."""

from __future__ import annotations

from flask import abort
from flask_login import login_required

from survey_engine.admin import bp


@bp.get("/surveys/<slug>/edit")
@login_required
def builder(slug: str):
    abort(404)  # being built
