"""Question types in plain words for staff: the builder's type lists and question
lines, the results' question headings. The definition keeps XLSForm's names
(select_one, nps ...); staff see what a type asks, in their language."""

from __future__ import annotations

from flask_babel import gettext as _

from survey_engine.admin.blueprint import bp
from survey_engine.i18n import N_

TYPE_NAMES = {
    "select_one": N_("Choose one"),
    "select_multiple": N_("Choose several"),
    "text": N_("Free text"),
    "integer": N_("Whole number"),
    "decimal": N_("Number with decimals"),
    "date": N_("Date"),
    "email": N_("Email address"),
    "phone": N_("Phone number"),
    "rating": N_("Rating (stars)"),
    "nps": N_("0 to 10 scale (would recommend)"),
    "rank": N_("Ranking"),
    "matrix": N_("Grid (rows with the same choices)"),
    "acknowledge": N_("Tick to agree"),
    "note": N_("Note (no answer)"),
    "hidden": N_("Hidden value"),
    "calculate": N_("Calculation"),
    "geopoint": N_("Location (latitude, longitude)"),
    "barcode": N_("Barcode or QR code"),
    "image": N_("Photo"),
    "audio": N_("Audio recording"),
    "video": N_("Video"),
    "file": N_("File"),
    "repeat": N_("Roster (the same questions for each member, each item)"),
}


@bp.app_template_global()
def type_name(qtype: str) -> str:
    """A question type as staff read it; an unknown type as it is written."""
    name = TYPE_NAMES.get(qtype)
    return _(name) if name else qtype
