"""Typed, safe cells for every sheet: numbers as numbers, text always as text.

XlsxWriter's write() would turn "=..." into a live formula, so nothing here calls
it: each value goes to write_number / write_datetime / write_string by its type,
and text a spreadsheet would run gets the quote prefix (exports/safe_cells.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from exports.safe_cells import CutCount, looks_like_formula

STYLES: dict[str, dict[str, Any]] = {
    "plain": {},
    "title": {"bold": True, "font_size": 14},
    "bold": {"bold": True},
    "header": {"bold": True, "bg_color": "#DDEBF7", "bottom": 1, "valign": "top"},
    "total": {"bold": True, "top": 1},
    "wrap": {"text_wrap": True, "valign": "top"},
    "count": {"num_format": "#,##0"},
    "count_total": {"num_format": "#,##0", "bold": True, "top": 1},
    "percent": {"num_format": "0.0%"},
    "percent_total": {"num_format": "0.0%", "bold": True, "top": 1},
    "decimal": {"num_format": "#,##0.00"},
    "datetime": {"num_format": "yyyy-mm-dd hh:mm:ss"},
    "date": {"num_format": "yyyy-mm-dd"},
}


class Formats:
    """The workbook's formats, each made once (formats belong to the workbook), with a
    quote-prefixed twin of every style for text that looks like a formula."""

    def __init__(self, workbook: xlsxwriter.Workbook) -> None:
        self.workbook = workbook
        self._made: dict[tuple[str, bool], Format] = {}

    def get(self, style: str = "plain", quoted: bool = False) -> Format | None:
        if style == "plain" and not quoted:
            return None
        key = (style, quoted)
        if key not in self._made:
            props = dict(STYLES[style])
            if quoted:
                props["quote_prefix"] = True
            self._made[key] = self.workbook.add_format(props)
        return self._made[key]


class SafeSheet:
    """One worksheet of the small sheets (summary, cross-tab, codebook, about)."""

    def __init__(self, worksheet: Worksheet, formats: Formats, cuts: CutCount) -> None:
        self.ws = worksheet
        self.formats = formats
        self.cuts = cuts

    @property
    def name(self) -> str:
        return self.ws.name

    def write(self, row: int, col: int, value: Any, style: str = "plain") -> None:
        if value is None:
            return
        if isinstance(value, bool):
            self.ws.write_boolean(row, col, value, self.formats.get(style))
        elif isinstance(value, int | float):
            self.ws.write_number(row, col, value, self.formats.get(style))
        elif isinstance(value, datetime):
            self.ws.write_datetime(
                row, col, value, self.formats.get("datetime" if style == "plain" else style)
            )
        elif isinstance(value, date):
            self.ws.write_datetime(
                row, col, value, self.formats.get("date" if style == "plain" else style)
            )
        else:
            self.write_text(row, col, str(value), style)

    def write_text(self, row: int, col: int, text: str, style: str = "plain") -> None:
        text = self.cuts.fit(text)
        self.ws.write_string(row, col, text, self.formats.get(style, looks_like_formula(text)))

    def write_row(
        self, row: int, values: Iterable[Any], style: str = "plain", first_col: int = 0
    ) -> None:
        for col, value in enumerate(values, first_col):
            self.write(row, col, value, style)


A4 = 9  # XlsxWriter's paper index for A4


def print_on_a4(
    ws: Worksheet, header_rows: int = 0, header_columns: int = 0, landscape: bool = False
) -> None:
    """Print settings of a figures sheet: A4, one page wide (as many pages down as it
    takes), its header rows (and name columns) repeated on every page as print titles,
    the sheet's name and page numbers in the footer. The footer names no survey text:
    an '&' in it would be read as a header code."""
    ws.set_paper(A4)
    if landscape:
        ws.set_landscape()
    ws.fit_to_pages(1, 0)
    if header_rows:
        ws.repeat_rows(0, header_rows - 1)
    if header_columns:
        ws.repeat_columns(0, header_columns - 1)
    ws.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.7)
    ws.set_footer("&L&A&R&P / &N")
