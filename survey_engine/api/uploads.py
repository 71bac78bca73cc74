"""POST /api/v1/surveys/<slug>/uploads: one citizen's file for a file question, stored
before the answers (intake/uploads.py says why); the answer then carries its token.

Anonymous like the submission API, and called by the questionnaire's script as soon as
a file is chosen. Rate limited per client address (UPLOAD_RATE_LIMIT, api/limits.py):
a file costs far more than an answer. The body may be UPLOAD_MAX_BYTES and a little
form around it, where every other public request stays within MAX_CONTENT_LENGTH.
"""

from __future__ import annotations

from flask import abort, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from survey_engine.api.blueprint import bp
from survey_engine.catalog import published, unavailable_reason
from survey_engine.definition.families import FILE
from survey_engine.i18n import choose_language, message
from survey_engine.intake.uploads import UploadRefused, shown_megabytes, store

# Room beside the file for the multipart headers and the `question` field.
FORM_SLACK_BYTES = 64 * 1024


@bp.post("/surveys/<slug>/uploads")
def upload_file(slug: str):
    """201 {"token", "size", "type"}; 404 unknown survey or question; 410 closed; 413
    too large; 415 not a kind the question takes; 422 empty; 400 no file sent."""
    survey = published(slug)
    if survey is None:
        abort(404, "no published survey with this slug")
    d = survey.definition
    lang = choose_language(d.languages(), d.default_language)
    if reason := unavailable_reason(survey):
        return {"error": f"this survey does not take responses now ({reason})"}, 410
    max_bytes = current_app.config["UPLOAD_MAX_BYTES"]
    request.max_content_length = max_bytes + FORM_SLACK_BYTES
    try:
        name = request.form.get("question", "")
        sent = request.files.get("file")
    except RequestEntityTooLarge:
        text = message("upload_too_large", lang, limit=shown_megabytes(max_bytes))
        return {"error": text, "code": "upload_too_large"}, 413
    question = d.by_name.get(name)
    if question is None or question.type not in FILE:
        return {"error": "'question' must name a file question of this survey"}, 404
    if sent is None:
        return {"error": "send the file as the multipart/form-data field 'file'"}, 400
    try:
        upload = store(survey.survey_id, question, sent.stream, max_bytes)
    except UploadRefused as refused:
        return {"error": refused.text(lang), "code": refused.key}, refused.status
    return {"token": upload.token, "size": upload.size, "type": upload.extension}, 201
