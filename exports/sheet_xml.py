"""The responses sheets' data rows as SpreadsheetML text, spliced into XlsxWriter's file.

Why XlsxWriter is bypassed for these rows only: it spends ~6.7 µs on each cell in its
write_*() calls, 13.5 s of the ~20 s that 75,000 demo responses (~2 million cells)
took. Here each column has a function that returns its cell's XML (text cells of
repeated labels come from a cache), a row is one join, and every 500 rows go to a
temporary .xml file in one write. XlsxWriter still writes the whole workbook: every
other sheet, and each responses sheet with its header row, widths, frozen panes and
autofilter. splice() then copies its package into the final file, streaming each
responses sheet's rows in after its header row. The demo's whole workbook then takes
~6.5 s instead of ~19 s (2 cores), memory as flat as before (~180 MiB peak).

A data cell's style index (quote prefix, date, date and time) is known only once
XlsxWriter has written styles.xml: the rows carry a one-byte marker instead (bytes
that XML text cannot hold, so no answer can contain them), and splice() replaces each
marker with the ` s="N"` that XlsxWriter gave the cells of use_styles().
"""

from __future__ import annotations

import re
import shutil
import zipfile
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from xml.etree import ElementTree

from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from exports.safe_cells import FORMULA_STARTS, MAX_CELL_CHARS, CutCount

# Style markers, in the order use_styles() takes their formats.
QUOTED, DAY, MOMENT = "\x01", "\x02", "\x03"
MARKERS = (QUOTED, DAY, MOMENT)
# Deflate level of the final file. The demo's 75,000 rows are 104 MB of XML: level 6
# (zlib's default, XlsxWriter's) deflates them in 1.55 s to 11.4 MiB, 5 in 1.1 s to
# 11.7 MiB, 3 in 0.8 s to 13.9 MiB, 1 in 0.7 s to 15.8 MiB.
COMPRESS_LEVEL = 5
BLOCK = 1 << 20
CACHED_TEXT = 100  # texts up to this long (labels, codes) are escaped once, then looked up
CACHE_SIZE = 5_000

# Escaped as XlsxWriter escapes text: control characters (which XML 1.0 cannot hold)
# as Excel's _xHHHH_, a literal _xHHHH_ as _x005F_xHHHH_, then & < >.
_NEEDS_ESCAPE = re.compile(r"[&<>\x00-\x08\x0b-\x1f\ufffe\uffff]|_x[0-9A-Fa-f]{4}_")
_LITERAL_ESCAPE = re.compile(r"(_x[0-9A-Fa-f]{4}_)")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f]")
_EPOCH = datetime(1899, 12, 31)  # Excel's day 0 (1900 date system)
_DAY_EPOCH = _EPOCH.date()
_NUMBER_ERRORS = {"nan": "#NUM!", "inf": "#DIV/0!", "-inf": "#DIV/0!"}  # as XlsxWriter's


# -- cells: what follows `<c r="B7` (a tail) --------------------------------------------


def escape(text: str) -> str:
    """Text as a <t> element holds it, escaped as XlsxWriter escapes it."""
    text = _CONTROL.sub(
        lambda m: f"_x{ord(m.group()):04X}_", _LITERAL_ESCAPE.sub(r"_x005F\1", text)
    )
    text = text.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class TextCells:
    """The text cells of one export: cut to Excel's limit (and counted), quote-prefixed
    when a spreadsheet would run them, escaped. A short text (a label, a code) is made
    once: the hot loop looks it up in `known` before it calls make()."""

    def __init__(self, cuts: CutCount) -> None:
        self.cuts = cuts
        self.known: dict[str, str] = {}

    def make(self, text: str) -> str:
        shown = self.cuts.fit(text) if len(text) > MAX_CELL_CHARS // 2 else text
        style = QUOTED if shown.startswith(FORMULA_STARTS) else ""
        if _NEEDS_ESCAPE.search(shown):
            shown = escape(shown)
        space = ' xml:space="preserve"' if shown[:1].isspace() or shown[-1:].isspace() else ""
        made = f'"{style} t="inlineStr"><is><t{space}>{shown}</t></is></c>'
        if len(text) <= CACHED_TEXT and len(self.known) < CACHE_SIZE:
            self.known[text] = made
        return made


def number_tail(number: int | float) -> str:
    shown = f"{number}"  # repr: the shortest text that reads back as the same double
    if shown[-1] in "nf":  # nan, inf: not numbers in XML; the errors XlsxWriter writes
        return f'" t="e"><v>{_NUMBER_ERRORS[shown]}</v></c>'
    return f'"><v>{shown}</v></c>'


def moment_tail(moment: datetime) -> str:
    """A naive datetime as Excel's serial number, in the date-and-time style."""
    delta = moment - _EPOCH
    serial = delta.days + (delta.seconds + delta.microseconds / 1e6) / 86400
    if serial > 59:  # Excel counts a 29 February 1900
        serial += 1
    return f'"{MOMENT}><v>{serial:.16G}</v></c>'


def day_tail(day: date) -> str:
    serial = (day - _DAY_EPOCH).days
    if serial > 59:
        serial += 1
    return f'"{DAY}><v>{serial}</v></c>'


def use_styles(sheet: Worksheet, formats: Iterable[Format]) -> None:
    """Blank cells A2, B2, ... in these formats (in the order of MARKERS): XlsxWriter
    thus puts the formats in styles.xml, and splice() reads their index off these
    cells, then drops the row for the data rows."""
    for col, cell_format in enumerate(formats):
        sheet.write_blank(1, col, None, cell_format)


# -- the rows file of one sheet --------------------------------------------------------


class SheetRows:
    """The data rows of one responses sheet, <row> after <row>, in a temporary file."""

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.path = path
        self.last_row = 1  # the sheet's last row number (1: the header alone)
        # Lone surrogates (which a JSON answer can hold) cannot be UTF-8: "?" instead.
        self._file = open(path, "w", encoding="utf-8", errors="replace", newline="")
        self.write = self._file.write

    def close(self) -> None:
        self._file.close()


# -- the final file --------------------------------------------------------------------


_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def splice(book: Path, out: Path, sheets: list[SheetRows], level: int = COMPRESS_LEVEL) -> None:
    """Copy XlsxWriter's `book` to `out`, with the rows of `sheets` in their sheets."""
    try:
        with (
            zipfile.ZipFile(book) as source,
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as target,
        ):
            members = _sheet_members(source)
            rows = {members[sheet.name]: sheet for sheet in sheets}
            for info in source.infolist():
                sheet = rows.get(info.filename)
                if sheet is None:
                    with source.open(info) as reader, target.open(info.filename, "w") as writer:
                        shutil.copyfileobj(reader, writer, BLOCK)
                else:
                    _write_sheet(source.read(info).decode("utf-8"), sheet, target, info.filename)
    except BaseException:
        out.unlink(missing_ok=True)
        raise


def _sheet_members(package: zipfile.ZipFile) -> dict[str, str]:
    """{sheet name: its part}, from the workbook and its relationships."""
    workbook = ElementTree.fromstring(package.read("xl/workbook.xml"))
    rels = ElementTree.fromstring(package.read("xl/_rels/workbook.xml.rels"))
    targets = {rel.get("Id"): rel.get("Target", "") for rel in rels}
    members = {}
    for sheet in workbook.iter(f"{_MAIN}sheet"):
        target = targets[sheet.get(_REL)]
        members[sheet.get("name", "")] = target[1:] if target.startswith("/") else f"xl/{target}"
    return members


def _write_sheet(xml: str, sheet: SheetRows, target: zipfile.ZipFile, member: str) -> None:
    """XlsxWriter's sheet up to its header row, the rows, then `</sheetData>` onwards
    (autofilter, margins); its second row, made by use_styles(), gives the styles."""
    data = xml.index("<sheetData>")
    header_end = xml.index("</row>", data) + len("</row>")
    data_end = xml.index("</sheetData>", header_end)
    styles = re.findall(r'<c r="[A-Z]+2" s="(\d+)"/>', xml[header_end:data_end])
    if len(styles) != len(MARKERS):
        raise ValueError(f"{member}: no cells of use_styles() after the header row")
    replace = [
        (marker.encode(), f' s="{style}"'.encode())
        for marker, style in zip(MARKERS, styles, strict=True)
    ]
    head, found = re.subn(
        r'(<dimension ref="A1:[A-Z]+)\d+"', rf'\g<1>{sheet.last_row}"', xml[:header_end], count=1
    )
    if not found:
        raise ValueError(f"{member}: no dimension to widen")
    size = sheet.path.stat().st_size
    # Each marker grows by a few bytes: twice the rows is more than the sheet can be.
    with (
        target.open(member, "w", force_zip64=2 * size > zipfile.ZIP64_LIMIT) as writer,
        open(sheet.path, "rb") as rows,
    ):
        writer.write(head.encode("utf-8"))
        while block := rows.read(BLOCK):
            for marker, style in replace:
                block = block.replace(marker, style)
            writer.write(block)
        writer.write(xml[data_end:].encode("utf-8"))
