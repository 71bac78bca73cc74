"""Formula injection and Excel's cell limit: text that a spreadsheet would run must
stay text, and text Excel cannot hold is cut where the reader sees it.

A cell starting with = + - @ (or a tab / carriage return that hides them) becomes a
live formula in Excel and LibreOffice. In a workbook such text is written as a
string cell with Excel's quote prefix; in CSV it gets a leading apostrophe.
Numbers are never touched, so -5 stays a number.

Excel refuses a cell of more than 32,767 characters (UTF-16 units; XlsxWriter would
silently truncate it); such text is cut, ends with CUT_MARKER, and the about sheet
counts them.
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
    """`text` as Excel can hold it: unchanged, or cut to the limit with the marker.

    Excel counts UTF-16 units: a character beyond U+FFFF (an emoji) counts twice."""
    if len(text) <= MAX_CELL_CHARS // 2 or _utf16_units(text) <= MAX_CELL_CHARS:
        return text
    room, end = MAX_CELL_CHARS - len(CUT_MARKER), 0
    for char in text:
        room -= 2 if ord(char) > 0xFFFF else 1
        if room < 0:
            break
        end += 1
    return text[:end] + CUT_MARKER


def _utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


class CutCount:
    """How many cells were cut, over every sheet, for the about sheet."""

    def __init__(self) -> None:
        self.cells = 0

    def fit(self, text: str) -> str:
        fitted = fit_cell(text)
        if fitted is not text:
            self.cells += 1
        return fitted
