"""Formula injection and Excel's cell limit: text that a spreadsheet would run must
stay text, and text Excel cannot hold is cut where the reader sees it.

A cell starting with = + - @ (or a tab / carriage return that hides them) becomes a
live formula in Excel and LibreOffice. In a workbook such text is written as a
string cell with Excel's quote prefix; in CSV it gets a leading apostrophe.
Numbers are never touched, so -5 stays a number.

Excel refuses a cell of more than 32,767 characters (XlsxWriter would silently write
nothing); such text is cut, ends with CUT_MARKER, and the about sheet counts them.
"""

from __future__ import annotations

import re

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MAX_CELL_CHARS = 32_767
CUT_MARKER = "…[cut]"
# XlsxWriter reads a chart or series name of this shape as a cell reference formula
# (chart.py, _process_names), so such a title must be given as a reference instead.
CHART_FORMULA_RE = re.compile(r"^=?[^!]+!\$?[A-Z]+\$?\d+")


def looks_like_formula(text: str) -> bool:
    return text.startswith(FORMULA_STARTS)


def csv_safe(value: object) -> object:
    if isinstance(value, str) and looks_like_formula(value):
        return "'" + value
    return value


def fit_cell(text: str) -> str:
    """`text` as Excel can hold it: unchanged, or cut to the limit with the marker."""
    if len(text) <= MAX_CELL_CHARS:
        return text
    return text[:MAX_CELL_CHARS - len(CUT_MARKER)] + CUT_MARKER


class CutCount:
    """How many cells were cut, over every sheet, for the about sheet."""

    def __init__(self) -> None:
        self.cells = 0

    def fit(self, text: str) -> str:
        if len(text) <= MAX_CELL_CHARS:
            return text
        self.cells += 1
        return fit_cell(text)
