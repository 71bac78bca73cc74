"""The summary sheet: one frequency table per select question (and matrix row) with a
native bar chart beside it, and the usual statistics of each number question.

Written after the responses have streamed by, from the figures counted meanwhile, row
after row (constant_memory allows no going back up a sheet). Charts read their data
from the table's cells; in constant_memory XlsxWriter cannot read those cells back,
so the values are handed to the chart as its cache too, for viewers that do not
recalculate. A chart's title is a reference to the table's title cell, never the
label itself: XlsxWriter takes a title such as "=cmd|'/C calc'!A0" for a formula.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import xlsxwriter

from exports.cells import SafeSheet, print_on_a4
from exports.figures import Series, WorkbookFigures
from survey_engine.definition import Definition, Question
from survey_engine.figures import NumberSummary, wilson_interval

CHART_COLUMN = 8  # column I: beside the seven columns of a table (L when weighted)
ROW_PIXELS = 20  # Excel's default row height
MIN_BLOCK_ROWS = 12  # a chart needs room even for a yes/no question
CHART_WIDTH = 520
NUMBER_STATISTICS = ("n", "mean", "median", "q1", "q3", "min", "max")


class SummarySheet:
    def __init__(
        self,
        workbook: xlsxwriter.Workbook,
        sheet: SafeSheet,
        definition: Definition,
        lang: str,
        words: dict[str, str],
        choice_label: Callable[[dict], str],
    ) -> None:
        self.workbook = workbook
        self.sheet = sheet
        self.definition = definition
        self.lang = lang
        self.words = words
        self.choice_label = choice_label
        self.chart_column = CHART_COLUMN

    def write(self, figures: WorkbookFigures, filter_lines: list[str]) -> None:
        ws, words = self.sheet, self.words
        ws.ws.set_column(0, 0, 50)
        ws.ws.set_column(1, 1, 14)
        ws.ws.set_column(2, 6, 13)
        ws.write(0, 0, self.definition.text(self.definition.title, self.lang), "title")
        ws.write_row(1, [words["responses"], figures.responses], "bold")
        ws.write_row(2, [words["filters"], "; ".join(filter_lines) or words["no_filters"]])
        row = 3
        if figures.weighted_by:
            self.chart_column = CHART_COLUMN + 3  # beside the weighted columns
            ws.write_row(3, [words["weighted_by"], ", ".join(figures.weighted_by)], "bold")
            ws.write_row(4, [words["effective_n"], figures.effective_n], "bold")
            ws.ws.set_column(7, 9, 13)
            row = 5
        ws.ws.freeze_panes(row, 0)
        # The chart sits beside each table: landscape keeps both on one page's width.
        print_on_a4(ws.ws, header_rows=row, landscape=True)
        row += 1
        for series in figures.series:
            row = self._select_table(row, series, figures)
        for question, stats in figures.numbers:
            row = self._number_table(row, question, stats, figures)

    def series_title(self, series: Series) -> str:
        text = self.definition.text
        title = f"{series.key}: {text(series.question.label, self.lang)}"
        if series.row is not None:
            title += f" – {text(series.row.get('label'), self.lang)}"
        return title

    def _select_table(self, row: int, series: Series, figures: WorkbookFigures) -> int:
        ws, words = self.sheet, self.words
        counts, answered = figures.counts.get(series.key, {}), figures.answered.get(series.key, 0)
        everyone = figures.base(series)
        weighted = figures.weighted.get(series.key) if figures.weighted_by else None
        first = row
        title = self.series_title(series)
        if series.roster is not None:  # "… members: n rows in m responses"
            title += f" ({self.rows_line(series.roster, figures)})"
        title = self.sheet.cuts.fit(title)
        ws.write(row, 0, title, "bold")
        ws.write_row(
            row + 1,
            [
                words["choice"],
                words["code"],
                words["count"],
                words["percent_answered"],
                words["percent_all"],
                words["ci_low"],
                words["ci_high"],
                *(
                    (words["weighted_percent"], words["weighted_ci_low"], words["weighted_ci_high"])
                    if weighted is not None
                    else ()
                ),
            ],
            "header",
        )
        row += 2
        choices = choice_rows(series.question, counts, self.choice_label)
        for code, label in choices:
            n = counts.get(code, 0)
            ws.write_row(row, [label, code])
            ws.write(row, 2, n, "count")
            interval = wilson_interval(n, answered)
            ws.write_row(
                row,
                [
                    n / answered if answered else None,
                    n / everyone if everyone else None,
                    *(interval or (None, None)),
                ],
                "percent",
                first_col=3,
            )
            share = weighted.get(code) if weighted is not None else None
            if share is not None:
                bounds = share.interval
                ws.write_row(row, [share.ratio, *(bounds or (None, None))], "percent", first_col=7)
            row += 1
        ws.write_row(row, [words["answered"], None], "total")
        ws.write(row, 2, answered, "count_total")
        ws.write_row(
            row, [None, answered / everyone if everyone else None], "percent_total", first_col=3
        )
        ws.write(row + 1, 0, words["not_answered"])
        ws.write(row + 1, 2, everyone - answered, "count")
        ws.write(row + 1, 4, (everyone - answered) / everyone if everyone else None, "percent")
        row += 2
        if series.multiple:
            ws.write(row, 0, words["multiple_note"])
            row += 1
        rows = max(row - first + 1, MIN_BLOCK_ROWS)
        self._chart(
            first,
            title,
            rows,
            [label for _, label in choices],
            [counts.get(code, 0) for code, _ in choices],
        )
        return first + rows + 1

    def _chart(
        self, title_row: int, title: str, rows: int, labels: list[str], counts: list[int]
    ) -> None:
        name, first, last = self.sheet.name, title_row + 2, title_row + 1 + len(labels)
        chart = self.workbook.add_chart({"type": "bar"})
        chart.add_series(
            {
                "categories": [name, first, 0, last, 0],
                "categories_data": labels,
                "values": [name, first, 2, last, 2],
                "values_data": counts,
                "data_labels": {"value": True},
                "fill": {"color": "#2F6DB5"},
                "gap": 60,
            }
        )
        chart.set_title(
            {
                "name": [name, title_row, 0],
                "data": [title],
                "overlay": False,
                "name_font": {"size": 11, "bold": True},
            }
        )
        chart.set_legend({"none": True})
        chart.set_y_axis({"reverse": True})  # a bar chart lists its first category last
        chart.set_x_axis({"min": 0, "major_gridlines": {"visible": True}})
        chart.set_size({"width": CHART_WIDTH, "height": rows * ROW_PIXELS})
        self.sheet.ws.insert_chart(title_row, self.chart_column, chart, {"object_position": 3})

    def rows_line(self, roster: Question, figures: WorkbookFigures) -> str:
        """What a row question's table counts: "… members: 9 rows in 3 responses"."""
        rows, responses = figures.rows.get(roster.name, (0, 0))
        return self.words["roster_counted"].format(
            roster=roster.name, rows=f"{rows:,}", responses=f"{responses:,}"
        )

    def _number_table(
        self, row: int, question: Question, stats: NumberSummary | None, figures: WorkbookFigures
    ) -> int:
        ws, words = self.sheet, self.words
        ws.write(
            row, 0, f"{question.name}: {self.definition.text(question.label, self.lang)}", "bold"
        )
        roster = next(
            (q for q in self.definition.repeats if question.name in {a.name for a in q.questions}),
            None,
        )
        if roster is not None:
            row += 1
            ws.write(row, 0, self.rows_line(roster, figures))
        ws.write_row(row + 1, [words["statistic"], words["code"], words["value"]], "header")
        values: dict[str, Any] = (
            {"n": 0}
            if stats is None
            else {
                "n": stats.count,
                "mean": stats.mean,
                "median": stats.median,
                "q1": stats.q1,
                "q3": stats.q3,
                "min": stats.minimum,
                "max": stats.maximum,
            }
        )
        statistics: tuple[str, ...] = NUMBER_STATISTICS
        if stats is not None and stats.weighted_mean is not None:
            values["weighted_mean"] = stats.weighted_mean
            statistics += ("weighted_mean",)
        for offset, key in enumerate(statistics, 2):
            ws.write_row(row + offset, [words[key], key])
            ws.write(row + offset, 2, values.get(key), "count" if key == "n" else "decimal")
        return row + 2 + len(statistics) + 1


def choice_rows(
    question: Question, counts: Mapping[str, Any], label: Callable[[dict], str]
) -> list[tuple[Any, str]]:
    """(code, label) of every choice, then of any code an answer has that the choice
    list does not (a choice dropped from the definition), so no count goes unseen."""
    rows: list[tuple[Any, str]] = [(c["name"], label(c)) for c in question.choices]
    known = {code for code, _ in rows}
    extra = sorted((code for code in counts if code not in known and code), key=str)
    return rows + [(code, str(code)) for code in extra]
