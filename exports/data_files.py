"""The SPSS (.sav) and Stata (.dta) files of a survey's responses, written chunk by
chunk so that memory stays bounded whatever the number of responses.

pyreadstat (ReadStat) writes the files: a maintained library that SPSS, Stata, PSPP
and R's haven all read. It takes one whole DataFrame, though, and a 510-field ×
132,000-response frame of Python objects needs several GB. So each chunk of
responses is written by pyreadstat as a small file of its own, every one with the
same dictionary, and the data of all of them are joined under the first one's
dictionary:

- the same dictionary needs the same string widths in every chunk: a first pass over
  the responses finds each text variable's widest value (UTF-8 bytes), and each
  chunk's frame starts with one sentinel row holding a value of each width and type,
  whose bytes are left out when joining. First, because pyreadstat (through
  narwhals) guesses an object column's type from its first 100 values: a number
  there keeps a column of numbers and missing-value letters numeric;
- .sav is written uncompressed, so every case takes the same bytes (the header's
  nominal case size × 8) and the data are the file's last rows × that;
- .dta (version 118, Stata 14 and later) keeps its data between <data> and </data>,
  found from the file's map, whose later offsets and the header's N are corrected.
  Stata's str# holds 2,045 bytes at most: longer text would need strLs, which are
  numbered by observation and cannot be joined, so it is cut with CUT_MARKER.

A survey with rosters has a file per roster beside the responses' (a line per row,
exports/columns.RosterRows): write_files() writes them all in the same two reads.
"""

from __future__ import annotations

import struct
import tempfile
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pandas as pd
import pyreadstat

from exports.data_columns import (
    CODE,
    DATE,
    DATETIME,
    FLAG,
    NOT_ANSWERED_MARK,
    NOT_ASKED_MARK,
    NUMBER_KIND,
    NUMERIC_KINDS,
    STATA_NOT_ANSWERED,
    STATA_NOT_ASKED,
    TEXT,
    DataColumns,
    Variable,
    clean_text,
    spss_missing,
    spss_seconds_to_stata,
)
from exports.safe_cells import CUT_MARKER

SAV_MAX_STRING = 32_767  # bytes of an SPSS string variable
DTA_MAX_STRING = 2_044  # bytes of a Stata str# (pyreadstat makes 2,045 a strL)
SAV_LABEL_BYTES = 255  # a variable label (SPSS allows more; PSPP and old SPSS not)
SAV_VALUE_LABEL_BYTES = 120
DTA_LABEL_CHARS = 80
DTA_VALUE_LABEL_BYTES = 32_000
DTA_VERSION = 14  # file format 118
ChunkSource = Callable[[], Iterable[list[Any]]]


def write_sav(path: Path, columns: DataColumns, chunks: ChunkSource, title: str = "") -> int:
    """Write an SPSS .sav of the responses `chunks()` yields (called twice: widths,
    then data); returns how many responses it holds."""
    return write_files([DataFile(path, columns)], chunks, "sav", title)


def write_dta(path: Path, columns: DataColumns, chunks: ChunkSource) -> int:
    """Write a Stata .dta (format 118) of the responses; as write_sav."""
    return write_files([DataFile(path, columns)], chunks, "dta")


@dataclass(frozen=True)
class DataFile:
    """One file of an export: the responses' own, or a roster's, whose lines `lines`
    makes of a chunk of responses (exports/columns.RosterRows.lines)."""

    path: Path
    columns: DataColumns
    lines: Callable[[list[Any]], list[Any]] | None = None

    def items(self, chunk: list[Any]) -> list[Any]:
        return chunk if self.lines is None else self.lines(chunk)


def write_files(files: list[DataFile], chunks: ChunkSource, ending: str, title: str = "") -> int:
    """Write every file (.sav or .dta, `ending`) in the same two reads of the
    responses: the widths of all, then the data of all (a roster's file costs no
    read of its own). Returns how many responses the first file holds."""
    formats = [
        _SavFormat(f.columns, title) if ending == "sav" else _DtaFormat(f.columns) for f in files
    ]
    widths = [_Widths(f.columns, fmt.max_string) for f, fmt in zip(files, formats, strict=True)]
    last_id = 0
    for chunk in chunks():
        if chunk:
            last_id = max(last_id, chunk[-1].id)
        for f, found in zip(files, widths, strict=True):
            found.add(f.items(chunk))
    counts = [0] * len(files)
    with tempfile.TemporaryDirectory(prefix="data-file-") as folder, ExitStack() as opened:
        outs = [opened.enter_context(open(f.path, "wb")) for f in files]
        joiners = [fmt.joiner(out) for fmt, out in zip(formats, outs, strict=True)]
        parts = [Path(folder) / f"chunk-{n}.{ending}" for n in range(len(files))]
        for chunk in chunks():
            kept = [r for r in chunk if r.id <= last_id]  # responses stored since: not
            for n, f in enumerate(files):
                rows = [f.columns.cells(item) for item in f.items(kept)]
                if not rows:
                    continue
                formats[n].write_part(parts[n], rows, widths[n].widths)
                joiners[n].add(parts[n], len(rows))
                counts[n] += len(rows)
        for n in range(len(files)):
            if counts[n] == 0:
                formats[n].write_part(parts[n], [], widths[n].widths)
                joiners[n].add(parts[n], 0)
            joiners[n].finish(counts[n])
    return counts[0]


class _Widths:
    """Each text variable's widest value in UTF-8 bytes (at least 1, at most `limit`),
    0 for numeric ones. Reads the text cells only, as DataColumns.cells types them."""

    def __init__(self, columns: DataColumns, limit: int) -> None:
        self.columns = columns
        self.limit = limit
        self.texts = [i for i, v in enumerate(columns.variables) if v.kind == TEXT]
        self.found = [0] * len(columns.variables)
        for i in self.texts:
            self.found[i] = 1

    def add(self, items: Iterable[Any]) -> None:
        found, texts, make = self.found, self.texts, self.columns.rows.row
        for item in items:
            row = make(item)
            for i in texts:
                value = row[i]
                if value is None or value == "":
                    continue
                text = clean_text(value)
                if len(text) * 4 > found[i]:
                    found[i] = max(found[i], len(text.encode("utf-8")))

    @property
    def widths(self) -> list[int]:
        return [min(w, self.limit) for w in self.found]


def fit_bytes(text: str, limit: int) -> str:
    """`text` in at most `limit` UTF-8 bytes: whole, or cut on a character with
    CUT_MARKER at the end."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    room = limit - len(CUT_MARKER.encode("utf-8"))
    return data[:room].decode("utf-8", "ignore") + CUT_MARKER


def _cut(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    return text if len(data) <= limit else data[:limit].decode("utf-8", "ignore")


class _Format:
    ending = ""
    max_string = 0

    def __init__(self, columns: DataColumns) -> None:
        self.columns = columns
        self.variables = columns.variables
        self.names = [v.name for v in self.variables]
        self.lang = columns.rows.lang

    def write_part(self, path: Path, rows: list[list[Any]], widths: list[int]) -> None:
        raise NotImplementedError

    def joiner(self, out: IO[bytes]) -> _Joiner:
        raise NotImplementedError

    def _missing_words(self) -> tuple[str, str]:
        words = self.columns.words
        return words["data_not_asked"], words["data_not_answered"]

    def _frame(self, series: list[list[Any]]) -> pd.DataFrame:
        pairs = zip(self.names, series, strict=True)
        return pd.DataFrame({name: pd.Series(values, dtype=object) for name, values in pairs})

    def _text_column(self, values: list[Any], width: int) -> list[Any]:
        """The sentinel (a value exactly as wide as the widest of all chunks), then the
        text cells ("" for none), none wider than `width`."""
        out = ["x" * width]
        for value in values:
            if not isinstance(value, str):
                value = ""
            elif len(value) * 4 > width:
                value = fit_bytes(value, self.max_string)
                value = _cut(value, width)  # the responses changed since the widths
            out.append(value)
        return out


class _SavFormat(_Format):
    ending = "sav"
    max_string = SAV_MAX_STRING

    def __init__(self, columns: DataColumns, title: str) -> None:
        super().__init__(columns)
        self.title = _cut(title, 64)
        asked, answered = self._missing_words()
        self.value_labels: dict[str, dict[float, str]] = {}
        self.missing: dict[str, list[Any]] = {}
        self.formats: dict[str, str] = {}
        self.measures: dict[str, str] = {}
        for v in self.variables:
            labels = {
                float(code): _cut(text, SAV_VALUE_LABEL_BYTES)
                for code, text in v.value_labels.items()
            }
            if v.missing and v.kind in NUMERIC_KINDS:
                not_asked, not_answered = spss_missing(v.kind)
                labels[not_asked] = _cut(asked, SAV_VALUE_LABEL_BYTES)
                labels[not_answered] = _cut(answered, SAV_VALUE_LABEL_BYTES)
                self.missing[v.name] = [not_asked, not_answered]
            if labels:
                self.value_labels[v.name] = labels
            self.formats[v.name] = _sav_format(v)
            if v.kind in (CODE, FLAG):
                self.measures[v.name] = "nominal"
            elif v.kind in NUMERIC_KINDS:
                self.measures[v.name] = "scale"
        self.labels: dict[str, str | None] = {
            v.name: _cut(v.label, SAV_LABEL_BYTES) for v in self.variables
        }

    def write_part(self, path: Path, rows: list[list[Any]], widths: list[int]) -> None:
        series = []
        for i, v in enumerate(self.variables):
            values = [row[i] for row in rows]
            if v.kind in NUMERIC_KINDS:
                codes = spss_missing(v.kind)
                series.append([0.0] + [_spss_number(value, codes) for value in values])
            else:
                series.append(self._text_column(values, widths[i]))
        frame = self._frame(series)
        for name, v in zip(self.names, self.variables, strict=True):
            if v.kind in NUMERIC_KINDS:
                frame[name] = frame[name].astype("float64")
        pyreadstat.write_sav(
            frame,
            str(path),
            file_label=self.title,
            column_labels=self.labels,
            variable_value_labels=self.value_labels,
            missing_ranges=self.missing,
            variable_format=self.formats,
            variable_measure=self.measures,
        )

    def joiner(self, out: IO[bytes]) -> _Joiner:
        return _SavJoiner(out)


def _spss_number(value: Any, codes: tuple[float, float]) -> float:
    if value is NOT_ASKED_MARK:
        return codes[0]
    if value is NOT_ANSWERED_MARK:
        return codes[1]
    return float("nan") if value is None else float(value)


def _sav_format(v: Variable) -> str:
    if v.kind == DATE:
        return "SDATE10"
    if v.kind == DATETIME:
        return "DATETIME20"
    if v.kind in (CODE, FLAG):
        return "F11.0"
    if v.kind == NUMBER_KIND:
        q = v.column.question
        return "F12.0" if q is not None and q.type != "decimal" else "F16.4"
    return ""


class _DtaFormat(_Format):
    ending = "dta"
    max_string = DTA_MAX_STRING

    def __init__(self, columns: DataColumns) -> None:
        super().__init__(columns)
        asked, answered = self._missing_words()
        self.value_labels: dict[str, dict[Any, str]] = {}
        self.missing: dict[str, list[str]] = {}
        self.formats: dict[str, str] = {}
        for v in self.variables:
            if v.kind in (CODE, FLAG):
                labels: dict[Any, str] = {
                    code: _cut(text, DTA_VALUE_LABEL_BYTES) for code, text in v.value_labels.items()
                }
                if v.missing:
                    labels[STATA_NOT_ASKED] = asked
                    labels[STATA_NOT_ANSWERED] = answered
                self.value_labels[v.name] = labels
            if v.missing and v.kind in NUMERIC_KINDS:
                self.missing[v.name] = [STATA_NOT_ASKED, STATA_NOT_ANSWERED]
            if v.kind == DATE:
                self.formats[v.name] = "%td"
            elif v.kind == DATETIME:
                self.formats[v.name] = "%tc"
        self.labels: dict[str, str | None] = {
            v.name: v.label[:DTA_LABEL_CHARS] for v in self.variables
        }

    def write_part(self, path: Path, rows: list[list[Any]], widths: list[int]) -> None:
        series = []
        for i, v in enumerate(self.variables):
            values = [row[i] for row in rows]
            if v.kind in (CODE, FLAG):
                series.append([0] + [_stata_value(value, int) for value in values])
            elif v.kind in NUMERIC_KINDS:
                series.append([0.0] + [_stata_value(value, float, v.kind) for value in values])
            else:
                series.append(self._text_column(values, widths[i]))
        pyreadstat.write_dta(
            self._frame(series),
            str(path),
            column_labels=self.labels,
            version=DTA_VERSION,
            variable_value_labels=self.value_labels,
            missing_user_values=self.missing,
            variable_format=self.formats,
        )

    def joiner(self, out: IO[bytes]) -> _Joiner:
        return _DtaJoiner(out)


def _stata_value(value: Any, kind: type, variable_kind: str = "") -> Any:
    if value is NOT_ASKED_MARK:
        return STATA_NOT_ASKED
    if value is NOT_ANSWERED_MARK:
        return STATA_NOT_ANSWERED
    if value is None:
        return None
    if variable_kind in (DATE, DATETIME):
        value = spss_seconds_to_stata(variable_kind, value)
    return kind(value)


# -- joining the chunks' files -------------------------------------------------------


class _Joiner:
    """Copies the first part's dictionary, then each part's rows (not its sentinel)."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.head: bytes | None = None
        self.row_bytes = 0
        self.first_rows = 0

    def add(self, part: Path, rows: int) -> None:
        raise NotImplementedError

    def finish(self, rows: int) -> None:
        raise NotImplementedError

    def _copy(self, source: IO[bytes], length: int) -> None:
        while length > 0:
            data = source.read(min(length, 1 << 20))
            if not data:
                raise ValueError("a chunk's file is shorter than its rows")
            self.out.write(data)
            length -= len(data)


class _SavJoiner(_Joiner):
    # The header's fields (SPSS system file, record type $FL2)
    CASE_SIZE, COMPRESSION, NCASES = 68, 72, 80

    def add(self, part: Path, rows: int) -> None:
        size = part.stat().st_size
        with open(part, "rb") as source:
            head = source.read(84)
            case_size, compression = struct.unpack_from("<ii", head, self.CASE_SIZE)
            if compression != 0:
                raise ValueError("a chunk's .sav is compressed")
            row_bytes = case_size * 8
            start = size - (rows + 1) * row_bytes
            if self.head is None:
                source.seek(0)
                self.head = source.read(start)
                self.row_bytes = row_bytes
                self.out.write(self.head)
            elif row_bytes != self.row_bytes or start != len(self.head):
                raise ValueError("the chunks' .sav dictionaries differ")
            source.seek(start + row_bytes)  # after the sentinel
            self._copy(source, rows * row_bytes)

    def finish(self, rows: int) -> None:
        self.out.seek(self.NCASES)
        self.out.write(struct.pack("<i", rows))


class _DtaJoiner(_Joiner):
    def add(self, part: Path, rows: int) -> None:
        data = part.read_bytes()
        order = "<" if b"<byteorder>LSF</byteorder>" in data[:200] else ">"
        map_at = data.index(b"<map>") + 5
        offsets = struct.unpack_from(f"{order}14Q", data, map_at)
        data_start, data_end = offsets[9] + len(b"<data>"), offsets[10] - len(b"</data>")
        if offsets[11] - offsets[10] != len(b"<strls></strls>"):
            raise ValueError("a chunk's .dta has strLs, which cannot be joined")
        row_bytes = (data_end - data_start) // (rows + 1)
        if self.head is None:
            self.head, self.row_bytes, self.first_rows = data[:data_start], row_bytes, rows
            self.order, self.map_at, self.offsets = order, map_at, offsets
            self.tail = data[data_end:]
            self.out.write(self.head)
        elif row_bytes != self.row_bytes or data_start != len(self.head):
            raise ValueError("the chunks' .dta dictionaries differ")
        first = data_start + row_bytes  # after the sentinel
        self.out.write(data[first : first + rows * row_bytes])

    def finish(self, rows: int) -> None:
        self.out.write(self.tail)
        shift = (rows - (self.first_rows + 1)) * self.row_bytes
        offsets = list(self.offsets)
        for i in range(10, 14):
            offsets[i] += shift
        self.out.seek(self.map_at)
        self.out.write(struct.pack(f"{self.order}14Q", *offsets))
        assert self.head is not None
        n_at = self.head.index(b"<N>") + 3
        self.out.seek(n_at)
        self.out.write(struct.pack(f"{self.order}Q", rows))
