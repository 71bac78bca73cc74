"""The R export: the CSV (choice codes) and an R script that reads it with labels.

The script needs base R only: read.csv with every column as text, then each column
typed (numbers, dates, times in Vietnam's zone), choices as factors whose levels are
the choice codes and whose labels are the choice labels, and each column's label as
its "label" attribute (what haven, labelled and RStudio's viewer show).

Every text the survey's authors wrote goes into the script as an R string of ASCII
only (\\uXXXX escapes for the rest), so no label can end the string or run code, and
the script reads the same in any R locale.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from exports.bundle import roster_stems, zip_files
from exports.columns import RosterRows, RowMaker, roster_rows
from exports.csv_file import csv_files
from exports.data_columns import (
    CODE,
    DATE,
    DATETIME,
    FLAG,
    NUMBER_KIND,
    column_kind,
    column_label,
)
from exports.workbook import words_for
from survey_engine.localtime import LOCAL_TIME

CSV_NAME = "responses.csv"
SCRIPT_NAME = "responses.R"


def write_r_bundle(path: Path, rows: RowMaker, responses: Iterable[list[Any]], slug: str) -> int:
    """A .zip of responses.csv, a CSV per roster (exports/bundle.py) and responses.R,
    which reads them all; returns how many responses."""
    rosters = roster_rows(rows)
    names = [CSV_NAME, *(f"{stem}.csv" for stem in roster_stems(rosters))]
    with tempfile.TemporaryDirectory(prefix="r-bundle-") as tmp:
        paths = [Path(tmp) / name for name in names]
        count = csv_files(paths, rows, rosters, responses)
        script = Path(tmp) / SCRIPT_NAME
        script.write_text(
            r_script(rows, CSV_NAME, slug, dict(zip(rosters, names[1:], strict=True))), "utf-8"
        )
        zip_files(path, [*zip(paths, names, strict=True), (script, SCRIPT_NAME)])
    return count


def r_string(text: str) -> str:
    """`text` as an R string literal of printable ASCII."""
    out = ['"']
    for char in text:
        point = ord(char)
        if char in '"\\':
            out.append("\\" + char)
        elif 0x20 <= point < 0x7F:
            out.append(char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif point == 0 or 0xD800 <= point <= 0xDFFF:
            out.append("\\ufffd")  # R strings hold no NUL; a lone surrogate is no character
        elif point <= 0xFFFF:
            out.append(f"\\u{point:04x}")
        else:
            out.append(f"\\U{{{point:x}}}")
    out.append('"')
    return "".join(out)


def _vector(items: Iterable[str]) -> str:
    return "c(" + ", ".join(r_string(item) for item in items) + ")"


def r_script(
    rows: RowMaker, csv_name: str, slug: str, rosters: dict[RosterRows, str] | None = None
) -> str:
    """The script that reads `csv_name` (the CSV of `rows`, with choice codes), and
    each roster's CSV into rosters[["<roster name>"]] (a line per row)."""
    words = words_for(rows.lang)[1]
    lines = [
        f"# survey-engine: the responses of {r_string(slug)} with their labels.",
        f"# Reads {r_string(csv_name)} from the working directory (setwd() to its folder),",
        "# or set csv_file below. Base R only. Choices are factors (levels: the choice",
        "# codes; labels: the choice labels); each column's label is attr(x, \"label\").",
        "# 0/1 columns: 1 = chosen. Times are Vietnam time. Empty cells are NA.",
        f"csv_file <- {r_string(csv_name)}",
        "se_read <- function(file) read.csv(file, fileEncoding = \"UTF-8-BOM\",",
        "  check.names = FALSE, colClasses = \"character\", na.strings = \"\")",
        "responses <- se_read(csv_file)",
        "se_label <- function(x, label) { attr(x, \"label\") <- label; x }",
        "",
    ]
    lines += _typed_columns(rows, "responses", words)
    if rosters:
        lines += [
            "# Rosters: a data frame per roster, a line per row, keyed by response_id",
            "# and row; merge(responses, rosters[[name]], by = \"response_id\") joins them.",
            "rosters <- list()",
        ]
        for roster, name in rosters.items():
            frame = f"rosters[[{r_string(roster.roster.name)}]]"
            lines.append(f"{frame} <- se_read({r_string(name)})")
            lines += _typed_columns(roster, frame, words)
    lines.append("")
    return "\n".join(lines)


def _typed_columns(rows: RowMaker, frame: str, words: dict[str, str]) -> list[str]:
    """Each column of `frame` typed and labelled."""
    lines = []
    zone = r_string(str(LOCAL_TIME))
    for column in rows.columns:
        ref = f"{frame}[[{r_string(column.header)}]]"
        kind = column_kind(column)
        q = column.question
        if kind == CODE and q is not None:
            levels = [str(rows.shown_choice(c)) for c in q.choices]
            labels = [rows.choice_label(c) for c in q.choices]
            lines.append(
                f"{ref} <- factor({ref},\n  levels = {_vector(levels)},\n"
                f"  labels = {_vector(labels)})"
            )
        elif kind in (FLAG, NUMBER_KIND):
            lines.append(f"{ref} <- as.numeric({ref})")
        elif kind == DATE:
            lines.append(f"{ref} <- as.Date({ref})")
        elif kind == DATETIME:
            lines.append(f"{ref} <- as.POSIXct({ref}, format = \"%Y-%m-%d %H:%M:%S\", tz = {zone})")
        lines.append(f"{ref} <- se_label({ref}, {r_string(column_label(column, rows, words))})")
    return lines
