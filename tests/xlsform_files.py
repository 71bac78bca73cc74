"""Workbooks made for the XLSForm tests, and what the reader says of them."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from survey_engine.definition.xlsform import XLSFormInvalid, read_xlsform

# Real XLSForm files from the pyxform project (BSD licence: LICENSE-pyxform beside them).
TESTDATA = Path(__file__).resolve().parent / "data" / "xlsform"
# pyxform's own example forms (its tests/example_xls), .xls and .xlsx, same licence.
EXAMPLES = TESTDATA / "pyxform_examples"


def workbook(path: Path, sheets: dict[str, list[list]]) -> Path:
    """An .xlsx at `path` with these sheets, rows as lists of cell values."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def problems_of(path: Path) -> list[str]:
    """The problems the reader refuses `path` with (it must refuse it)."""
    with pytest.raises(XLSFormInvalid) as refused:
        read_xlsform(path)
    return refused.value.problems
