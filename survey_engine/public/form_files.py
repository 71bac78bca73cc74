"""The questionnaire's file questions without JavaScript: the form is sent as
multipart/form-data, and its files are stored here (intake/uploads.py) before the
answers are checked, each answer becoming its upload's token, as the page's script
does through the upload route. A file refused (too large, a kind the question does
not take) is the question's error; every other answer, and every file already
received (its token, in a hidden field), comes back with the page.

The body of such a form may hold a file per file question: its limit is raised to
that, for this survey's form only; anything larger is the 413 page.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, request, url_for

from survey_engine.catalog import Published
from survey_engine.definition import Definition
from survey_engine.intake.uploads import PICKER, UploadRefused, shown_megabytes, store

# Room beside the files for the answers themselves (MAX_CONTENT_LENGTH's job elsewhere).
FORM_SLACK_BYTES = 256 * 1024


def allow_files(d: Definition) -> None:
    """Before the form is read: room for one file per file question of `d`."""
    if d.file_questions:
        most = current_app.config["UPLOAD_MAX_BYTES"] * len(d.file_questions)
        request.max_content_length = most + FORM_SLACK_BYTES


def store_form_files(survey: Published, values: dict[str, Any], lang: str) -> dict[str, str]:
    """Store each file sent with the form; its question's answer becomes the token (a
    file refused leaves the token sent before, if any). Returns {question: message}."""
    problems: dict[str, str] = {}
    max_bytes = current_app.config["UPLOAD_MAX_BYTES"]
    for q in survey.definition.file_questions:
        sent = request.files.get(q.name)
        if sent is None or not sent.filename:
            continue  # no new file: the hidden field's token (or nothing) stands
        try:
            values[q.name] = store(survey.survey_id, q, sent.stream, max_bytes).token
        except UploadRefused as refused:
            problems[q.name] = refused.text(lang)
    return problems


def upload_context(d: Definition) -> dict[str, Any] | None:
    """What the template's file questions need: the upload route (for the page's
    script), the limit in bytes and MB, the file picker's hints; None without any."""
    if not d.file_questions:
        return None
    max_bytes = current_app.config["UPLOAD_MAX_BYTES"]
    return {
        "url": url_for("api.upload_file", slug=d.slug),
        "max_bytes": max_bytes,
        "megabytes": shown_megabytes(max_bytes),
        "accept": PICKER,
    }
