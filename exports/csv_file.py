"""The .csv export: the responses sheet as UTF-8 with a BOM, so Excel reads Vietnamese.

The file (write_csv) and the data API's `Accept: text/csv` stream (csv_text) are the
same text: one writer, so one set of rows, cells and formula guards. A survey with
rosters exports a .zip of responses.csv and one CSV per roster (write_csv_files;
exports/bundle.py); the data API's stream is the responses' CSV alone, the rows
being in its JSON."""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from exports.bundle import MAIN_STEM, roster_stems, zip_files
from exports.columns import RosterRows, RowMaker, roster_rows
from exports.safe_cells import csv_safe

BOM = "\ufeff"


def write_csv(path: Path, rows: RowMaker, responses: Iterable[list[Any]]) -> int:
    count = 0
    with open(path, "w", encoding="utf-8", newline="") as handle:
        for text, written in _pieces(rows, responses):
            handle.write(text)
            count += written
    return count


def write_csv_files(path: Path, rows: RowMaker, responses: Iterable[list[Any]]) -> int:
    """The CSV; with rosters the .zip of responses.csv and a CSV per roster, each
    written as the responses go by (one read). Returns how many responses."""
    rosters = roster_rows(rows)
    if not rosters:
        return write_csv(path, rows, responses)
    with tempfile.TemporaryDirectory(prefix="csv-files-") as tmp:
        folder = Path(tmp)
        files = [
            (folder / f"{stem}.csv", f"{stem}.csv") for stem in [MAIN_STEM, *roster_stems(rosters)]
        ]
        count = csv_files([file for file, _ in files], rows, rosters, responses)
        zip_files(path, files)
    return count


def csv_files(
    paths: list[Path], rows: RowMaker, rosters: list[RosterRows], responses: Iterable[list[Any]]
) -> int:
    """responses.csv and each roster's CSV at `paths` (in that order), in one read."""
    with ExitStack() as files:
        handles = [files.enter_context(open(p, "w", encoding="utf-8", newline="")) for p in paths]
        writers = [
            _Writer(handle, maker) for handle, maker in zip(handles, [rows, *rosters], strict=True)
        ]
        count = 0
        for chunk in responses:
            writers[0].write(chunk)
            for roster, writer in zip(rosters, writers[1:], strict=True):
                writer.write(roster.lines(chunk))
            count += len(chunk)
    return count


class _Writer:
    """One CSV file of a bundle: its header at once, then rows chunk by chunk."""

    def __init__(self, handle: TextIO, rows: RowMaker) -> None:
        self.handle, self.rows = handle, rows
        self.writer = csv.writer(handle)
        handle.write(BOM)
        self.writer.writerow([csv_safe(c.header) for c in rows.columns])

    def write(self, chunk: Iterable[Any]) -> None:
        make = self.rows.row
        self.writer.writerows([_cell(v) for v in make(item)] for item in chunk)


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
