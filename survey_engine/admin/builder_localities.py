"""The builder's "where do you live?" form: which provinces of which structure, and
how deep; the questions and lists themselves come from definition/localities.py.

Why the era rides on each province's value ("2025:68"): one list of provinces serves
both structures without the page's script, and a province code means a different
area in each (Lâm Đồng 2025 holds old Đắk Nông and Bình Thuận).
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from survey_engine.definition.editing import EditRefused
from survey_engine.definition.localities import add_locality_block
from survey_engine.definition.locality_data import DEFAULT_ERA, ERAS, dataset

PREFIX_MAX = 20  # characters before "province", "district", "commune" in the names


def locality_options() -> list[dict[str, Any]]:
    """Per era (the current first): its label, source and provinces, for the form."""
    labels = {
        "2025": _("Since July 2025 (34 provinces)"),
        "pre2025": _("Before July 2025 (63 provinces)"),
    }
    return [
        {
            "era": era,
            "label": labels[era],
            "source": dataset(era).version,
            "provinces": [(f"{era}:{p.code}", p.name) for p in dataset(era).provinces],
        }
        for era in ERAS
    ]


def add_from_form(data: dict, form: Any, page: str) -> list[str]:
    """Read the form and add the block to `page`; EditRefused says what is wrong."""
    picked = [value.partition(":") for value in form.getlist("provinces")]
    eras = {era for era, _sep, _code in picked} or {DEFAULT_ERA}
    if len(eras) > 1:
        raise EditRefused(_("Pick the provinces of one structure: 2025 or before 2025."))
    prefix = form.get("prefix", "").strip()
    if len(prefix) > PREFIX_MAX:
        raise EditRefused(_("The name prefix is at most %(n)s characters.", n=PREFIX_MAX))
    return add_locality_block(
        data,
        page,
        eras.pop(),
        [code for _era, _sep, code in picked],
        form.get("depth", "commune"),
        prefix,
    )
