"""GET /admin/surveys/<slug>/uploads/<token>: a citizen's uploaded file, for staff who
may see the survey (the exports link here). Sent as an attachment with the type its
content was found to be and nosniff, so a browser never renders it as a page of this
site; never cached."""

from __future__ import annotations

from flask import Response, abort
from flask_login import login_required

from survey_engine.admin.blueprint import bp
from survey_engine.admin.survey_access import visible_survey
from survey_engine.definition.answer_types import UPLOAD_TOKEN_RE
from survey_engine.extensions import db
from survey_engine.intake.uploads import find_upload, upload_bytes


@bp.get("/surveys/<slug>/uploads/<token>")
@login_required
def download_upload(slug: str, token: str):
    """404 for an unknown survey or file (or another survey's); 403 without access."""
    survey = visible_survey(slug)
    upload = find_upload(survey.id, token) if UPLOAD_TOKEN_RE.match(token) else None
    if upload is None:
        abort(404)
    response = Response(upload_bytes(db.engine, upload.id), mimetype=upload.content_type)
    name = f"{survey.slug}-{upload.question}-{upload.token[:8]}.{upload.extension}"
    response.headers.set("Content-Disposition", "attachment", filename=name)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    response.content_length = upload.size
    return response
