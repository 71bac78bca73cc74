"""A survey's access codes for closed mode (editors and admins of the survey): make a
batch of codes for a unit, see how many of each unit's codes have answered, download a
batch as CSV, a printable A4 PDF of QR cards or PNG pages. Every action is audited.
"""

from __future__ import annotations

import io
from urllib.parse import urlsplit

from flask import abort, flash, g, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from exports.code_sheets import CodeCard, SheetText, write_csv, write_pdf, write_png
from survey_engine import params
from survey_engine.admin.blueprint import bp
from survey_engine.admin.survey_access import managed_survey, title_of
from survey_engine.catalog import definition_for
from survey_engine.intake import code_batches
from survey_engine.localtime import local_text
from survey_engine.models import AccessCodeBatch, Survey
from survey_engine.results.unit_rates import unit_rates
from survey_engine.staff import audit
from survey_engine.untrusted import bad_character_at, safe_text

DOWNLOADS = {"csv": "text/csv", "pdf": "application/pdf", "png": "image/png"}
SHEET_PART = 600  # codes in one PDF or PNG download: 50 pages, ~3.5 s to draw on a busy core


def _access_mode(survey: Survey) -> str:
    version = survey.published_version() or (survey.versions[-1] if survey.versions else None)
    if version is None:
        return "open"
    return definition_for(version).settings.get("access") or "open"


def _page(survey: Survey, unit: str = "", size: str = "", error: str | None = None):
    html = render_template(
        "admin/access_codes.html",
        lang=g.lang,
        survey=survey,
        title=title_of(survey, g.lang),
        batches=code_batches.batches_of(survey.id),
        unit_rates=unit_rates(survey.id),
        closed_mode=_access_mode(survey) == "code",
        unit=unit,
        size=size,
        error=error,
        limits=code_batches.BATCH_SIZE,
        unit_max=code_batches.UNIT_MAX,
        sheet_part=SHEET_PART,
        local_time=local_text,
    )
    return html, 422 if error else 200


@bp.route("/surveys/<slug>/codes", methods=["GET", "POST"])
@login_required
def access_codes(slug: str):
    survey = managed_survey(slug)
    if request.method == "GET":
        return _page(survey)
    unit = " ".join(request.form.get("unit", "").split())  # one line on the cards
    size_text = request.form.get("size", "").strip()[:20]
    low, high = code_batches.BATCH_SIZE
    try:
        size = params.whole_number(size_text, low, high)
    except params.ParamError:
        error = _("The number of codes must be a whole number from %(low)s to %(high)s.")
        return _page(survey, safe_text(unit[:200]), size_text, error % {"low": low, "high": high})
    if not unit or len(unit) > code_batches.UNIT_MAX or bad_character_at(unit) is not None:
        error = _("Name the unit (a school, a commune) in at most %(n)s characters.")
        return _page(survey, safe_text(unit[:200]), size_text, error % {"n": code_batches.UNIT_MAX})
    try:
        batch = code_batches.create_batch(survey.id, unit, size, current_user.email)
    except code_batches.BatchRefused:
        return _page(survey, unit, size_text, _("The codes could not be made; please try again."))
    audit.record("codes_created", survey, batch=batch.id, unit=batch.unit, size=size)
    flash(_("%(n)s codes were made for %(unit)s.", n=size, unit=batch.unit))
    return redirect(url_for("admin.access_codes", slug=slug))


def _cards(survey: Survey, batch: AccessCodeBatch) -> list[CodeCard]:
    cards = []
    for _number, code in code_batches.codes_of(batch):
        shown = code_batches.written(code)
        link = url_for("public.questionnaire", slug=survey.slug, code=shown, _external=True)
        cards.append(CodeCard(shown, link, batch.unit))
    return cards


@bp.get("/surveys/<slug>/codes/<int:batch_id>.<fmt>")
@login_required
def download_codes(slug: str, batch_id: int, fmt: str):
    survey = managed_survey(slug)
    batch = code_batches.batch_of(survey.id, batch_id)
    if batch is None or fmt not in DOWNLOADS:
        abort(404)
    cards = _cards(survey, batch)
    suffix = ""
    if fmt != "csv":  # sheets in parts a request draws in seconds (~6 ms a card)
        parts = -(-len(cards) // SHEET_PART)
        try:
            part = params.whole_number(request.args.get("part", "1")[:10], 1, parts)
        except params.ParamError:
            abort(404)
        cards = cards[(part - 1) * SHEET_PART : part * SHEET_PART]
        suffix = f"-part{part}" if parts > 1 else ""
    address = url_for("public.questionnaire", slug=survey.slug, _external=True)
    where = urlsplit(address)
    text = SheetText(title_of(survey, "vi"), where.netloc + where.path, _("Code"))
    buffer = io.BytesIO()
    mimetype, name = DOWNLOADS[fmt], f"{survey.slug}-codes-{batch.id}{suffix}.{fmt}"
    if fmt == "csv":
        write_csv(buffer, cards, [_("code"), _("link"), _("unit")])
    elif fmt == "pdf":
        write_pdf(buffer, cards, text)
    elif write_png(buffer, cards, text):
        mimetype, name = "application/zip", f"{survey.slug}-codes-{batch.id}{suffix}-png.zip"
    audit.record("codes_downloaded", survey, batch=batch_id, format=fmt, codes=len(cards))
    buffer.seek(0)
    return send_file(buffer, mimetype=mimetype, as_attachment=True, download_name=name)
