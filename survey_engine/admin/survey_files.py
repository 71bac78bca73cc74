"""A survey's files for staff: its definition (JSON or XLSForm) and its responses.

Anyone the survey is shared with (and every admin) may download them; each download
is written to the audit log.
"""

from __future__ import annotations

import io
import os
import tempfile
from datetime import datetime
from pathlib import Path

from flask import flash, redirect, send_file, url_for
from flask_babel import gettext as _
from flask_login import login_required

from survey_engine.admin.blueprint import bp
from survey_engine.admin.survey_access import XLSX_MIME, newest_or_404, visible_survey
from survey_engine.definition.json_file import definition_bytes
from survey_engine.definition.xlsform_writer import write_xlsform
from survey_engine.exporting.survey_file import export_survey
from survey_engine.localtime import LOCAL_TIME
from survey_engine.staff import audit


def _send_temporary(path: str, name: str, mimetype: str):
    """Send a file this request wrote, and remove it (POSIX: the open file stays readable)."""
    handle = open(path, "rb")  # noqa: SIM115 - closed by the response
    os.unlink(path)
    return send_file(handle, mimetype=mimetype, as_attachment=True, download_name=name)


@bp.get("/surveys/<slug>/definition.json")
@login_required
def definition_json(slug: str):
    survey = visible_survey(slug)
    version = newest_or_404(survey)
    audit.record("exported", survey, kind="definition.json", version=version.number)
    return send_file(
        io.BytesIO(definition_bytes(version.definition)),
        mimetype="application/json",
        as_attachment=True,
        download_name=f"{slug}-v{version.number}.json",
    )


@bp.get("/surveys/<slug>/definition.xlsx")
@login_required
def definition_xlsx(slug: str):
    survey = visible_survey(slug)
    version = newest_or_404(survey)
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
