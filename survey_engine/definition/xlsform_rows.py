"""An XLSForm row's cells, read as texts by language and plain values, and turned into
a page (a group row) or a question (xlsform.py reads the sheets row by row).

`RowReader` keeps the problems found and the languages met on the way; every problem is
named by its sheet, row and column.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from survey_engine.definition.problems import ProblemList
from survey_engine.definition.schema_common import NOT_YET_SUPPORTED
from survey_engine.definition.xlsform_names import list_name_of
from survey_engine.definition.xlsform_package import XLSFormInvalid
from survey_engine.definition.xlsform_sheets import (
    EXPRESSION_COLUMNS,
    FALSE_WORDS,
    MEDIA_COLUMNS,
    METADATA_ALIASES,
    METADATA_TYPES,
    REFUSED_TYPES,
    SELECT_ALIASES,
    SELECT_RE,
    SIMPLE_TYPES,
    TRUE_WORDS,
    TYPE_ALIASES,
    Header,
    cell_text,
    expression_text,
    language_code,
)

# pyxform's range defaults: start=1 end=10 step=1.
RANGE_DEFAULTS = {"start": 1, "end": 10, "step": 1}


class RowReader:
    """Cells to texts, values, pages and questions; the problems and languages found."""

    def __init__(self) -> None:
        self.found = ProblemList()
        # What was read but changes nothing or was adjusted: told, not refused.
        self.notes: list[str] = []
        # Metadata rows (no question): name -> (type, row), to explain ${name}.
        self.metadata_rows: dict[str, tuple[str, int]] = {}
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

    def note(self, sheet: str, row: int | None, column: str | None, text: str) -> None:
        where = f"{sheet} sheet" + (f", row {row}" if row is not None else "")
        self.notes.append(f"{where}{f', column {column}' if column else ''}: {text}")

    def add_problem(self, text: str) -> None:
        self.found.add(text)

    def invalid(self) -> XLSFormInvalid:
        return XLSFormInvalid(self.found.listed, self.found.total)

    # -- cells -----------------------------------------------------------------------------

    def cells(
        self,
        sheet_name: str,
        header: Header,
        number: int,
        row: tuple,
        allowed_texts: tuple[str, ...],
        allowed_plain: tuple[str, ...],
        extra_ok: bool = False,
    ) -> tuple[dict, dict, dict]:
        """(texts {base: {lang|None: text}}, plain {base: value}, extras {base: value})."""
        texts: dict[str, dict[str | None, str]] = {}
        plain: dict[str, Any] = {}
        extras: dict[str, Any] = {}
        for column, value in zip(header.columns, row, strict=False):
            if column is None:
                continue
            text = cell_text(value)
            if text is None:
                continue
            base, lang, raw = column
            if base in allowed_texts:
                code = None
                if lang is not None:
                    code = language_code(lang)
                    if code is None:
                        if raw not in self.bad_languages:
                            self.bad_languages.add(raw)
                            self.problem(
                                sheet_name,
                                1,
                                raw,
                                f"unknown language {lang!r}: write its code, "
                                f"e.g. '{base}::English (en)'",
                            )
                        continue
                    if code not in self.languages:
                        self.languages.append(code)
                texts.setdefault(base, {})[code] = text
            elif lang is None and base in allowed_plain:
                plain[base] = value
            elif base in NOT_YET_SUPPORTED:
                self.problem(
                    sheet_name, number, raw, f"{base!r} is not supported yet by survey-engine"
                )
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

    # -- rows to pages and questions ----------------------------------------------------

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
            self.note("survey", number, key, f"ignored: a group (page) shows no {key}")
        for key, value in plain.items():
            if key in ("type", "name"):
                continue
            if key == "relevant":
                page["relevant"] = expression_text(value)
            elif key == "appearance" and str(cell_text(value)).lower() == "field-list":
                pass  # a page already shows its questions together
            elif key == "required":
                self.note("survey", number, key, "ignored: a group (page) is never required")
            else:
                self.problem(
                    "survey",
                    number,
                    key,
                    f"{cell_text(value)!r} is not supported on a group (page)",
                )
        return page

    def question(
        self, number: int, kind: str, raw_type: str, name: str | None, texts: dict, plain: dict
    ) -> dict | None:
        question: dict[str, Any] = {"name": name}
        spaced = re.sub(r"\s+", " ", raw_type.strip())
        kind = spaced.lower()
        match = SELECT_RE.match(spaced)
        metadata = METADATA_ALIASES.get(kind, kind)
        if metadata in METADATA_TYPES:
            if name is not None:
                self.metadata_rows[name] = (metadata, number)
            self.note(
                "survey",
                number,
                "type",
                f"{raw_type!r} is no question: survey-engine keeps "
                f"{METADATA_TYPES[metadata]} for every response",
            )
            return None
        if match:
            qtype = SELECT_ALIASES[match[1].lower()]
            question.update(type=qtype, choices=list_name_of(match[2]))
            if match[3]:
                if qtype not in ("select_one", "select_multiple"):
                    self.problem("survey", number, "type", f"or_other is not possible on {qtype}")
                question["other"] = True
        elif kind in SIMPLE_TYPES or kind in TYPE_ALIASES:
            qtype = question["type"] = TYPE_ALIASES.get(kind, kind)
        elif kind == "range":
            qtype = question["type"] = "integer"
        else:
            why = REFUSED_TYPES.get(kind, f"{raw_type!r} is not supported")
            self.problem("survey", number, "type", why)
            return None
        for key, values in texts.items():
            question[key] = self.text(values)
        for key, value in plain.items():
            if key in ("type", "name"):
                continue
            if key == "required":
                self.required(number, question, value)
            elif key == "default":
                question["default"] = self.default(qtype, value)
            elif key in ("min", "max", "scale", "min_choices", "max_choices"):
                question[key] = self.number(value, qtype if key in ("min", "max") else "integer")
            elif key == "matrix_rows":
                question["rows"] = list_name_of(str(cell_text(value)))
            elif key == "attention":
                question["attention"] = self.attention(qtype, value)
            elif key == "parameters":
                if kind != "range":
                    self.problem(
                        "survey", number, key, "'parameters' is not supported yet by survey-engine"
                    )
            elif key in EXPRESSION_COLUMNS:
                question[key] = expression_text(value)
            else:
                question[key] = cell_text(value)
        if kind == "range":
            self.range(number, question, plain.get("parameters"))
        return question

    def required(self, number: int, question: dict, value: Any) -> None:
        """The required column: yes/no, true()/false() and the like."""
        word = (
            str(value).strip().lstrip("=").lower()
            if not isinstance(value, bool)
            else str(value).lower()
        )
        if word in TRUE_WORDS:
            question["required"] = True
        elif word in FALSE_WORDS:
            question["required"] = False
        else:
            self.problem(
                "survey",
                number,
                "required",
                f"{value!r}: only yes/no (true()/false()) is supported",
            )

    def range(self, number: int, question: dict, parameters: Any) -> None:
        """XLSForm's range (a slider) as a number question: start and end become min
        and max (either way round), a step other than 1 a constraint; decimal when
        any of them is not whole."""
        values: dict[str, float] = dict(RANGE_DEFAULTS)
        for part in str(cell_text(parameters) or "").replace(";", " ").replace(",", " ").split():
            key, _, text = part.partition("=")
            try:
                if key.strip().lower() not in RANGE_DEFAULTS:
                    raise ValueError
                values[key.strip().lower()] = float(text)
            except ValueError:
                self.problem(
                    "survey",
                    number,
                    "parameters",
                    f"{part!r}: a range takes start=, end= and step= numbers",
                )
                return
        start, end, step = values["start"], values["end"], values["step"]
        whole = all(float(v).is_integer() for v in values.values())
        question["type"] = "integer" if whole else "decimal"
        low, high = sorted((start, end))
        question["min"], question["max"] = (int(low), int(high)) if whole else (low, high)
        if step == 0:
            self.problem("survey", number, "parameters", "a range's step must not be 0")
        elif whole and abs(step) != 1:
            rule = f"(. - {int(start)}) mod {int(abs(step))} = 0"
            old = question.get("constraint")
            question["constraint"] = f"({old}) and {rule}" if old else rule

    def attention(self, qtype: str, value: Any) -> Any:
        """The expected answer: a matrix's "row=choice row=choice" as {row: choice}, a
        number question's as a number, else the cell's text (the schema checks it)."""
        if qtype == "matrix":
            pairs = [part.partition("=") for part in str(cell_text(value)).split()]
            return {row: choice for row, _, choice in pairs}
        if qtype in ("integer", "rating", "nps"):
            return self.number(value, "integer")
        return cell_text(value)

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
            return str(cell_text(value)).split()
        if qtype in ("integer", "decimal") or isinstance(value, bool):
            return value
        if isinstance(value, int | float) and qtype not in ("text", "hidden", "select_one"):
            return value
        return cell_text(value)
