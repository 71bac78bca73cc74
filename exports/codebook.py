"""The codebook sheet: what each column of the responses sheet is, so the workbook
can be read (and analysed in R, Stata or SPSS) without the survey definition.

One row per question (name, label, type, required, the skip and check logic as the
author wrote it), then one row per choice with its code and label, the question's
name repeated so that the autofilter finds a question's choices; the columns that are
not answers (the response's id and time first, its review and paradata last) say
what they hold.
"""

from __future__ import annotations

from collections.abc import Callable

from exports.cells import SafeSheet, print_on_a4
from exports.columns import (
    META_COLUMNS,
    ROSTER_KEYS,
    TRAIL_COLUMNS,
    WEIGHT_COLUMN,
    columns_for,
    rows_header,
)
from exports.variable_names import legal_names
from survey_engine.definition import Definition, Question
from survey_engine.definition.families import GEO_PARTS
from survey_engine.i18n import message

LOGIC = ("relevant", "constraint", "choice_filter", "calculation")
HEADERS = ("name", "label", "type", "required", "choice_code", "choice_label", *LOGIC, "variable")
WIDTHS = (24, 50, 16, 10, 16, 36, 28, 28, 24, 28, 24)
VARIABLE = len(HEADERS) - 1  # the column's name in the SPSS and Stata files


class CodebookSheet:
    def __init__(
        self,
        sheet: SafeSheet,
        definition: Definition,
        lang: str,
        words: dict[str, str],
        choice_label: Callable[[dict], str],
    ) -> None:
        self.sheet = sheet
        self.definition = definition
        self.lang = lang
        self.words = words
        self.choice_label = choice_label

    def write(self, questions: list[Question], weighted: bool = False) -> None:
        ws, words = self.sheet, self.words
        ws.write_row(0, [words[f"codebook_{h}"] for h in HEADERS], "header")
        for col, width in enumerate(WIDTHS):
            ws.ws.set_column(col, col, width, ws.formats.get("wrap") if col in (1, 5) else None)
        ws.ws.freeze_panes(1, 1)
        print_on_a4(ws.ws, header_rows=1, header_columns=1, landscape=True)
        trail = (*TRAIL_COLUMNS, WEIGHT_COLUMN) if weighted else TRAIL_COLUMNS
        headers = [c.header for c in columns_for(questions)] + ([WEIGHT_COLUMN] if weighted else [])
        names = legal_names(headers)
        first, last = len(META_COLUMNS), len(headers) - len(trail)
        # by position for the meta columns (a question may share a meta column's header)
        self.variables = dict(zip(headers[first:last], names[first:last], strict=True))
        row = 1
        for name, variable in zip(META_COLUMNS, names[:first], strict=True):
            ws.write_row(
                row, [name, words[f"meta_{name}"], "meta", *[None] * (VARIABLE - 3), variable]
            )
            row += 1
        for q in questions:
            row = self._question(row, q)
        # the review, the paradata and the weight, after the answers
        for name, variable in zip(trail, names[last:], strict=True):
            ws.write_row(
                row, [name, words[f"meta_{name}"], "meta", *[None] * (VARIABLE - 3), variable]
            )
            row += 1
        ws.ws.autofilter(0, 0, max(row - 1, 1), len(HEADERS) - 1)

    def _with_variable(self, cells: list, header: str | None = None) -> list:
        """The row's cells, then the SPSS/Stata name of the column it describes."""
        name = self.variables.get(header if header is not None else cells[0])
        return [*cells, *[None] * (VARIABLE - len(cells)), name]

    def _question(self, row: int, q: Question) -> int:
        ws, words, text = self.sheet, self.words, self.definition.text
        yes_no = words["yes"] if q.required else words["no"]
        ws.write_row(
            row,
            self._with_variable(
                [
                    q.name,
                    text(q.label, self.lang),
                    q.type,
                    yes_no,
                    None,
                    None,
                    *(q.raw.get(key) for key in LOGIC),
                ],
                rows_header(q) if q.is_repeat else None,
            ),
        )
        row += 1
        if q.is_repeat:
            return self._roster(row, q)
        for matrix_row in q.rows:  # a matrix: one column per row, its choices below
            ws.write_row(
                row,
                self._with_variable(
                    [
                        f"{q.name}/{matrix_row['name']}",
                        text(matrix_row.get("label"), self.lang),
                        "matrix_row",
                    ]
                ),
            )
            row += 1
        if q.type == "geopoint":  # one number column per part: name/latitude ...
            for part, word in GEO_PARTS:
                header = f"{q.name}/{word}"
                part_label = message(f"geo_part_{part}", self.lang)
                ws.write_row(row, self._with_variable([header, part_label, "decimal"]))
                row += 1
        for choice in q.choices:
            cells = [q.name, None, None, None, choice["name"], self.choice_label(choice)]
            if q.type == "select_multiple":  # its 0/1 column's name in SPSS and Stata
                cells = self._with_variable(cells, f"{q.name}/{choice['name']}")
            ws.write_row(row, cells)
            row += 1
        if q.type == "select_multiple":
            ws.write_row(row, [f"{q.name}/…", words["flag_columns"], "0/1"])
            row += 1
        if q.other:
            ws.write_row(
                row,
                self._with_variable([q.other_field, message("other_specify", self.lang), "text"]),
            )
            row += 1
        return row

    def _roster(self, row: int, q: Question) -> int:
        """A roster's row questions, under it: their columns are on the roster's own
        sheet (and in its own data file), named there as here."""
        headers = [c.header for c in columns_for(list(q.questions))]
        first, last = len(META_COLUMNS), len(headers) - len(TRAIL_COLUMNS)
        keys = legal_names([*ROSTER_KEYS, *headers[first:last]])
        outer, self.variables = (
            self.variables,
            dict(zip(headers[first:last], keys[len(ROSTER_KEYS) :], strict=True)),
        )
        try:
            ws = self.sheet
            ws.write_row(row, [f"{q.name}/…", self.words["roster_sheet"], "repeat"])
            row += 1
            for asked in q.questions:
                row = self._question(row, asked)
        finally:
            self.variables = outer
        return row
