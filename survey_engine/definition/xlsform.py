"""XLSForm (.xlsx) to and from survey-engine/1 definitions.

`read_xlsform` converts the survey, choices and settings sheets; whatever the format
cannot express (repeats, nested groups, geopoint, media columns, ...) is refused with
its sheet, row and column, every problem at once, then the result is checked by
`validate_definition` too. `write_xlsform` writes a definition so that reading the file
back gives the same definition; survey-engine-only properties use extra columns
(docs/survey-format.md, "XLSForm").
"""

from __future__ import annotations

import re
import time
import zipfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from exports.safe_cells import looks_like_formula
from survey_engine.definition.schema import FORMAT, LANG_RE, NOT_YET_SUPPORTED, validate_definition
from survey_engine.untrusted import safe_text

TEXT_COLUMNS = ("label", "hint", "required_message", "constraint_message")
EXPRESSION_COLUMNS = ("relevant", "constraint", "choice_filter", "calculation")
# Columns only survey-engine understands (no XLSForm equivalent).
EXTRA_COLUMNS = ("min", "max", "min_choices", "max_choices", "scale", "matrix_rows")
PLAIN_COLUMNS = ("appearance", "default") + EXPRESSION_COLUMNS + EXTRA_COLUMNS
SIMPLE_TYPES = {"note", "text", "integer", "decimal", "date", "calculate", "hidden",
                "acknowledge", "email", "phone", "rating", "nps"}
SELECT_ALIASES = {"select_one": "select_one", "select one": "select_one",
                  "select_multiple": "select_multiple",
                  "select all that apply": "select_multiple",
                  "rank": "rank", "matrix": "matrix"}
SELECT_RE = re.compile(r"^(select_one|select one|select_multiple|select all that apply|rank|"
                       r"matrix)(?:\s+from)?\s+(\S+)(\s+or_other)?$")
MEDIA_COLUMNS = {"image", "audio", "video", "big-image", "media"}
SETTINGS_TEXTS = ("form_title", "description")
SETTINGS_PLAIN = ("form_id", "default_language", "version", "opens_at", "closes_at",
                  "max_responses")
TRUE_WORDS = {"yes", "true", "true()", "1"}
FALSE_WORDS = {"no", "false", "false()", "0"}
LANGUAGE_NAMES = {"vi": "Vietnamese", "en": "English", "fr": "French", "zh": "Chinese",
                  "km": "Khmer", "lo": "Lao", "th": "Thai", "es": "Spanish", "de": "German",
                  "ja": "Japanese", "ko": "Korean", "ru": "Russian", "pt": "Portuguese"}
LANGUAGE_CODES = {name.lower(): code for code, name in LANGUAGE_NAMES.items()}
QUESTION_PATH_RE = re.compile(r"^pages\[(\d+)\]\.questions\[(\d+)\]")
PAGE_PATH_RE = re.compile(r"^pages\[(\d+)\]")
CHOICE_PATH_RE = re.compile(r"^choice_lists\.([^.\[]+)\[(\d+)\]")


# What reading one uploaded workbook may cost (docs/survey-format.md, "Limits"). A real
# XLSForm, even with every commune of Viet Nam in a choice list, stays far below them;
# a zip bomb of 300 KB inflating to 100 MB took 40 s and 1.17 GB before.
MAX_FILE_BYTES = 8 * 1024 * 1024  # the .xlsx file (the web upload: ADMIN_UPLOAD_MAX_BYTES)
MAX_UNCOMPRESSED_BYTES = 32 * 1024 * 1024  # all parts together, as the zip directory says
MAX_COMPRESSION_RATIO = 100  # per part of more than RATIO_CHECKED_ABOVE bytes
RATIO_CHECKED_ABOVE = 1024 * 1024
MAX_PARTS = 1000  # files inside the zip
MAX_ROWS = 50_000  # per sheet, blank rows included
MAX_CELLS = 1_000_000  # over the whole workbook, blank cells included
MAX_SECONDS = 15.0  # reading the sheets' rows: well inside gunicorn's 30 s worker timeout
MAX_LISTED_PROBLEMS = 100  # problems listed; the rest are counted
# An XML part declaring a DTD can define entities (billion laughs, external files):
# no spreadsheet program writes one, so any is refused before a parser sees it.
_DOCTYPE_MARKS = tuple("<!DOCTYPE".encode(codec) for codec in ("utf-8", "utf-16-le",
                                                                 "utf-16-be"))
_SCAN_CHUNK = 1024 * 1024


class XLSFormInvalid(ValueError):
    """The workbook cannot become a definition; `problems` lists the first
    MAX_LISTED_PROBLEMS reasons, `total` counts them all."""

    def __init__(self, problems: list[str], total: int | None = None) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
        self.total = max(total or 0, len(problems))


def check_package(path: Path) -> None:
    """Refuses a file whose reading would cost too much, or that holds a DTD, before
    openpyxl reads anything: the sizes come from the zip directory, which also bounds
    what zipfile will inflate (a part longer than it says fails its check)."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise XLSFormInvalid([f"the file is {size:,} bytes; at most {MAX_FILE_BYTES:,} "
                              "are accepted"])
    try:
        with zipfile.ZipFile(path) as package:
            parts = package.infolist()
            if len(parts) > MAX_PARTS:
                raise XLSFormInvalid([f"the workbook holds {len(parts):,} files; at most "
                                      f"{MAX_PARTS:,} are accepted"])
            total = sum(part.file_size for part in parts)
            if total > MAX_UNCOMPRESSED_BYTES:
                raise XLSFormInvalid([f"the workbook unpacks to {total:,} bytes; at most "
                                      f"{MAX_UNCOMPRESSED_BYTES:,} are accepted"])
            for part in parts:
                ratio = part.file_size / max(part.compress_size, 1)
                if part.file_size > RATIO_CHECKED_ABOVE and ratio > MAX_COMPRESSION_RATIO:
                    raise XLSFormInvalid([
                        f"{part.filename}: compressed {ratio:,.0f} to 1; at most "
                        f"{MAX_COMPRESSION_RATIO} to 1 is accepted (a zip bomb?)"])
            for part in parts:
                if _declares_dtd(package, part):
                    raise XLSFormInvalid([
                        f"{part.filename}: the XML declares a DOCTYPE (entities); "
                        "spreadsheet programs never write one, so it is refused"])
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError,
            EOFError, RuntimeError) as error:
        raise XLSFormInvalid([f"not an XLSForm workbook (.xlsx): {error}"]) from None


def _declares_dtd(package: zipfile.ZipFile, part: zipfile.ZipInfo) -> bool:
    """Whether '<!DOCTYPE' appears in the part (as UTF-8 or UTF-16), read in chunks."""
    tail = b""
    with package.open(part) as stream:
        while chunk := stream.read(_SCAN_CHUNK):
            window = tail + chunk
            if any(mark in window for mark in _DOCTYPE_MARKS):
                return True
            tail = window[-32:]
    return False


class _Header:
    """One sheet's header row: base column name and language (or None) per column."""

    def __init__(self, cells: tuple) -> None:
        self.columns: list[tuple[str, str | None, str] | None] = []
        for cell in cells:
            if cell is None or not str(cell).strip():
                self.columns.append(None)
                continue
            raw = str(cell).strip()
            base, sep, lang = raw.partition("::") if "::" in raw else raw.partition(":")
            base = base.strip().lower().replace(" ", "_")
            self.columns.append((base, lang.strip() if sep else None, raw))


def _language_code(spec: str) -> str | None:
    """'Vietnamese (vi)' or 'vi' -> 'vi'; a bare language name has no code -> None."""
    match = re.search(r"\(([^()]+)\)\s*$", spec)
    code = (match.group(1) if match else spec).strip()
    if LANG_RE.match(code):
        return code
    if LANG_RE.match(code.lower()) and not match:
        return code.lower()
    return LANGUAGE_CODES.get(code.lower())


def _cell_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    return text or None


def _slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:64].strip("-")


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[str] = []  # the first MAX_LISTED_PROBLEMS
        self.problem_count = 0
        self.row_count = self.cell_count = 0
        self.deadline = time.monotonic() + MAX_SECONDS
        self.question_rows: dict[tuple[int, int], int] = {}
        self.page_rows: dict[int, int] = {}
        self.choice_rows: dict[tuple[str, int], int] = {}
        self.default_language: str | None = None
        self.languages: list[str] = []
        self.bad_languages: set[str] = set()

    def problem(self, sheet: str, row: int | None, column: str | None, text: str) -> None:
        where = f"{sheet} sheet"
        if row is not None:
            where += f", row {row}"
        if column is not None:
            where += f", column {column}"
        self.add_problem(f"{where}: {text}")

    def add_problem(self, text: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_LISTED_PROBLEMS:
            self.problems.append(text)

    def invalid(self) -> XLSFormInvalid:
        return XLSFormInvalid(self.problems, self.problem_count)

    # -- sheets ---------------------------------------------------------------------------

    def rows(self, sheet) -> tuple[_Header, list[tuple[int, tuple]]]:
        all_rows = list(self.bounded_rows(sheet))
        if not all_rows:
            return _Header(()), []
        header = _Header(all_rows[0])
        body = [(number, row) for number, row in enumerate(all_rows[1:], start=2)
                if any(_cell_text(cell) is not None for cell in row)]
        return header, body

    def bounded_rows(self, sheet):
        """The sheet's rows as openpyxl reads them, stopped by MAX_ROWS, MAX_CELLS and
        MAX_SECONDS. The sheet's own stated size is ignored: a tiny sheet claiming
        A1:XFD1048576 would otherwise be padded to 17 billion blank cells."""
        sheet.reset_dimensions()
        for count, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            self.cell_count += len(row)
            if count > MAX_ROWS:
                raise XLSFormInvalid([f"{sheet.title} sheet: more than {MAX_ROWS:,} rows "
                                      "(blank rows included); at most that many are read"])
            if self.cell_count > MAX_CELLS:
                raise XLSFormInvalid([f"{sheet.title} sheet, row {count}: the workbook has "
                                      f"more than {MAX_CELLS:,} cells (blank cells "
                                      "included); at most that many are read"])
            if time.monotonic() > self.deadline:
                raise XLSFormInvalid([f"{sheet.title} sheet, row {count}: reading took "
                                      f"more than {MAX_SECONDS:.0f} seconds; the workbook "
                                      "is too large"])
            yield row

    def cells(self, sheet_name: str, header: _Header, number: int, row: tuple,
              allowed_texts: tuple[str, ...], allowed_plain: tuple[str, ...],
              extra_ok: bool = False) -> tuple[dict, dict, dict]:
        """(texts {base: {lang|None: text}}, plain {base: value}, extras {base: value})."""
        texts: dict[str, dict[str | None, str]] = {}
        plain: dict[str, Any] = {}
        extras: dict[str, Any] = {}
        for column, value in zip(header.columns, row, strict=False):
            if column is None or _cell_text(value) is None:
                continue
            base, lang, raw = column
            if base in allowed_texts:
                code = None
                if lang is not None:
                    code = _language_code(lang)
                    if code is None:
                        if raw not in self.bad_languages:
                            self.bad_languages.add(raw)
                            self.problem(sheet_name, 1, raw,
                                         f"unknown language {lang!r}: write its code, "
                                         f"e.g. '{base}::English (en)'")
                        continue
                    if code not in self.languages:
                        self.languages.append(code)
                texts.setdefault(base, {})[code] = _cell_text(value)
            elif lang is None and base in allowed_plain:
                plain[base] = value
            elif base in NOT_YET_SUPPORTED:
                self.problem(sheet_name, number, raw,
                             f"{base!r} is not supported yet by survey-engine")
            elif extra_ok and lang is None and base not in MEDIA_COLUMNS:
                extras[base] = value
            else:
                self.problem(sheet_name, number, raw, f"column {raw!r} is not supported")
        return texts, plain, extras

    def text(self, values: dict[str | None, str] | None) -> str | dict | None:
        if not values:
            return None
        if list(values) == [None]:
            return values[None]
        result = {code: text for code, text in values.items() if code is not None}
        if None in values:
            result.setdefault(self.default_language or "vi", values[None])
        return result

    def read(self) -> dict:
        check_package(self.path)
        try:
            book = openpyxl.load_workbook(self.path, read_only=True, data_only=True)
        except Exception as error:  # openpyxl raises many kinds for a non-workbook
            raise XLSFormInvalid([f"not an XLSForm workbook (.xlsx): {error}"]) from None
        try:
            sheets = {ws.title.strip().lower(): ws for ws in book.worksheets}
            for name, sheet in sheets.items():
                if name not in ("survey", "choices", "settings") and self.rows(sheet)[1]:
                    self.problem(sheet.title, None, None, "this sheet is not supported")
            definition = self.settings(sheets.get("settings"))
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
        if "default_language" not in definition and self.languages[:1] != ["vi"] \
                and len(self.languages) == 1:
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
        if self.problem_count:
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
            return f"{problem} (survey sheet, row " \
                   f"{self.question_rows[int(match[1]), int(match[2])]})"
        match = PAGE_PATH_RE.match(problem)
        if match and int(match[1]) in self.page_rows:
            return f"{problem} (survey sheet, row {self.page_rows[int(match[1])]})"
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
                texts, plain, _ = self.cells("settings", header, number, row,
                                             SETTINGS_TEXTS, SETTINGS_PLAIN)
            for number, _ in body[1:]:
                self.problem("settings", number, None, "only one row of settings is read")
        language = _cell_text(plain.get("default_language"))
        if language is not None:
            code = _language_code(language)
            if code is None:
                self.problem("settings", 2, "default_language",
                             f"{language!r} is not a language code such as 'vi' or "
                             "'English (en)'")
            else:
                definition["default_language"] = self.default_language = code
        form_id = _cell_text(plain.get("form_id")) or self.path.stem
        definition["slug"] = _slugify(form_id)
        title = self.text(texts.get("form_title"))
        definition["title"] = title if title is not None else form_id
        description = self.text(texts.get("description"))
        if description is not None:
            definition["description"] = description
        window = {}
        for key in ("opens_at", "closes_at", "max_responses"):
            if key in header_bases:
                value = plain.get(key)
                window[key] = (value if key == "max_responses" and not isinstance(value, str)
                               else _cell_text(value))
        if window:
            definition["settings"] = window
        return definition

    def choices(self, sheet) -> dict[str, list[dict]]:
        lists: dict[str, list[dict]] = {}
        if sheet is None:
            return lists
        header, body = self.rows(sheet)
        for number, row in body:
            texts, plain, extras = self.cells("choices", header, number, row, ("label",),
                                              ("list_name", "name"), extra_ok=True)
            list_name, name = _cell_text(plain.get("list_name")), _cell_text(plain.get("name"))
            if list_name is None or name is None:
                self.problem("choices", number, "list_name" if list_name is None else "name",
                             "is empty")
                continue
            choice: dict[str, Any] = {"name": name}
            label = self.text(texts.get("label"))
            if label is not None:
                choice["label"] = label
            for key, value in extras.items():
                choice[key] = (value if isinstance(value, bool | int | float)
                               else _cell_text(value))
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
            texts, plain, _ = self.cells("survey", header, number, row, TEXT_COLUMNS,
                                         ("type", "name", "required") + PLAIN_COLUMNS)
            raw_type = _cell_text(plain.get("type"))
            if raw_type is None:
                self.problem("survey", number, "type", "is empty")
                continue
            kind = re.sub(r"[\s_]+", " ", raw_type.lower())
            name = _cell_text(plain.get("name"))
            if kind in ("begin group", "begin repeat"):
                if kind == "begin repeat":
                    self.problem("survey", number, "type",
                                 "repeats are not supported (a survey-engine survey has no "
                                 "repeated parts)")
                elif stack:
                    self.problem("survey", number, "type",
                                 "a group inside a group is not supported (groups are pages, "
                                 "one level only)")
                stack.append((kind.split()[1], number))
                if len(stack) == 1 and kind == "begin group":
                    current = self.page(number, name, texts, plain)
                    self.page_rows[len(pages)] = number
                    pages.append(current)
                    loose = None
                continue
            if kind in ("end group", "end repeat"):
                if not stack or stack[-1][0] != kind.split()[1]:
                    self.problem("survey", number, "type", f"{raw_type!r} has no matching begin")
                else:
                    stack.pop()
                    if not stack:
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

    def free_page_name(self, pages: list[dict]) -> str:
        taken = {page.get("name") for page in pages}
        index = len(pages) + 1
        while f"page_{index}" in taken:
            index += 1
        return f"page_{index}"

    def page(self, number: int, name: str | None, texts: dict, plain: dict) -> dict:
        page: dict[str, Any] = {"name": name, "questions": []}
        title = self.text(texts.pop("label", None))
        if title is not None:
            page["title"] = title
        for key in texts:
            self.problem("survey", number, key, "a group (page) takes no " + key)
        for key, value in plain.items():
            if key in ("type", "name"):
                continue
            if key == "relevant":
                page["relevant"] = _cell_text(value)
            elif key == "appearance" and _cell_text(value) == "field-list":
                pass  # a page already shows its questions together
            else:
                self.problem("survey", number, key,
                             f"{_cell_text(value)!r} is not supported on a group (page)")
        return page

    def question(self, number: int, kind: str, raw_type: str, name: str | None,
                 texts: dict, plain: dict) -> dict | None:
        question: dict[str, Any] = {"name": name}
        kind = re.sub(r"\s+", " ", raw_type.strip().lower())
        match = SELECT_RE.match(kind)
        if match:
            qtype = SELECT_ALIASES[match[1]]
            question.update(type=qtype, choices=raw_type.split()[-2 if match[3] else -1])
            if match[3]:
                if qtype not in ("select_one", "select_multiple"):
                    self.problem("survey", number, "type", f"or_other is not possible on {qtype}")
                question["other"] = True
        elif kind in SIMPLE_TYPES:
            qtype = question["type"] = kind
        else:
            self.problem("survey", number, "type", f"{raw_type!r} is not supported")
            return None
        for key, values in texts.items():
            question[key] = self.text(values)
        for key, value in plain.items():
            if key in ("type", "name"):
                continue
            if key == "required":
                word = str(value).strip().lstrip("=").lower() if not isinstance(value, bool) \
                    else str(value).lower()
                if word in TRUE_WORDS:
                    question["required"] = True
                elif word in FALSE_WORDS:
                    question["required"] = False
                else:
                    self.problem("survey", number, "required",
                                 f"{value!r}: only yes/no (true()/false()) is supported")
            elif key == "default":
                question["default"] = self.default(qtype, value)
            elif key in ("min", "max", "scale", "min_choices", "max_choices"):
                question[key] = self.number(value, qtype if key in ("min", "max") else "integer")
            elif key == "matrix_rows":
                question["rows"] = _cell_text(value)
            else:
                question[key] = _cell_text(value)
        return question

    def number(self, value: Any, qtype: str) -> Any:
        if isinstance(value, datetime | date):
            return value.date().isoformat() if isinstance(value, datetime) else value.isoformat()
        if isinstance(value, float) and value.is_integer() and qtype != "decimal":
            return int(value)
        if isinstance(value, str) and qtype in ("integer", "decimal"):
            try:
                return int(value) if re.fullmatch(r"-?\d+", value.strip()) else float(value)
            except ValueError:
                return value
        return value

    def default(self, qtype: str, value: Any) -> Any:
        if qtype == "select_multiple":
            return str(_cell_text(value)).split()
        if qtype in ("integer", "decimal") or isinstance(value, bool):
            return value
        if isinstance(value, int | float) and qtype not in ("text", "hidden", "select_one"):
            return value
        return _cell_text(value)


def read_xlsform(path: str | Path) -> dict:
    """The survey-engine/1 definition of an XLSForm workbook; raises XLSFormInvalid."""
    path = Path(path)
    if path.suffix.lower() == ".xls":
        raise XLSFormInvalid([f"{path.name}: the old .xls format is not supported; "
                              "save the workbook as .xlsx"])
    return _Reader(path).read()


# -- writing --------------------------------------------------------------------------------


def _language_columns(base: str, texts: list[Any], order: list[str]) -> list[tuple[str, Any]]:
    """Header cells and language keys (None: a plain text) for one text property."""
    plain = any(isinstance(t, str) for t in texts)
    codes = [code for code in order if any(isinstance(t, dict) and code in t for t in texts)]
    columns = [(base, None)] if plain else []
    for code in codes:
        columns.append((f"{base}::{LANGUAGE_NAMES.get(code, code)} ({code})", code))
    return columns


def _text_cell(text: Any, code: str | None) -> Any:
    if code is None:
        return text if isinstance(text, str) else None
    return text.get(code) if isinstance(text, dict) else None


def _languages(definition: dict) -> list[str]:
    found = [definition.get("default_language", "vi")]

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if LANG_RE.match(str(key)) and isinstance(item, str) and key not in found:
                    found.append(key)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(definition)
    return found


def _sheet(book, title: str, rows: list[list]) -> None:
    """Writes every text as a text cell: openpyxl would make '=HYPERLINK(...)' a live
    formula. Text a spreadsheet would read as one (exports.safe_cells: = + - @, tab,
    CR) also gets Excel's quote prefix, so it stays text when the cell is edited; the
    value itself is unchanged, so reading the file back gives the same definition."""
    sheet = book.create_sheet(title)
    for number, row in enumerate(rows, start=1):
        for column, value in enumerate(row, start=1):
            if value is None:
                continue
            cell = sheet.cell(row=number, column=column)
            if isinstance(value, str):
                # XML cannot hold most control characters; openpyxl would raise.
                cell.value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
                cell.data_type = "s"
                if looks_like_formula(value):
                    cell.quotePrefix = True
            else:
                cell.value = value


# Problems today's checks find in what an older version could hold: an expression now
# refused, a schedule outside 1900..2100. They do not stop its download.
_NEWER_RULE_PROBLEM = re.compile(r"^[^:]*\.(relevant|constraint|choice_filter|calculation): "
                                 r"at character \d+: "
                                 r"|^settings\.(opens_at|closes_at): a time between ")


def _readable(value: Any) -> Any:
    """`value` with every NUL, surrogate and non-character replaced by U+FFFD (keys
    too)."""
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, dict):
        return {_readable(key): _readable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_readable(item) for item in value]
    return value


def write_xlsform(definition: dict, path: str | Path) -> None:
    """Writes a stored definition as an XLSForm workbook (raises ValueError if its
    structure is invalid).

    A version stored before today's checks may hold text UTF-8 cannot encode (written
    as U+FFFD) or an expression now refused, such as regex(., ${q1}) (written as it
    is: importing the file again then names it), or a schedule now out of range;
    none of it stops the download."""
    definition = _readable(definition)
    problems = [problem for problem in validate_definition(definition)
                if not _NEWER_RULE_PROBLEM.match(problem)]
    if problems:
        raise ValueError("not a valid definition: " + "; ".join(problems))
    order = _languages(definition)
    lists = {name: [dict(c) for c in choices]
             for name, choices in definition.get("choice_lists", {}).items()}
    questions = [q for page in definition["pages"] for q in page["questions"]]
    matrix_lists: dict[int, str] = {}
    for question in questions:
        if question["type"] == "matrix":
            list_name, index = f"{question['name']}_rows", 1
            while list_name in lists:
                index += 1
                list_name = f"{question['name']}_rows{index}"
            lists[list_name] = [dict(row) for row in question["rows"]]
            matrix_lists[id(question)] = list_name

    # survey sheet
    text_columns: list[tuple[str, str, Any]] = []
    for key in TEXT_COLUMNS:
        values = [q.get(key) for q in questions if q.get(key) is not None]
        if key == "label":
            values += [p["title"] for p in definition["pages"] if "title" in p]
        text_columns += [(key, header, code)
                         for header, code in _language_columns(key, values, order)]
    plain = [key for key in ("required",) + PLAIN_COLUMNS
             if any(key in q for q in questions)
             or (key == "relevant" and any("relevant" in p for p in definition["pages"]))
             or (key == "matrix_rows" and matrix_lists)]
    rows: list[list] = [["type", "name"] + [h for _, h, _ in text_columns] + plain]
    for page in definition["pages"]:
        row = ["begin group", page["name"]]
        row += [_text_cell(page.get("title"), code) if key == "label" else None
                for key, _, code in text_columns]
        row += [page.get("relevant") if key == "relevant" else None for key in plain]
        rows.append(row)
        for question in page["questions"]:
            qtype = question["type"]
            if "choices" in question:
                qtype += " " + question["choices"] + (" or_other" if question.get("other")
                                                      else "")
            row = [qtype, question["name"]]
            row += [_text_cell(question.get(key), code) for key, _, code in text_columns]
            for key in plain:
                value = question.get(key)
                if key == "required" and value is not None:
                    value = "yes" if value else "no"
                elif key == "default" and isinstance(value, list):
                    value = " ".join(value)
                elif key == "matrix_rows":
                    value = matrix_lists.get(id(question))
                row.append(value)
            rows.append(row)
        rows.append(["end group"])

    # choices sheet
    all_choices = [c for choices in lists.values() for c in choices]
    label_columns = _language_columns("label", [c["label"] for c in all_choices if "label" in c],
                                      order)
    properties: list[str] = []
    for choice in all_choices:
        properties += [k for k in choice if k not in ("name", "label") and k not in properties]
    choice_rows: list[list] = [["list_name", "name"] + [h for h, _ in label_columns] + properties]
    for list_name, choices in lists.items():
        for choice in choices:
            choice_rows.append([list_name, choice["name"]]
                               + [_text_cell(choice.get("label"), code)
                                  for _, code in label_columns]
                               + [choice.get(key) for key in properties])

    # settings sheet
    settings_header: list[str] = []
    settings_row: list[Any] = []
    for key, source in (("form_title", "title"), ("description", "description")):
        if source in definition:
            for header, code in _language_columns(key, [definition[source]], order):
                settings_header.append(header)
                settings_row.append(_text_cell(definition[source], code))
    settings_header.append("form_id")
    settings_row.append(definition["slug"])
    if "default_language" in definition:
        settings_header.append("default_language")
        settings_row.append(definition["default_language"])
    for key, value in (definition.get("settings") or {}).items():
        settings_header.append(key)
        settings_row.append(value)

    book = openpyxl.Workbook()
    book.remove(book.active)
    _sheet(book, "survey", rows)
    _sheet(book, "choices", choice_rows)
    _sheet(book, "settings", [settings_header, settings_row])
    book.save(path)
