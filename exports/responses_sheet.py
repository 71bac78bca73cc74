"""The responses sheet: one row per response, streamed, continued on a next sheet at
Excel's row limit.

This is the export's hot loop (75,000 responses x 40 columns are 3 million cells), so
the rows bypass XlsxWriter (exports/sheet_xml.py says why): each column's cell maker
is chosen once, by what the column holds, and bound to its column's letters; a row is
then one join of a call per non-empty cell, and 500 rows one write to the sheet's rows
file. XlsxWriter writes each sheet's header row, widths, frozen panes and autofilter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.worksheet import Worksheet

from exports import sheet_xml
from exports.cells import Formats, SafeSheet
from exports.columns import Column, RowMaker
from exports.safe_cells import CutCount
from exports.sheet_xml import SheetRows, day_tail, moment_tail, number_tail
from survey_engine.definition.families import NUMBER, number_of

ROW_LIMIT = 1_048_576  # Excel's rows per sheet, the header included; tests make it small
WRITE_ROWS = 500  # rows joined for one write: about 0.7 MB of text for the demo
WIDTHS = {
    "response_id": 10,
    "submission_id": 37,
    "submitted_at": 19,
    "version": 9,
    "source": 10,
    "status": 12,
    "flags": 40,
    "unit": 20,
    "started_at": 19,
    "duration_seconds": 10,
    "pages_visited": 8,
    "device_class": 10,
    "browser": 16,
    "network_key": 20,
    "device_hash": 20,
}

Cell = Callable[[str, Any], str]  # (row number, value) -> the cell's XML

EXCEL_FIRST_DAY = date(1900, 1, 1)  # the first day an Excel date cell can hold


class ResponsesSheets:
    """Writes rows of `rows.row(response)` over "Responses", "Responses (2)", ...;
    their rows go to files in `directory`, for sheet_xml.splice(). A roster's sheets
    are written alike, a line per row (exports/columns.RosterRows)."""

    def __init__(
        self,
        workbook: xlsxwriter.Workbook,
        formats: Formats,
        cuts: CutCount,
        rows: RowMaker,
        name: str,
        directory: Path,
        prefix: str = "rows",
    ) -> None:
        """`prefix` names the rows files: each set of sheets (a roster's) its own."""
        self.workbook = workbook
        self.formats = formats
        self.cuts = cuts
        self.rows = rows
        self.base_name = name
        self.directory = directory
        self.prefix = prefix
        self.sheets: list[SheetRows] = []
        self.count = 0  # responses written, over every sheet
        self._sheet: Worksheet | None = None
        self._row = 0  # the last row written on the current sheet (0: the header)
        # One for every column: after its reference, a text's cell is the same anywhere.
        self._texts = sheet_xml.TextCells(cuts)
        self._cells = [self._cell(col, column) for col, column in enumerate(rows.columns)]
        self._open_sheet()

    @property
    def names(self) -> list[str]:
        return [sheet.name for sheet in self.sheets]

    def add(self, chunk: Iterable[Any]) -> None:
        make_row = self.rows.row
        last_row = ROW_LIMIT - 1
        cells, row = self._cells, self._row
        start = row
        lines: list[str] = []
        for response in chunk:
            if row == last_row:
                self.sheets[-1].write("".join(lines))
                lines = []
                self.count += row - start
                self._row = row
                self._close_sheet()
                self._open_sheet()
                row = start = self._row
            row += 1
            number = str(row + 1)
            lines.append(
                '<row r="'
                + number
                + '">'
                + "".join(
                    [
                        cell(number, value)
                        for cell, value in zip(cells, make_row(response), strict=True)
                        if value is not None
                    ]
                )
                + "</row>"
            )
            if len(lines) == WRITE_ROWS:
                self.sheets[-1].write("".join(lines))
                lines = []
        self.sheets[-1].write("".join(lines))
        self.count += row - start
        self._row = row

    def close(self) -> None:
        self._close_sheet()

    def _open_sheet(self) -> None:
        number = len(self.sheets) + 1
        name = self.base_name if number == 1 else f"{self.base_name} ({number})"
        self.sheets.append(SheetRows(name, self.directory / f"{self.prefix}-{number}.xml"))
        sheet = self.workbook.add_worksheet(name)
        header = SafeSheet(sheet, self.formats, self.cuts)
        header.write_row(0, [c.header for c in self.rows.columns], "header")
        sheet_xml.use_styles(
            sheet,
            [
                self.formats.get("plain", quoted=True),
                self.formats.get("date"),
                self.formats.get("datetime"),
            ],
        )
        sheet.freeze_panes(1, 1)  # the header row and the response id stay in view
        for col, column in enumerate(self.rows.columns):
            sheet.set_column(col, col, _width(column))
        self._sheet, self._row = sheet, 0

    def _close_sheet(self) -> None:
        if self._sheet is not None:
            self._sheet.autofilter(0, 0, max(self._row, 1), len(self.rows.columns) - 1)
            self.sheets[-1].last_row = self._row + 1
            self.sheets[-1].close()
            self._sheet = None

    def _cell(self, col: int, column: Column) -> Cell:
        """The function that makes this column's non-empty cells."""
        start = f'<c r="{xl_col_to_name(col)}'
        known, text = self._texts.known.get, self._texts.make

        def any_value(row: str, value: Any) -> str:
            kind = type(value)
            if kind is str:
                return f"{start}{row}{known(value) or text(value)}"
            if kind is int:
                return f'{start}{row}"><v>{value}</v></c>'
            if kind is float:
                return f"{start}{row}{number_tail(value)}"
            if kind is datetime:
                return f"{start}{row}{moment_tail(value)}"
            # bool, or what an older version stored as a list or dict
            return f"{start}{row}{text(str(value))}"

        def flag(row: str, value: int) -> str:
            return f'{start}{row}"><v>{value}</v></c>'

        def moment(row: str, value: datetime) -> str:
            return f"{start}{row}{moment_tail(value)}"

        days: dict[str, str] = {}

        def calendar_day(row: str, value: Any) -> str:
            """A date answer ("2026-03-01") as an Excel date, so it sorts and filters."""
            try:
                return f"{start}{row}{days[value]}"
            except (KeyError, TypeError):
                pass
            try:
                day = date.fromisoformat(value)
            except (TypeError, ValueError):
                return any_value(row, value)
            if day < EXCEL_FIRST_DAY:  # stored before answers were bounded: Excel has no
                return any_value(row, value)  # such date (year 1 became -693,594)
            made = day_tail(day)
            if len(days) < sheet_xml.CACHE_SIZE:
                days[value] = made
            return f"{start}{row}{made}"

        if column.kind == "choice_flag":
            return flag
        if column.header in ("submitted_at", "started_at") and column.kind == "meta":
            return moment
        if column.kind == "answer" and column.question_type == "date":
            return calendar_day
        if column.kind == "answer" and column.question_type in NUMBER:
            return _figure(start, any_value)
        return any_value


def _figure(start: str, any_value: Cell) -> Cell:
    """A number question's cells: a text an older version stored ("12") is written as
    the number the summary counted it as (families.number_of), other texts as text."""

    def figure(row: str, value: Any) -> str:
        if type(value) is str:
            read = number_of(value)
            if read is not None:
                return f"{start}{row}{number_tail(read)}"
        return any_value(row, value)

    return figure


def _width(column: Column) -> float:
    if column.kind == "meta":
        return WIDTHS.get(column.header, 12)
    if column.kind == "choice_flag":
        least = 8
    elif column.question_type in NUMBER:
        least = 10
    elif column.question_type == "date":
        least = 12
    elif column.question_type in ("text", "select_multiple", "rank") or column.kind == "other_text":
        least = 30
    else:
        least = 20
    return min(max(least, len(column.header) + 2), 40)
