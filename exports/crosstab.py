"""The cross-tab sheet: every select question (and matrix row) by the breakdown the
analyst chose (a district, a role), as counts with row and column totals and then as
column percentages (and, when the survey is weighted, weighted column percentages),
from the figures the export service counted.

Columns are the breakdown's choices, then "(no answer)" when some responses skipped
the breakdown, then the total. With a multiple-choice breakdown a response counts in
each of its columns, so the total is the respondents, not the sum of the columns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from exports.cells import SafeSheet, print_on_a4
from exports.figures import NO_ANSWER, Series, WorkbookFigures
from exports.summary import choice_rows
from survey_engine.definition import Definition

FIRST_COUNT_COLUMN = 2  # after the choice's label and code


class CrosstabSheet:
    def __init__(
        self,
        sheet: SafeSheet,
        definition: Definition,
        lang: str,
        words: dict[str, str],
        choice_label: Callable[[dict], str],
        series_title: Callable[[Series], str],
    ) -> None:
        self.sheet = sheet
        self.definition = definition
        self.lang = lang
        self.words = words
        self.choice_label = choice_label
        self.series_title = series_title

    def write(self, figures: WorkbookFigures, filter_lines: list[str]) -> None:
        ws, words, breakdown = self.sheet, self.words, figures.breakdown
        assert breakdown is not None
        columns = self._columns(figures)
        last = FIRST_COUNT_COLUMN + len(columns)  # the total column
        ws.ws.set_column(0, 0, 45)
        ws.ws.set_column(1, 1, 12)
        ws.ws.set_column(FIRST_COUNT_COLUMN, last, 13)
        title = (
            f"{words['crosstab_title']} {breakdown.name}: "
            f"{self.definition.text(breakdown.label, self.lang)}"
        )
        ws.write(0, 0, title, "title")
        ws.write_row(1, [words["filters"], "; ".join(filter_lines) or words["no_filters"]])
        # The breakdown's columns once at the top, frozen, with each column's responses.
        self._header(3, words["choice"], columns)
        ws.write_row(4, [words["responses"], None], "total")
        ws.write_row(
            4,
            [figures.by_breakdown.get(code, 0) for code, _ in columns] + [figures.responses],
            "count_total",
            first_col=FIRST_COUNT_COLUMN,
        )
        ws.ws.freeze_panes(4, FIRST_COUNT_COLUMN)
        print_on_a4(ws.ws, header_rows=5, header_columns=FIRST_COUNT_COLUMN, landscape=True)
        row = 6
        for series in figures.crossed_series():
            row = self._table(row, series, figures, columns)

    def _columns(self, figures: WorkbookFigures) -> list[tuple[Any, str]]:
        """(code, label) of the breakdown's columns."""
        if figures.breakdown is None:
            raise ValueError("a cross-tab sheet needs a breakdown question")
        columns = choice_rows(figures.breakdown, figures.by_breakdown, self.choice_label)
        columns = [(code, label) for code, label in columns if code != NO_ANSWER]
        if figures.by_breakdown.get(NO_ANSWER):
            columns.append((NO_ANSWER, self.words["no_answer"]))
        return columns

    def _header(self, row: int, first: str, columns: list[tuple[Any, str]]) -> None:
        self.sheet.write_row(
            row,
            [first, self.words["code"], *(label for _, label in columns), self.words["total"]],
            "header",
        )

    def _table(
        self, row: int, series: Series, figures: WorkbookFigures, columns: list[tuple[Any, str]]
    ) -> int:
        ws, words = self.sheet, self.words
        cross = figures.cross.get(series.key, {})
        answered = figures.cross_answered.get(series.key, {})
        counts, total = figures.counts.get(series.key, {}), figures.answered.get(series.key, 0)
        codes = [code for code, _ in columns]
        choices = choice_rows(series.question, counts, self.choice_label)
        ws.write(row, 0, self.series_title(series), "bold")
        self._header(row + 1, words["choice"], columns)
        row += 2
        for code, label in choices:
            ws.write_row(row, [label, code])
            ws.write_row(
                row,
                [cross.get((b, code), 0) for b in codes] + [counts.get(code, 0)],
                "count",
                first_col=FIRST_COUNT_COLUMN,
            )
            row += 1
        ws.write_row(row, [words["answered"], None], "total")
        ws.write_row(
            row,
            [answered.get(b, 0) for b in codes] + [total],
            "count_total",
            first_col=FIRST_COUNT_COLUMN,
        )
        row += 1
        self._header(row, words["column_percent"], columns)
        row += 1
        for code, label in choices:
            ws.write_row(row, [label, code])
            shares = [_share(cross.get((b, code), 0), answered.get(b, 0)) for b in codes]
            shares.append(_share(counts.get(code, 0), total))
            ws.write_row(row, shares, "percent", first_col=FIRST_COUNT_COLUMN)
            row += 1
        weighted = figures.weighted_cross.get(series.key)
        if weighted is None:
            return row + 1
        self._header(row, words["weighted_column_percent"], columns)
        row += 1
        overall = figures.weighted.get(series.key, {})
        for code, label in choices:
            ws.write_row(row, [label, code])
            shares = [
                _share(weighted.get((b, code), 0.0), weighted.get((b, ""), 0.0)) for b in codes
            ]
            everyone = overall.get(code)
            shares.append(everyone.ratio if everyone is not None else None)
            ws.write_row(row, shares, "percent", first_col=FIRST_COUNT_COLUMN)
            row += 1
        return row + 1


def _share(part: float, whole: float) -> float | None:
    return part / whole if whole else None
