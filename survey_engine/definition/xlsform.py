"""XLSForm (.xlsx, or .xls to read) to and from survey-engine/1 definitions.

`read_xlsform` converts the survey, choices and settings sheets; whatever the format
cannot express (repeats, geotrace, geoshape, media columns, ...) is refused with its sheet, row
and column, every problem at once, then the result is checked by `validate_definition`
too; what it ignores or adjusts is told in notes. The workbook is opened by
xlsform_book.py (.xlsx after xlsform_package.py's checks, or .xls); a row's cells and
their turning into a page or question are xlsform_rows.py, the survey sheet's groups
into pages xlsform_pages.py, loose names xlsform_names.py; the writer,
whose files read back as the same definition, is xlsform_writer.py; the columns both
know are in xlsform_sheets.py (docs/survey-format.md, "XLSForm").
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from survey_engine.definition.expression_syntax import ExpressionError, Parser
from survey_engine.definition.problems import N_, Count, Problem, problem
from survey_engine.definition.schema import FORMAT, validate_definition
from survey_engine.definition.xlsform_book import Book
from survey_engine.definition.xlsform_names import choice_name_of, list_name_of, rename_literals
from survey_engine.definition.xlsform_package import XLSFormInvalid
from survey_engine.definition.xlsform_pages import PageBuilder
from survey_engine.definition.xlsform_quotas import QUOTA_PATH_RE, read_quotas
from survey_engine.definition.xlsform_rows import where
from survey_engine.definition.xlsform_sheets import (
    CHOICE_PATH_RE,
    EXPRESSION_COLUMNS,
    IGNORED_SETTINGS,
    METADATA_TYPES,
    PAGE_PATH_RE,
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


UNKNOWN_REF_RE = re.compile(r"unknown question '\$\{([^}]+)\}'")


def _slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:64].strip("-")


class _Reader(PageBuilder):
    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.row_count = self.cell_count = 0
        self.deadline = time.monotonic() + MAX_SECONDS
        self.choice_rows: dict[tuple[str, int], int] = {}
        self.quota_rows: dict[int, int] = {}
        self.read_sheets: dict[int, tuple[Header, list[tuple[int, tuple]]]] = {}
        self.renamed: dict[str, str] = {}  # choice names made plain: old -> new

    # -- sheets ---------------------------------------------------------------------------

    def rows(self, sheet) -> tuple[Header, list[tuple[int, tuple]]]:
        """The sheet's header and non-blank rows (numbered as the spreadsheet shows
        them), read once: the languages are looked for before the rows are read."""
        if id(sheet) in self.read_sheets:
            return self.read_sheets[id(sheet)]
        all_rows = list(self.bounded_rows(sheet))
        header = Header(all_rows[0] if all_rows else ())
        body = [  # a cell under no header is read by nobody: such a row is blank
            (number, row)
            for number, row in enumerate(all_rows[1:], start=2)
            if any(
                column is not None and cell_text(cell) is not None
                for column, cell in zip(header.columns, row, strict=False)
            )
        ]
        for raw in header.ignored:
            self.note(sheet.title, 1, raw, N_("ignored (a display hint for ODK Collect)"))
        self.read_sheets[id(sheet)] = header, body
        return header, body

    def bounded_rows(self, sheet):
        """The sheet's rows (xlsform_book.py), stopped by MAX_ROWS, MAX_CELLS and
        MAX_SECONDS."""
        for count, row in enumerate(sheet.rows(), start=1):
            self.cell_count += len(row)
            if count > MAX_ROWS:
                raise XLSFormInvalid(
                    [
                        Problem.of(
                            where(sheet.title),
                            N_(
                                "more than %(limit)s rows (blank rows included); at most that "
                                "many are read"
                            ),
                            {"limit": Count(MAX_ROWS)},
                        )
                    ]
                )
            if self.cell_count > MAX_CELLS:
                raise XLSFormInvalid(
                    [
                        Problem.of(
                            where(sheet.title, count),
                            N_(
                                "the workbook has more than %(limit)s cells (blank cells "
                                "included); at most that many are read"
                            ),
                            {"limit": Count(MAX_CELLS)},
                        )
                    ]
                )
            if time.monotonic() > self.deadline:
                raise XLSFormInvalid(
                    [
                        Problem.of(
                            where(sheet.title, count),
                            N_(
                                "reading took more than %(limit)s seconds; the workbook is "
                                "too large"
                            ),
                            {"limit": f"{MAX_SECONDS:.0f}"},
                        )
                    ]
                )
            yield row

    def read(self) -> dict:
        with Book(self.path) as book:
            try:
                definition, lists, pages = self.sheets(book)
            except XLSFormInvalid:
                raise
            except Exception as error:  # a sheet's XML openpyxl cannot read (ParseError, ...)
                raise XLSFormInvalid(
                    [problem(N_("the workbook cannot be read: %(error)s"), error=str(error))]
                ) from None
        definition["pages"] = pages
        if self.renamed:
            self.rename_in_expressions(pages)
        self.check_filters(pages, lists)
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
        for found in validate_definition(definition):
            self.add_problem(self.explain_metadata(self.locate(found)))
        if self.found.total:
            raise self.invalid()
        return definition

    def sheets(self, book: Book) -> tuple[dict, dict, list]:
        """The settings, choice lists and pages of the workbook's sheets."""
        sheets = {ws.title.strip().lower(): ws for ws in book.sheets}
        for name, sheet in sheets.items():
            if name not in ("survey", "choices", "settings", "quotas") and self.rows(sheet)[1]:
                self.problem(sheet.title, None, None, N_("this sheet is not supported"))
        definition = self.settings(sheets.get("settings"))
        if "default_language" not in definition:
            self.choose_language(definition, [sheets.get("survey"), sheets.get("choices")])
        if "quotas" in sheets:
            quotas, self.quota_rows = read_quotas(self, *self.rows(sheets["quotas"]))
            if quotas:
                definition.setdefault("settings", {})["quotas"] = quotas
        lists = self.choices(sheets.get("choices"))
        if "survey" not in sheets:
            self.problem("survey", None, None, N_("the workbook has no survey sheet"))
            pages: list = []
        else:
            pages = self.survey(sheets["survey"])
        return definition, lists, pages

    def choose_language(self, definition: dict, sheets: list) -> None:
        """With no default_language setting, the form's first language: Vietnamese if
        any column is in it (the product's own default), else the first language of
        the survey sheet's columns (then the choices'), as ODK Collect opens such a
        form in its first language. A form with texts in no language is left as is."""
        found: list[str] = []
        for sheet in sheets:
            if sheet is None:
                continue
            for column in self.rows(sheet)[0].columns:
                if column is not None and column[0] in TEXT_COLUMNS and column[1]:
                    code = language_code(column[1])
                    if code is not None and code not in found:
                        found.append(code)
        if not found or "vi" in found:
            return
        definition["default_language"] = self.default_language = found[0]
        if len(found) > 1:
            self.note(
                "settings",
                None,
                "default_language",
                N_(
                    "none given: %(language)s is used, the first language of the form "
                    "(found: %(found)s); texts without a language are taken as it"
                ),
                language=repr(found[0]),
                found=", ".join(found),
            )

    def rename_in_expressions(self, pages: list) -> None:
        """Expressions and defaults naming a choice by its old name name the new one."""
        for page in pages:
            if page.get("relevant"):
                page["relevant"] = rename_literals(page["relevant"], self.renamed)
            for _, question in _each_question([page]):
                if isinstance(question.get("count"), str):
                    question["count"] = rename_literals(question["count"], self.renamed)
                for key in EXPRESSION_COLUMNS:
                    if isinstance(question.get(key), str):
                        question[key] = rename_literals(question[key], self.renamed)
                if question.get("choices") and isinstance(question.get("attention"), str):
                    question["attention"] = self.renamed.get(
                        question["attention"], question["attention"]
                    )
                default = question.get("default")
                if question.get("choices") and isinstance(default, str):
                    question["default"] = self.renamed.get(default, default)
                elif question.get("choices") and isinstance(default, list):
                    question["default"] = [self.renamed.get(d, d) for d in default]

    def check_filters(self, pages: list, lists: dict) -> None:
        """A choice_filter naming a property (a choices sheet column) that no choice of
        its list has would filter every choice away: a problem at its row."""
        for at, question in _each_question(pages):
            text, listed = question.get("choice_filter"), lists.get(question.get("choices"))
            if not isinstance(text, str) or listed is None:
                continue
            try:
                parser = Parser(text)
                parser.parse()
            except ExpressionError:
                continue  # the validator names the syntax error
            have = {key for choice in listed for key in choice}
            for name in sorted({name for name, _ in parser.props} - have):
                self.problem(
                    "survey",
                    self.question_rows.get(at),
                    "choice_filter",
                    N_(
                        "%(name)s is no column of the choices sheet for list %(list)s "
                        "(its choices have: %(columns)s); a text is written in quotes: "
                        "'%(quoted)s'"
                    ),
                    name=repr(name),
                    list=repr(question["choices"]),
                    columns=", ".join(sorted(have)),
                    quoted=name,
                )

    def matrix_rows(self, pages: list, lists: dict) -> list[dict]:
        found = []
        for page in pages:
            for question in page["questions"]:
                if question.get("type") == "matrix" and "rows" in question:
                    question["_rows_list"] = question["rows"]
                    found.append(question)
        return found

    def explain_metadata(self, found: str) -> str:
        """An unknown ${name} that is a metadata row's name: say that it keeps no
        answer, and what survey-engine keeps instead (today() for today)."""
        match = UNKNOWN_REF_RE.search(found)
        if match is None or match[1] not in self.metadata_rows:
            return found
        kind, row = self.metadata_rows[match[1]]
        instead = (
            problem(N_("write today()"))
            if kind == "today"
            else problem(
                N_("survey-engine keeps %(kept)s instead"), kept=problem(METADATA_TYPES[kind])
            )
        )
        return problem(
            N_(
                "%(problem)s; it names the %(kind)s metadata row (%(where)s), "
                "which is no question and has no answer here: %(instead)s"
            ),
            problem=found,
            kind=repr(kind),
            where=where("survey", row),
            instead=instead,
        )

    def locate(self, found: str) -> str:
        """Adds the sheet and row to a path-style problem of validate_definition."""
        row = self.row_of(found)
        if row is None:
            return found
        return problem(N_("%(problem)s (%(where)s)"), problem=found, where=where(*row))

    def row_of(self, found: str) -> tuple[str, int] | None:
        """The sheet and row a path-style problem of validate_definition comes from."""
        match = QUESTION_PATH_RE.match(found)
        if match:
            at = tuple(int(index) for index in match.groups() if index is not None)
            if at in self.question_rows:
                return "survey", self.question_rows[at]
        match = PAGE_PATH_RE.match(found)
        if match and int(match[1]) in self.page_rows:
            return "survey", self.page_rows[int(match[1])]
        match = QUOTA_PATH_RE.match(found)
        if match and int(match[1]) in self.quota_rows:
            return "quotas", self.quota_rows[int(match[1])]
        match = CHOICE_PATH_RE.match(found)
        if match and (match[1], int(match[2])) in self.choice_rows:
            return "choices", self.choice_rows[match[1], int(match[2])]
        return None

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
                self.problem("settings", number, None, N_("only one row of settings is read"))
        language = cell_text(plain.get("default_language"))
        if language is not None:
            code = language_code(language)
            if code is None:
                self.problem(
                    "settings",
                    2,
                    "default_language",
                    N_("%(language)s is not a language code such as 'vi' or 'English (en)'"),
                    language=repr(language),
                )
            else:
                definition["default_language"] = self.default_language = code
        for key, why in IGNORED_SETTINGS.items():
            if cell_text(plain.get(key)) is not None:
                self.note("settings", 2, key, N_("ignored: %(why)s"), why=problem(why))
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
        raw_lists: dict[str, tuple[str, int]] = {}  # made-plain name -> (as written, row)
        for number, row in body:
            texts, plain, extras = self.cells(
                "choices", header, number, row, ("label",), ("list_name", "name"), extra_ok=True
            )
            list_name, name = cell_text(plain.get("list_name")), cell_text(plain.get("name"))
            if list_name is None or name is None:
                self.problem(
                    "choices", number, "list_name" if list_name is None else "name", N_("is empty")
                )
                continue
            list_name = self.list_name(number, list_name, raw_lists)
            if choice_name_of(name) != name:
                self.note(
                    "choices",
                    number,
                    "name",
                    N_("%(name)s is kept as %(kept)s"),
                    name=repr(name),
                    kept=repr(choice_name_of(name)),
                )
                self.renamed[name] = choice_name_of(name)
                name = choice_name_of(name)
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

    def list_name(self, number: int, raw: str, seen: dict[str, tuple[str, int]]) -> str:
        """The list's plain name (xlsform_names.py); two lists written differently
        that become one name are a problem."""
        name = list_name_of(raw)
        first = seen.setdefault(name, (raw, number))
        if first[0] != raw:
            self.problem(
                "choices",
                number,
                "list_name",
                N_("%(name)s and %(other)s (row %(row)s) both become the list name %(list)s"),
                name=repr(raw),
                other=repr(first[0]),
                row=first[1],
                list=repr(name),
            )
        elif name != raw and first[1] == number:
            self.note(
                "choices",
                number,
                "list_name",
                N_("%(name)s is kept as %(kept)s"),
                name=repr(raw),
                kept=repr(name),
            )
        return name


def _each_question(pages: list) -> list[tuple[tuple[int, ...], dict]]:
    """Every question with its place, (page, question) or a roster's row question's
    (page, question, row question): the keys of question_rows."""
    found: list[tuple[tuple[int, ...], dict]] = []
    for p, page in enumerate(pages):
        for q, question in enumerate(page["questions"]):
            found.append(((p, q), question))
            if question.get("type") == "repeat":
                found += [((p, q, r), row_q) for r, row_q in enumerate(question["questions"])]
    return found


def read_xlsform(path: str | Path, notes: list[str] | None = None) -> dict:
    """The survey-engine/1 definition of an XLSForm workbook; raises XLSFormInvalid.
    What was read but ignored or adjusted (metadata types, body:: columns, renamed
    choices, ...) is added to `notes` when given, each naming its sheet, row, column."""
    reader = _Reader(Path(path))
    definition = reader.read()
    if notes is not None:
        notes.extend(reader.notes)
    return definition
