"""XLSForm (.xlsx) to and from survey-engine/1 definitions.

`read_xlsform` converts the survey, choices and settings sheets; whatever the format
cannot express (repeats, nested groups, geotrace, geoshape, media columns, ...) is refused with
its sheet, row and column, every problem at once, then the result is checked by
`validate_definition` too. The file itself is checked first (xlsform_package.py); a
row's cells and their turning into a page or question are xlsform_rows.py; the writer,
whose files read back as the same definition, is xlsform_writer.py; the columns both
know are in xlsform_sheets.py (docs/survey-format.md, "XLSForm").
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import openpyxl

from survey_engine.definition.schema import FORMAT, validate_definition
from survey_engine.definition.xlsform_package import XLSFormInvalid, check_package
from survey_engine.definition.xlsform_quotas import QUOTA_PATH_RE, read_quotas
from survey_engine.definition.xlsform_rows import RowReader
from survey_engine.definition.xlsform_sheets import (
    CHOICE_PATH_RE,
    PAGE_PATH_RE,
    PLAIN_COLUMNS,
    QUESTION_PATH_RE,
    SETTINGS_KEYS,
    SETTINGS_PLAIN,
    SETTINGS_TEXTS,
    TEXT_COLUMNS,
    Header,
    cell_text,
    language_code,
    settings_value,
)

__all__ = ["XLSFormInvalid", "read_xlsform"]

# What reading the sheets may cost (the file's own limits: xlsform_package.py).
MAX_ROWS = 50_000  # per sheet, blank rows included
MAX_CELLS = 1_000_000  # over the whole workbook, blank cells included
MAX_SECONDS = 15.0  # reading the sheets' rows: well inside gunicorn's 30 s worker timeout


def _slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:64].strip("-")


class _Reader(RowReader):
    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.row_count = self.cell_count = 0
        self.deadline = time.monotonic() + MAX_SECONDS
        self.question_rows: dict[tuple[int, int], int] = {}
        self.page_rows: dict[int, int] = {}
        self.choice_rows: dict[tuple[str, int], int] = {}
        self.quota_rows: dict[int, int] = {}

    # -- sheets ---------------------------------------------------------------------------

    def rows(self, sheet) -> tuple[Header, list[tuple[int, tuple]]]:
        all_rows = list(self.bounded_rows(sheet))
        if not all_rows:
            return Header(()), []
        header = Header(all_rows[0])
        body = [
            (number, row)
            for number, row in enumerate(all_rows[1:], start=2)
            if any(cell_text(cell) is not None for cell in row)
        ]
        return header, body

    def bounded_rows(self, sheet):
        """The sheet's rows as openpyxl reads them, stopped by MAX_ROWS, MAX_CELLS and
        MAX_SECONDS. The sheet's own stated size is ignored: a tiny sheet claiming
        A1:XFD1048576 would otherwise be padded to 17 billion blank cells."""
        sheet.reset_dimensions()
        for count, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            self.cell_count += len(row)
            if count > MAX_ROWS:
                raise XLSFormInvalid(
                    [
                        f"{sheet.title} sheet: more than {MAX_ROWS:,} rows "
                        "(blank rows included); at most that many are read"
                    ]
                )
            if self.cell_count > MAX_CELLS:
                raise XLSFormInvalid(
                    [
                        f"{sheet.title} sheet, row {count}: the workbook has "
                        f"more than {MAX_CELLS:,} cells (blank cells "
                        "included); at most that many are read"
                    ]
                )
            if time.monotonic() > self.deadline:
                raise XLSFormInvalid(
                    [
                        f"{sheet.title} sheet, row {count}: reading took "
                        f"more than {MAX_SECONDS:.0f} seconds; the workbook "
                        "is too large"
                    ]
                )
            yield row

    def read(self) -> dict:
        check_package(self.path)
        try:
            book = openpyxl.load_workbook(self.path, read_only=True, data_only=True)
        except Exception as error:  # openpyxl raises many kinds for a non-workbook
            raise XLSFormInvalid([f"not an XLSForm workbook (.xlsx): {error}"]) from None
        try:
            sheets = {ws.title.strip().lower(): ws for ws in book.worksheets}
            for name, sheet in sheets.items():
                if name not in ("survey", "choices", "settings", "quotas") and self.rows(sheet)[1]:
                    self.problem(sheet.title, None, None, "this sheet is not supported")
            definition = self.settings(sheets.get("settings"))
            if "quotas" in sheets:
                quotas, self.quota_rows = read_quotas(self, *self.rows(sheets["quotas"]))
                if quotas:
                    definition.setdefault("settings", {})["quotas"] = quotas
            lists = self.choices(sheets.get("choices"))
            if "survey" not in sheets:
                self.problem("survey", None, None, "the workbook has no survey sheet")
                pages: list = []
            else:
                pages = self.survey(sheets["survey"])
        except XLSFormInvalid:
            raise
        except Exception as error:  # a sheet's XML openpyxl cannot read (ParseError, ...)
            raise XLSFormInvalid([f"the workbook cannot be read: {error}"]) from None
        finally:
            book.close()
        definition["pages"] = pages
        if (
            "default_language" not in definition
            and self.languages[:1] != ["vi"]
            and len(self.languages) == 1
        ):
            definition["default_language"] = self.languages[0]  # the only language used
        matrix_rows = self.matrix_rows(pages, lists)
        if lists:
            definition["choice_lists"] = lists
        for question in matrix_rows:
            question["rows"] = [dict(row) for row in lists.get(question["rows"], [])]
        for name in {q.pop("_rows_list") for q in matrix_rows}:
            if not any(q.get("choices") == name for page in pages for q in page["questions"]):
                lists.pop(name, None)
        if "choice_lists" in definition and not lists:
            del definition["choice_lists"]
        for problem in validate_definition(definition):
            self.add_problem(self.locate(problem))
        if self.found.total:
            raise self.invalid()
        return definition

    def matrix_rows(self, pages: list, lists: dict) -> list[dict]:
        found = []
        for page in pages:
            for question in page["questions"]:
                if question.get("type") == "matrix" and "rows" in question:
                    question["_rows_list"] = question["rows"]
                    found.append(question)
        return found

    def locate(self, problem: str) -> str:
        """Adds the sheet and row to a path-style problem of validate_definition."""
        match = QUESTION_PATH_RE.match(problem)
        if match and (int(match[1]), int(match[2])) in self.question_rows:
            return (
                f"{problem} (survey sheet, row {self.question_rows[int(match[1]), int(match[2])]})"
            )
        match = PAGE_PATH_RE.match(problem)
        if match and int(match[1]) in self.page_rows:
            return f"{problem} (survey sheet, row {self.page_rows[int(match[1])]})"
        match = QUOTA_PATH_RE.match(problem)
        if match and int(match[1]) in self.quota_rows:
            return f"{problem} (quotas sheet, row {self.quota_rows[int(match[1])]})"
        match = CHOICE_PATH_RE.match(problem)
        if match and (match[1], int(match[2])) in self.choice_rows:
            return f"{problem} (choices sheet, row {self.choice_rows[match[1], int(match[2])]})"
        return problem

    def settings(self, sheet) -> dict:
        definition: dict[str, Any] = {"format": FORMAT}
        texts: dict = {}
        plain: dict = {}
        header_bases: set[str] = set()
        if sheet is not None:
            header, body = self.rows(sheet)
            header_bases = {c[0] for c in header.columns if c is not None}
            for number, row in body[:1]:
                texts, plain, _ = self.cells(
                    "settings", header, number, row, SETTINGS_TEXTS, SETTINGS_PLAIN
                )
            for number, _ in body[1:]:
                self.problem("settings", number, None, "only one row of settings is read")
        language = cell_text(plain.get("default_language"))
        if language is not None:
            code = language_code(language)
            if code is None:
                self.problem(
                    "settings",
                    2,
                    "default_language",
                    f"{language!r} is not a language code such as 'vi' or 'English (en)'",
                )
            else:
                definition["default_language"] = self.default_language = code
        form_id = cell_text(plain.get("form_id")) or self.path.stem
        definition["slug"] = _slugify(form_id)
        title = self.text(texts.get("form_title"))
        definition["title"] = title if title is not None else form_id
        description = self.text(texts.get("description"))
        if description is not None:
            definition["description"] = description
        window = {
            key: settings_value(key, plain.get(key)) for key in SETTINGS_KEYS if key in header_bases
        }
        if window:
            definition["settings"] = window
        return definition

    def choices(self, sheet) -> dict[str, list[dict]]:
        lists: dict[str, list[dict]] = {}
        if sheet is None:
            return lists
        header, body = self.rows(sheet)
        for number, row in body:
            texts, plain, extras = self.cells(
                "choices", header, number, row, ("label",), ("list_name", "name"), extra_ok=True
            )
            list_name, name = cell_text(plain.get("list_name")), cell_text(plain.get("name"))
            if list_name is None or name is None:
                self.problem(
                    "choices", number, "list_name" if list_name is None else "name", "is empty"
                )
                continue
            choice: dict[str, Any] = {"name": name}
            label = self.text(texts.get("label"))
            if label is not None:
                choice["label"] = label
            for key, value in extras.items():
                choice[key] = value if isinstance(value, bool | int | float) else cell_text(value)
            choices = lists.setdefault(list_name, [])
            self.choice_rows[list_name, len(choices)] = number
            choices.append(choice)
        return lists

    def survey(self, sheet) -> list[dict]:
        header, body = self.rows(sheet)
        pages: list[dict] = []
        stack: list[tuple[str, int]] = []  # open groups/repeats: (kind, row)
        current: dict | None = None  # the page questions go to
        loose: dict | None = None  # the page of questions outside any group
        for number, row in body:
            texts, plain, _ = self.cells(
                "survey",
                header,
                number,
                row,
                TEXT_COLUMNS,
                ("type", "name", "required") + PLAIN_COLUMNS,
            )
            raw_type = cell_text(plain.get("type"))
            if raw_type is None:
                self.problem("survey", number, "type", "is empty")
                continue
            kind = re.sub(r"[\s_]+", " ", raw_type.lower())
            name = cell_text(plain.get("name"))
            if kind in ("begin group", "begin repeat"):
                page = self.begin(number, kind, name, texts, plain, stack)
                if page is not None:
                    current = page
                    self.page_rows[len(pages)] = number
                    pages.append(current)
                    loose = None
                continue
            if kind in ("end group", "end repeat"):
                if self.end(number, kind, raw_type, stack) and not stack:
                    current = None
                continue
            question = self.question(number, kind, raw_type, name, texts, plain)
            if question is None:
                continue
            if current is None:
                if loose is None:
                    loose = {"name": self.free_page_name(pages), "questions": []}
                    pages.append(loose)
                page = loose
            else:
                page = current
            self.question_rows[len(pages) - 1, len(page["questions"])] = number
            page["questions"].append(question)
        for kind, number in stack:
            self.problem("survey", number, "type", f"this {kind} has no 'end {kind}'")
        return pages

    def begin(
        self,
        number: int,
        kind: str,
        name: str | None,
        texts: dict,
        plain: dict,
        stack: list[tuple[str, int]],
    ) -> dict | None:
        """Opens a group or repeat on `stack`; the new page of a top-level group."""
        if kind == "begin repeat":
            self.problem(
                "survey",
                number,
                "type",
                "repeats are not supported (a survey-engine survey has no repeated parts)",
            )
        elif stack:
            self.problem(
                "survey",
                number,
                "type",
                "a group inside a group is not supported (groups are pages, one level only)",
            )
        stack.append((kind.split()[1], number))
        if len(stack) == 1 and kind == "begin group":
            return self.page(number, name, texts, plain)
        return None

    def end(self, number: int, kind: str, raw_type: str, stack: list[tuple[str, int]]) -> bool:
        """Closes the group or repeat open on `stack`; False (a problem) if none matches."""
        if not stack or stack[-1][0] != kind.split()[1]:
            self.problem("survey", number, "type", f"{raw_type!r} has no matching begin")
            return False
        stack.pop()
        return True


def read_xlsform(path: str | Path) -> dict:
    """The survey-engine/1 definition of an XLSForm workbook; raises XLSFormInvalid."""
    path = Path(path)
    if path.suffix.lower() == ".xls":
        raise XLSFormInvalid(
            [f"{path.name}: the old .xls format is not supported; save the workbook as .xlsx"]
        )
    return _Reader(path).read()
