"""The .xlsx export: a summary sheet of tallies and a responses sheet, streamed.

XlsxWriter's constant_memory mode flushes each row as it is written, so memory
stays flat however many responses there are; the summary sheet is created first
(so it opens first) and filled in after the responses have been counted.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import xlsxwriter

from exports.columns import RowMaker
from exports.safe_cells import looks_like_formula
from exports.tallies import Tally
from survey_engine.definition import Definition

SHEET_NAMES = {
    "vi": {"summary": "Tổng hợp", "responses": "Phiếu trả lời"},
    "en": {"summary": "Summary", "responses": "Responses"},
}
SUMMARY_WORDS = {
    "vi": {"responses": "Số phiếu", "choice": "Phương án", "count": "Số lượng",
           "percent": "Tỷ lệ", "answered": "Số người trả lời", "code": "Mã"},
    "en": {"responses": "Responses", "choice": "Choice", "count": "Count",
           "percent": "Percent", "answered": "Answered", "code": "Code"},
}


class _Sheet:
    """Writes typed cells: numbers as numbers, text always as text, never a formula."""

    def __init__(self, workbook: xlsxwriter.Workbook, worksheet: Any) -> None:
        self.ws = worksheet
        self.quoted = workbook.add_format({"quote_prefix": True})
        self.bold = workbook.add_format({"bold": True})
        self.when = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        self.percent = workbook.add_format({"num_format": "0.0%"})

    def write(self, row: int, col: int, value: Any, fmt: Any = None) -> None:
        if value is None:
            return
        if isinstance(value, bool):
            self.ws.write_boolean(row, col, value, fmt)
        elif isinstance(value, int | float):
            self.ws.write_number(row, col, value, fmt)
        elif isinstance(value, datetime):
            self.ws.write_datetime(row, col, value, fmt or self.when)
        else:
            text = str(value)
            self.ws.write_string(row, col, text, self.quoted if looks_like_formula(text) else fmt)

    def write_row(self, row: int, values: list[Any], fmt: Any = None) -> None:
        for col, value in enumerate(values):
            self.write(row, col, value, fmt)


def write_workbook(path: Path, definition: Definition, rows: RowMaker,
                   responses: Iterable[list[Any]], lang: str) -> int:
    """Write the workbook; `responses` yields chunks of stored responses. Returns the count."""
    names = SHEET_NAMES.get(lang, SHEET_NAMES["vi"])
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    try:
        summary = _Sheet(workbook, workbook.add_worksheet(names["summary"]))
        data = _Sheet(workbook, workbook.add_worksheet(names["responses"]))
        data.write_row(0, [c.header for c in rows.columns], data.bold)
        data.ws.freeze_panes(1, 0)
        questions = [c.question for c in rows.columns if c.kind == "answer"]
        tally = Tally(questions)
        count = 0
        for chunk in responses:
            for response in chunk:
                count += 1
                data.write_row(count, rows.row(response))
            tally.add([r.answers for r in chunk])
        if count:
            data.ws.autofilter(0, 0, count, len(rows.columns) - 1)
        _write_summary(summary, definition, rows, tally, lang)
    finally:
        workbook.close()
    return count


def _write_summary(sheet: _Sheet, definition: Definition, rows: RowMaker, tally: Tally,
                   lang: str) -> None:
    words = SUMMARY_WORDS.get(lang, SUMMARY_WORDS["vi"])
    sheet.ws.set_column(0, 0, 48)
    sheet.ws.set_column(1, 3, 14)
    sheet.write_row(0, [definition.text(definition.title, lang)], sheet.bold)
    sheet.write_row(1, [words["responses"], tally.responses])
    row = 3
    for q in tally.questions:
        answered = tally.answered[q.name]
        sheet.write(row, 0, f"{q.name}: {definition.text(q.label, lang)}", sheet.bold)
        sheet.write_row(row + 1, [words["choice"], words["count"], words["percent"],
                                  words["code"]], sheet.bold)
        row += 2
        for choice in q.choices:
            n = tally.counts[q.name].get(choice["name"], 0)
            sheet.write_row(row, [rows.choice_label(choice), n, None, choice["name"]])
            sheet.write(row, 2, n / answered if answered else 0, sheet.percent)
            row += 1
        sheet.write_row(row, [words["answered"], answered], sheet.bold)
        row += 2
