"""The .csv export: the responses sheet as UTF-8 with a BOM, so Excel reads Vietnamese.

The file (write_csv) and the data API's `Accept: text/csv` stream (csv_text) are the
same text: one writer, so one set of rows, cells and formula guards."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from exports.columns import RowMaker
from exports.safe_cells import csv_safe

BOM = "\ufeff"


def write_csv(path: Path, rows: RowMaker, responses: Iterable[list[Any]]) -> int:
    count = 0
    with open(path, "w", encoding="utf-8", newline="") as handle:
        for text, written in _pieces(rows, responses):
            handle.write(text)
            count += written
    return count


def csv_text(rows: RowMaker, responses: Iterable[list[Any]]) -> Iterator[str]:
    """The file's text piece by piece (the BOM and header, then a piece per chunk of
    responses), for a response streamed while the rows are read."""
    for text, _written in _pieces(rows, responses):
        yield text


def _pieces(rows: RowMaker, responses: Iterable[list[Any]]) -> Iterator[tuple[str, int]]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([csv_safe(c.header) for c in rows.columns])
    yield BOM + _taken(buffer), 0
    for chunk in responses:
        for response in chunk:
            writer.writerow([_cell(v) for v in rows.row(response)])
        yield _taken(buffer), len(chunk)


def _taken(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return csv_safe(value)
