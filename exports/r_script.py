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

import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from exports.columns import RowMaker
from exports.csv_file import write_csv
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
    """A .zip of responses.csv and responses.R; returns how many responses."""
    csv_path = path.with_name(path.name + ".csv.tmp")
    try:
        count = write_csv(csv_path, rows, responses)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
            bundle.write(csv_path, CSV_NAME)
            bundle.writestr(SCRIPT_NAME, r_script(rows, CSV_NAME, slug))
    finally:
        csv_path.unlink(missing_ok=True)
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


def r_script(rows: RowMaker, csv_name: str, slug: str) -> str:
    """The script that reads `csv_name` (the CSV of `rows`, with choice codes)."""
    words = words_for(rows.lang)[1]
    lines = [
        f"# survey-engine: the responses of {r_string(slug)} with their labels.",
        f"# Reads {r_string(csv_name)} from the working directory (setwd() to its folder),",
        "# or set csv_file below. Base R only. Choices are factors (levels: the choice",
        "# codes; labels: the choice labels); each column's label is attr(x, \"label\").",
        "# 0/1 columns: 1 = chosen. Times are Vietnam time. Empty cells are NA.",
        f"csv_file <- {r_string(csv_name)}",
        "responses <- read.csv(csv_file, fileEncoding = \"UTF-8-BOM\", check.names = FALSE,",
        "                      colClasses = \"character\", na.strings = \"\")",
        "se_label <- function(x, label) { attr(x, \"label\") <- label; x }",
        "",
    ]
    zone = r_string(str(LOCAL_TIME))
    for column in rows.columns:
        ref = f"responses[[{r_string(column.header)}]]"
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
    lines.append("")
    return "\n".join(lines)
