"""The responses sheet: one row per response, streamed, continued on a next sheet at
Excel's row limit.

This is the export's hot loop (75,000 responses x 40 columns are 3 million cells), so
each column's writer is chosen once, by what the column holds, and bound to its
column; a row is then one call per non-empty cell straight into XlsxWriter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any

import xlsxwriter
from xlsxwriter.worksheet import Worksheet

from exports.cells import Formats, SafeSheet
from exports.columns import Column, RowMaker
from exports.safe_cells import FORMULA_STARTS, MAX_CELL_CHARS, CutCount

ROW_LIMIT = 1_048_576  # Excel's rows per sheet, the header included; tests make it small
NUMBER_TYPES = ("integer", "decimal", "rating", "nps")
WIDTHS = {"response_id": 10, "submission_id": 37, "submitted_at": 19, "version": 9,
          "source": 10}

Writer = Callable[[int, Any], None]


class ResponsesSheets:
    """Writes rows of `rows.row(response)` over "Responses", "Responses (2)", ..."""

    def __init__(self, workbook: xlsxwriter.Workbook, formats: Formats, cuts: CutCount,
                 rows: RowMaker, name: str) -> None:
        self.workbook = workbook
        self.formats = formats
        self.cuts = cuts
        self.rows = rows
        self.base_name = name
        self.names: list[str] = []
        self.count = 0  # responses written, over every sheet
        self._sheet: Worksheet | None = None
        self._row = 0  # the last row written on the current sheet
        self._writers: list[Writer] = []
        self._open_sheet()

    def add(self, chunk: Iterable[Any]) -> None:
        make_row = self.rows.row
        last_row = ROW_LIMIT - 1
        writers, row = self._writers, self._row
        start = row
        for response in chunk:
            if row == last_row:
                self.count += row - start
                self._row = row
                self._close_sheet()
                self._open_sheet()
                writers, row = self._writers, self._row
                start = row
            row += 1
            for write, value in zip(writers, make_row(response), strict=True):
                if value is not None:
                    write(row, value)
        self.count += row - start
        self._row = row

    def close(self) -> None:
        self._close_sheet()

    def _open_sheet(self) -> None:
        number = len(self.names) + 1
        name = self.base_name if number == 1 else f"{self.base_name} ({number})"
        self.names.append(name)
        sheet = self.workbook.add_worksheet(name)
        header = SafeSheet(sheet, self.formats, self.cuts)
        header.write_row(0, [c.header for c in self.rows.columns], "header")
        sheet.freeze_panes(1, 1)  # the header row and the response id stay in view
        for col, column in enumerate(self.rows.columns):
            sheet.set_column(col, col, _width(column))
        self._sheet, self._row = sheet, 0
        self._writers = [self._writer(sheet, col, column)
                         for col, column in enumerate(self.rows.columns)]

    def _close_sheet(self) -> None:
        if self._sheet is not None:
            self._sheet.autofilter(0, 0, max(self._row, 1), len(self.rows.columns) - 1)

    def _writer(self, sheet: Worksheet, col: int, column: Column) -> Writer:
        """The function that writes this column's non-empty values to `sheet`."""
        write_number, write_string = sheet.write_number, sheet.write_string
        write_datetime = sheet.write_datetime
        quoted, cuts = self.formats.get("plain", quoted=True), self.cuts
        when, day = self.formats.get("datetime"), self.formats.get("date")

        def text(row: int, value: str) -> None:
            if len(value) > MAX_CELL_CHARS:
                value = cuts.fit(value)
            write_string(row, col, value, quoted if value.startswith(FORMULA_STARTS) else None)

        def any_value(row: int, value: Any) -> None:
            kind = type(value)
            if kind is str:
                text(row, value)
            elif kind is int or kind is float:
                write_number(row, col, value)
            elif kind is datetime:
                write_datetime(row, col, value, when)
            else:  # bool, or what an older version stored as a list or dict
                text(row, str(value))

        def flag(row: int, value: int) -> None:
            write_number(row, col, value)

        def moment(row: int, value: datetime) -> None:
            write_datetime(row, col, value, when)

        def calendar_day(row: int, value: Any) -> None:
            """A date answer ("2026-03-01") as an Excel date, so it sorts and filters."""
            try:
                write_datetime(row, col, date.fromisoformat(value), day)
            except (TypeError, ValueError):
                any_value(row, value)

        if column.kind == "choice_flag":
            return flag
        if column.header == "submitted_at" and column.kind == "meta":
            return moment
        if column.kind == "answer" and column.question.type == "date":
            return calendar_day
        return any_value


def _width(column: Column) -> float:
    if column.kind == "meta":
        return WIDTHS.get(column.header, 12)
    if column.kind == "choice_flag":
        least = 8
    elif column.question.type in NUMBER_TYPES:
        least = 10
    elif column.question.type == "date":
        least = 12
    elif column.question.type in ("text", "select_multiple", "rank") \
            or column.kind == "other_text":
        least = 30
    else:
        least = 20
    return min(max(least, len(column.header) + 2), 40)
