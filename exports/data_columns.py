"""The variables of the SPSS and Stata files: the CSV's columns (exports/columns.py),
each with a legal name, a label, its value labels and how its cells are typed.

The variables follow RowMaker.columns one for one, so the .sav, the .dta, the CSV
and the workbook always have the same columns; a column the row maker gains later
(a numeric `weight`, say) becomes a variable here by its name in META_KINDS.

A question's empty cell is one of two missing values, told apart by the response's
own relevance (definition/answers.asked_questions): "not asked" (skipped by the
skip logic, or the question was not in the response's version) or "not answered"
(asked, left empty). SPSS gets them as user-missing codes (NOT_ASKED, NOT_ANSWERED),
Stata as its extended missing values .a and .b.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from exports.columns import Column, RowMaker
from exports.variable_names import legal_names
from exports.workbook import words_for
from survey_engine.definition import Definition
from survey_engine.definition.families import NUMBER, number_of
from survey_engine.i18n import message

# Kinds of variable: how a cell is typed in the file.
CODE = "code"  # a choice as its numeric code, with value labels
FLAG = "flag"  # 0/1: a select_multiple's choice chosen or not
NUMBER_KIND = "number"
DATE = "date"
DATETIME = "datetime"
TEXT = "text"
NUMERIC_KINDS = frozenset({CODE, FLAG, NUMBER_KIND, DATE, DATETIME})

# The columns that are not answers, by name; any other is text.
META_KINDS = {
    "response_id": NUMBER_KIND,
    "row": NUMBER_KIND,  # a roster line's row number (exports/columns.ROSTER_KEYS)
    "submitted_at": DATETIME,
    "version": NUMBER_KIND,
    "started_at": DATETIME,
    "duration_seconds": NUMBER_KIND,
    "pages_visited": NUMBER_KIND,
    "weight": NUMBER_KIND,
}

# SPSS user-missing codes of a question's numeric variable (codes, flags, numbers,
# dates alike): far outside any choice code, count or date a survey asks for.
NOT_ASKED = -999_999_998.0
NOT_ANSWERED = -999_999_999.0
# A date's: whole days (SPSS counts a date in seconds), so that a reader showing the
# codes as dates still shows two different ones (1551-02-04 and 1551-02-03).
DATE_NOT_ASKED = -11_574 * 86_400.0
DATE_NOT_ANSWERED = -11_575 * 86_400.0
# Stata's extended missing values for the same two.
STATA_NOT_ASKED = "a"
STATA_NOT_ANSWERED = "b"

SPSS_EPOCH = datetime(1582, 10, 14)
STATA_EPOCH = datetime(1960, 1, 1)
SECONDS_PER_DAY = 86_400


@dataclass
class Variable:
    """One column of the data files."""

    name: str  # legal in SPSS and Stata, unique
    column: Column  # the CSV's column it is
    label: str
    kind: str
    value_labels: dict[int, str] = field(default_factory=dict)
    codes: dict[Any, int] = field(default_factory=dict)  # a CODE's cell shown -> code
    missing: bool = False  # a question's: empty cells are "not asked" or "not answered"

    @property
    def header(self) -> str:
        return self.column.header


def choice_codes(choices: Iterable[dict]) -> dict[str, int]:
    """{choice name: numeric code}: the names themselves when every one is a plain
    whole number (XLSForm's "1", "2"...), else 1, 2, 3... in the list's order."""
    names = [c["name"] for c in choices]
    if names and all(n.isascii() and n.isdigit() and str(int(n)) == n for n in names):
        numbers = [int(n) for n in names]
        if len(set(numbers)) == len(numbers) and max(numbers) < 2**31 - 1:
            return dict(zip(names, numbers, strict=True))
    return {name: n for n, name in enumerate(names, start=1)}


class DataColumns:
    """The variables of a RowMaker's columns (made with codes=True), and each response
    as typed cells: numbers (float), text, and the two missing values as markers."""

    def __init__(self, rows: RowMaker, definitions: dict[int, Definition]) -> None:
        if not rows.codes:
            raise ValueError("the data files take choice codes: RowMaker(codes=True)")
        self.rows = rows
        self.definitions = definitions  # {version id: its definition}, for relevance
        self.words = words_for(rows.lang)[1]
        names = legal_names(c.header for c in rows.columns)
        pairs = zip(names, rows.columns, strict=True)
        self.variables = [self._variable(name, column) for name, column in pairs]
        self._asked_in = {vid: rows.questions_of(d) for vid, d in definitions.items()}

    def _variable(self, name: str, column: Column) -> Variable:
        kind = column_kind(column)
        label = column_label(column, self.rows, self.words)
        q = column.question
        if q is None:
            return Variable(name, column, label, kind)
        if kind == FLAG:
            labels = {0: self.words["data_not_chosen"], 1: self.words["data_chosen"]}
            return Variable(name, column, label, kind, labels, missing=True)
        if kind == CODE:
            codes = choice_codes(q.choices)
            shown = {self.rows.shown_choice(c): codes[c["name"]] for c in q.choices}
            labels = {codes[c["name"]]: self.rows.choice_label(c) for c in q.choices}
            return Variable(name, column, label, kind, labels, shown, missing=True)
        return Variable(name, column, label, kind, missing=True)

    def cells(self, response: Any) -> list[Any]:
        """The response's cells in variable order: a float or None (a meta column with
        nothing) for numeric variables, text for the rest, and NOT_ASKED_MARK or
        NOT_ANSWERED_MARK for a question's empty cell."""
        row = self.rows.row(response)
        definition = self.definitions.get(response.version_id)
        asked = self.rows.asked(definition, response) if definition is not None else None
        in_version = self._asked_in.get(response.version_id)
        out: list[Any] = []
        for variable, value in zip(self.variables, row, strict=True):
            q = variable.column.question
            if value is None or value == "":
                if not variable.missing or q is None:
                    out.append(None if variable.kind in NUMERIC_KINDS else "")
                elif (in_version is not None and q.name not in in_version) or (
                    asked is not None and q.name not in asked
                ):
                    out.append(NOT_ASKED_MARK)
                else:
                    out.append(NOT_ANSWERED_MARK)
                continue
            out.append(_typed(variable, value))
        return out


def column_kind(column: Column) -> str:
    """How a column is typed in the data files (and by the R script)."""
    q = column.question
    if q is None:
        return META_KINDS.get(column.header, TEXT)
    if column.kind == "choice_flag":
        return FLAG
    if column.kind == "matrix_row" or (column.kind == "answer" and q.type == "select_one"):
        return CODE
    if (column.kind == "answer" and q.type in NUMBER) or column.kind in ("geo_part", "row_count"):
        return NUMBER_KIND
    if column.kind == "answer" and q.type == "date":
        return DATE
    return TEXT


def column_label(column: Column, rows: RowMaker, words: dict[str, str]) -> str:
    """A column's variable label: the question's label, with the choice, the matrix's
    row or "other" after it; a meta column's description."""
    q = column.question
    if q is None:
        return words.get(f"meta_{column.header}", column.header)
    text, lang = rows.definition.text, rows.lang
    label = text(q.label, lang) or q.name
    if column.kind == "choice_flag":
        choice = q.choice(column.choice or "") or {"name": column.choice}
        return f"{label}: {rows.choice_label(choice)}"
    if column.kind == "matrix_row":
        row = next((r for r in q.rows if r["name"] == column.choice), {})
        return f"{label}: {text(row.get('label'), lang) or column.choice}"
    if column.kind == "other_text":
        return f"{label}: {message('other_specify', lang)}"
    if column.kind == "geo_part":
        return f"{label}: {message('geo_part_' + (column.choice or ''), lang)}"
    if column.kind == "row_count":
        return f"{label}: {message('roster_rows', lang)}"
    return label


class _Mark:
    """A missing value's marker in a row of cells; each writer spells it its own way."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


NOT_ASKED_MARK = _Mark("not_asked")
NOT_ANSWERED_MARK = _Mark("not_answered")


def spss_missing(kind: str) -> tuple[float, float]:
    """The SPSS codes of "not asked" and "not answered" for a variable of this kind."""
    return (DATE_NOT_ASKED, DATE_NOT_ANSWERED) if kind == DATE else (NOT_ASKED, NOT_ANSWERED)


def _typed(variable: Variable, value: Any) -> Any:
    kind = variable.kind
    if kind == CODE:
        code = variable.codes.get(value)
        return float(code) if code is not None else None
    if kind == FLAG or kind == NUMBER_KIND:
        number = number_of(value)
        return number if number is not None and math.isfinite(number) else None
    if kind == DATE:
        try:
            day = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
        except ValueError:
            return None
        return float((day - SPSS_EPOCH.date()).days * SECONDS_PER_DAY)
    if kind == DATETIME:
        if not isinstance(value, datetime):
            return None
        return (value.replace(tzinfo=None) - SPSS_EPOCH).total_seconds()
    return clean_text(value)


def clean_text(value: Any) -> str:
    """Any cell as text that UTF-8 can hold (a lone surrogate becomes U+FFFD)."""
    text = value if isinstance(value, str) else str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)
    return text


def spss_seconds_to_stata(kind: str, seconds: float) -> float:
    """A date or time as SPSS counts it (seconds since 1582-10-14) as Stata does: days
    since 1960 for a date (%td), milliseconds since 1960 for a time (%tc)."""
    since_1960 = seconds - (STATA_EPOCH - SPSS_EPOCH).total_seconds()
    if kind == DATE:
        return float(round(since_1960 / SECONDS_PER_DAY))
    return since_1960 * 1000.0
