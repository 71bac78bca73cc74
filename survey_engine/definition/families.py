"""Question types by family, and what counts as a number: one definition for the
checks, the form builder, the dashboard, the results API and the files.

Every output that counts answers reads the families from here, so a question is a
number (or a select, or not asked at all) in the same way everywhere.
"""

from __future__ import annotations

import math
import re
from typing import Any

# Answered by choosing from the list; filters and cross-tabs take them.
SELECT = frozenset({"select_one", "select_multiple"})
# Answered with a number: summarised by mean, quartiles and the rest.
NUMBER = frozenset({"integer", "decimal", "rating", "nps"})
# Numbers typed freely, the ones a definition bounds with min and max.
TYPED_NUMBER = frozenset({"integer", "decimal"})
# Free text: listed and searched, never summed. A barcode is text the camera may type.
TEXT = frozenset({"text", "barcode"})
# Filled in by the engine, not by the citizen: they say nothing about reaching a page.
NOT_ASKED = frozenset({"note", "calculate", "hidden"})
# Need no label: the citizen never sees them.
UNSEEN = frozenset({"hidden", "calculate"})
MATRIX = frozenset({"matrix"})
RANK = frozenset({"rank"})
DATE = frozenset({"date"})
# A place: {"lat", "lon"[, "acc"]}, exported as one number column each.
GEOPOINT = frozenset({"geopoint"})
# Answered with a file the citizen uploads first (intake/uploads.py): the answer is
# the upload's token; exports show a staff-only link to it.
FILE = frozenset({"image", "audio", "video", "file"})
# The parts of a geopoint answer, in column order, with the export's column suffix.
GEO_PARTS = (("lat", "latitude"), ("lon", "longitude"), ("acc", "accuracy"))
# A roster: the same questions asked once per row (a household's members). Its answer
# is a list of rows, each {sub-question name: answer}; exports give it a sheet or file
# of its own, one line per row (1:n with the responses).
REPEAT = frozenset({"repeat"})
# What a roster's rows may ask: one plain answer per question, so that a row is one
# line of its sheet. Not a roster in a roster, nor matrices, rankings, places or files.
IN_REPEAT = frozenset(
    {
        "select_one",
        "select_multiple",
        "text",
        "integer",
        "decimal",
        "date",
        "barcode",
        "email",
        "phone",
        "rating",
        "nps",
        "note",
        "acknowledge",
        "calculate",
    }
)
# Their answers name choices of a choice list.
CHOICE_LIST = SELECT | RANK | MATRIX

# A number an older version stored as text ("12", "-3.5"): ASCII digits, a sign, one
# decimal point. No exponent, no thousands separator, no "nan" or "inf".
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def number_of(value: Any) -> float | None:
    """The number an answer holds, or None: a finite int or float (not a bool), or a
    text that reads as a finite decimal number. Anything else is not a number, in
    every output alike."""
    if type(value) is int:
        return float(value)
    if type(value) is float:
        return value if math.isfinite(value) else None
    if type(value) is str:
        text = value.strip()
        if _DECIMAL.fullmatch(text):
            number = float(text)
            return number if math.isfinite(number) else None
    return None
