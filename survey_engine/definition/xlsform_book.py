"""An XLSForm workbook's sheets as rows of cell values, whether .xlsx or the old .xls.

Why a module of its own: the reader (xlsform.py) only wants each sheet's title and its
rows; .xlsx comes through openpyxl (after xlsform_package.py's checks of the zip) and
.xls through xlrd, as pyxform reads them. Both give None for an empty cell, bool,
int/float, text, and datetime for a date cell.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import xlrd
import xlrd.compdoc

from survey_engine.definition.problems import N_, problem
from survey_engine.definition.xlsform_package import (
    check_package,
    not_a_workbook,
    too_big,
)

# What xlrd's own refusal means, for a file that is no .xls (or a damaged one).
NO_XLS = problem(N_("the file is no Excel 97-2003 workbook, or it is damaged"))


class Sheet:
    """One worksheet: its title and a way to walk its rows (tuples of values)."""

    def __init__(self, title: str, source: Any, kind: str, datemode: int = 0) -> None:
        self.title = title
        self._source = source
        self._kind = kind
        self._datemode = datemode

    def rows(self) -> Iterator[tuple]:
        """Row after row; the sheet's own stated size is ignored for .xlsx (a tiny sheet
        claiming A1:XFD1048576 would otherwise be padded to 17 billion blank cells)."""
        if self._kind == "xlsx":
            self._source.reset_dimensions()
            yield from self._source.iter_rows(values_only=True)
            return
        for index in range(self._source.nrows):
            yield tuple(self._value(cell) for cell in self._source.row(index))

    def _value(self, cell: xlrd.sheet.Cell) -> Any:
        if cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK, xlrd.XL_CELL_ERROR):
            return None
        if cell.ctype == xlrd.XL_CELL_BOOLEAN:
            return bool(cell.value)
        if cell.ctype == xlrd.XL_CELL_DATE:
            try:
                return xlrd.xldate.xldate_as_datetime(cell.value, self._datemode)
            except (xlrd.xldate.XLDateError, ValueError, OverflowError):
                return cell.value
        return cell.value


class Book:
    """An open workbook (a context manager): its sheets in order."""

    def __init__(self, path: Path) -> None:
        self.sheets: list[Sheet] = []
        self._close: Any = None
        if path.suffix.lower() == ".xls":
            self._open_xls(path)
        else:
            self._open_xlsx(path)

    def _open_xlsx(self, path: Path) -> None:
        check_package(path)
        try:
            book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as error:  # openpyxl raises many kinds for a non-workbook
            raise not_a_workbook(".xlsx", error) from None
        self._close = book.close
        self.sheets = [Sheet(ws.title, ws, "xlsx") for ws in book.worksheets]

    def _open_xls(self, path: Path) -> None:
        too_big(path.stat().st_size)
        try:
            book = xlrd.open_workbook(str(path), on_demand=True)
            self.sheets = [
                Sheet(book.sheet_by_index(i).name, book.sheet_by_index(i), "xls", book.datemode)
                for i in range(book.nsheets)
            ]
        except (xlrd.XLRDError, xlrd.compdoc.CompDocError) as error:
            raise not_a_workbook(".xls", error, NO_XLS) from None
        except Exception as error:  # and struct.error, ... for a damaged one
            raise not_a_workbook(".xls", error) from None
        self._close = book.release_resources

    def __enter__(self) -> Book:
        return self

    def __exit__(self, *_: object) -> None:
        if self._close is not None:
            self._close()
