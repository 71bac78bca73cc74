"""survey-engine/1 definitions to XLSForm (.xlsx): reading the file back
(xlsform.read_xlsform) gives the same definition; survey-engine-only properties use
extra columns (docs/survey-format.md, "XLSForm").
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from exports.safe_cells import looks_like_formula
from survey_engine.definition.schema import validate_definition
from survey_engine.definition.schema_common import LANG_RE
from survey_engine.definition.xlsform_quotas import quota_rows
from survey_engine.definition.xlsform_sheets import LANGUAGE_NAMES, PLAIN_COLUMNS, TEXT_COLUMNS
from survey_engine.untrusted import safe_text

__all__ = ["write_xlsform"]


def write_xlsform(definition: dict, path: str | Path) -> None:
    """Writes a stored definition as an XLSForm workbook (raises ValueError if its
    structure is invalid).

    A version stored before today's checks may hold text UTF-8 cannot encode (written
    as U+FFFD) or an expression now refused, such as regex(., ${q1}) (written as it
    is: importing the file again then names it), or a schedule now out of range;
    none of it stops the download."""
    definition = _readable(definition)
    problems = [
        problem
        for problem in validate_definition(definition)
        if not _NEWER_RULE_PROBLEM.match(problem)
    ]
    if problems:
        raise ValueError("not a valid definition: " + "; ".join(problems))
    order = _languages(definition)
    lists, matrix_lists = _lists_with_matrix_rows(definition)
    book = openpyxl.Workbook()
    book.remove(book.active)
    _sheet(book, "survey", _survey_rows(definition, order, matrix_lists))
    _sheet(book, "choices", _choice_rows(lists, order))
    _sheet(book, "settings", _settings_rows(definition, order))
    if (quotas := quota_rows(definition)) is not None:
        _sheet(book, "quotas", quotas)
    book.save(path)


def _lists_with_matrix_rows(definition: dict) -> tuple[dict[str, list[dict]], dict[int, str]]:
    """The choice lists, plus one list per matrix question holding its rows (XLSForm
    has no rows column); and, by id() of each matrix question, its rows' list name."""
    lists = {
        name: [dict(c) for c in choices]
        for name, choices in definition.get("choice_lists", {}).items()
    }
    matrix_lists: dict[int, str] = {}
    for question in (q for page in definition["pages"] for q in page["questions"]):
        if question["type"] == "matrix":
            list_name, index = f"{question['name']}_rows", 1
            while list_name in lists:
                index += 1
                list_name = f"{question['name']}_rows{index}"
            lists[list_name] = [dict(row) for row in question["rows"]]
            matrix_lists[id(question)] = list_name
    return lists, matrix_lists


def _survey_rows(definition: dict, order: list[str], matrix_lists: dict[int, str]) -> list[list]:
    """The survey sheet: a group per page, a row per question, only the columns used."""
    pages = definition["pages"]
    questions = [
        asked
        for page in pages
        for q in page["questions"]
        for asked in (q, *(q["questions"] if q["type"] == "repeat" else ()))
    ]
    text_columns: list[tuple[str, str, Any]] = []
    for key in TEXT_COLUMNS:
        values = [q.get(key) for q in questions if q.get(key) is not None]
        if key == "label":
            values += [p["title"] for p in pages if "title" in p]
        text_columns += [
            (key, header, code) for header, code in _language_columns(key, values, order)
        ]
    plain = [
        key
        for key in ("required",) + PLAIN_COLUMNS
        if any(key in q for q in questions)
        or (key == "relevant" and any("relevant" in p for p in pages))
        or (key == "matrix_rows" and matrix_lists)
        or (key == "repeat_count" and any("count" in q for q in questions))
    ]
    rows: list[list] = [["type", "name"] + [h for _, h, _ in text_columns] + plain]
    for page in pages:
        row = ["begin group", page["name"]]
        row += [
            _text_cell(page.get("title"), code) if key == "label" else None
            for key, _, code in text_columns
        ]
        row += [page.get("relevant") if key == "relevant" else None for key in plain]
        rows.append(row)
        for question in page["questions"]:
            rows.append(_question_row(question, text_columns, plain, matrix_lists))
            if question["type"] == "repeat":
                rows += [
                    _question_row(row_question, text_columns, plain, matrix_lists)
                    for row_question in question["questions"]
                ]
                rows.append(["end repeat"])
        rows.append(["end group"])
    return rows


def _question_row(
    question: dict,
    text_columns: list[tuple[str, str, Any]],
    plain: list[str],
    matrix_lists: dict[int, str],
) -> list:
    """One question's row of the survey sheet."""
    qtype = "begin repeat" if question["type"] == "repeat" else question["type"]
    if "choices" in question:
        qtype += " " + question["choices"] + (" or_other" if question.get("other") else "")
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
        elif key == "repeat_count":
            value = question.get("count")
        elif key == "attention" and isinstance(value, dict):
            value = " ".join(f"{r}={c}" for r, c in value.items())
        row.append(value)
    return row


def _choice_rows(lists: dict[str, list[dict]], order: list[str]) -> list[list]:
    """The choices sheet: a row per choice, a column per property any choice has."""
    all_choices = [c for choices in lists.values() for c in choices]
    label_columns = _language_columns(
        "label", [c["label"] for c in all_choices if "label" in c], order
    )
    properties: list[str] = []
    for choice in all_choices:
        properties += [k for k in choice if k not in ("name", "label") and k not in properties]
    rows: list[list] = [["list_name", "name"] + [h for h, _ in label_columns] + properties]
    for list_name, choices in lists.items():
        for choice in choices:
            rows.append(
                [list_name, choice["name"]]
                + [_text_cell(choice.get("label"), code) for _, code in label_columns]
                + [choice.get(key) for key in properties]
            )
    return rows


def _settings_rows(definition: dict, order: list[str]) -> list[list]:
    """The settings sheet: its header and its one row."""
    header: list[str] = []
    row: list[Any] = []
    for key, source in (("form_title", "title"), ("description", "description")):
        if source in definition:
            for column, code in _language_columns(key, [definition[source]], order):
                header.append(column)
                row.append(_text_cell(definition[source], code))
    header.append("form_id")
    row.append(definition["slug"])
    if "default_language" in definition:
        header.append("default_language")
        row.append(definition["default_language"])
    for key, value in (definition.get("settings") or {}).items():
        if key == "quotas":  # a sheet of their own
            continue
        header.append(key)
        row.append(("yes" if value else "no") if isinstance(value, bool) else value)
    return [header, row]


def _language_columns(base: str, texts: list[Any], order: list[str]) -> list[tuple[str, Any]]:
    """Header cells and language keys (None: a plain text) for one text property."""
    plain = any(isinstance(t, str) for t in texts)
    codes = [code for code in order if any(isinstance(t, dict) and code in t for t in texts)]
    columns: list[tuple[str, str | None]] = [(base, None)] if plain else []
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
_NEWER_RULE_PROBLEM = re.compile(
    r"^[^:]*\.(relevant|constraint|choice_filter|calculation): "
    r"at character \d+: "
    r"|^settings\.(opens_at|closes_at): a time between "
)


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
