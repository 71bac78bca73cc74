"""What an export's columns are, and turning one stored response into a row of them.

Responses of several versions export together: the questions come merged by name
(survey_engine/definition/merged.py), so a question dropped in version 2 keeps its
column.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from survey_engine.definition import Definition, Question
from survey_engine.definition.answers import asked_in_row, asked_questions
from survey_engine.definition.families import FILE, GEO_PARTS
from survey_engine.definition.model import OTHER
from survey_engine.i18n import message
from survey_engine.localtime import to_local

META_COLUMNS = ("response_id", "submission_id", "submitted_at", "version", "source")
# After the answers: the review (status, its flags, the access code's unit) and the
# paradata (models.PARADATA_COLUMNS, empty once erased or for an anonymous survey),
# each the stored column of that name (docs/privacy.md).
TRAIL_COLUMNS = (
    "status",
    "flags",
    "unit",
    "started_at",
    "duration_seconds",
    "pages_visited",
    "device_class",
    "browser",
    "network_key",
    "device_hash",
)
# Last, when the survey is weighted: the response's raking weight (mean 1).
WEIGHT_COLUMN = "weight"
# A roster's sheet or file: one line per row, keyed by the response and the row's
# number (from 1), then its row questions' columns.
ROSTER_KEYS = ("response_id", "row")


def rows_header(roster: Question) -> str:
    """The responses sheet's column of a roster: how many rows the response has."""
    return f"{roster.name} (rows)"


@dataclass(frozen=True)
class Column:
    header: str
    question: Question | None = None
    choice: str | None = None  # the choice of a 0/1 column, or the row of a matrix column
    # answer | choice_flag | matrix_row | other_text | geo_part (choice: lat/lon/acc) |
    # row_count (a roster's rows) | meta
    kind: str = "answer"

    @property
    def question_type(self) -> str:
        """The question's type; '' for a meta column, which has no question."""
        return self.question.type if self.question is not None else ""


def columns_for(questions: list[Question]) -> list[Column]:
    columns = [Column(name, kind="meta") for name in META_COLUMNS]
    columns += _question_columns(questions)
    return columns + [Column(name, kind="meta") for name in TRAIL_COLUMNS]


def _question_columns(questions: list[Question]) -> list[Column]:
    columns = []
    for q in questions:
        if q.is_repeat:  # its rows go to a sheet of their own (RosterRows)
            columns.append(Column(rows_header(q), q, kind="row_count"))
            continue
        if q.type == "matrix":  # one column per row: measures/masks
            columns += [
                Column(f"{q.name}/{row['name']}", q, row["name"], "matrix_row") for row in q.rows
            ]
            continue
        if q.type == "geopoint":  # one number column per part: name/latitude ...
            columns += [Column(f"{q.name}/{word}", q, part, "geo_part") for part, word in GEO_PARTS]
            continue
        columns.append(Column(q.name, q))
        if q.type == "select_multiple":
            columns += [
                Column(f"{q.name}/{c['name']}", q, c["name"], "choice_flag") for c in q.choices
            ]
        if q.other:
            columns.append(Column(q.other_field, q, kind="other_text"))
    return columns


class RowMaker:
    """Turns stored responses into lists of cell values in column order.

    Choices are shown by label in `lang`, or with `codes` by name (a name of digits
    alone, such as XLSForm's "1", as the number it is, so analysts can compute).
    Each column's getter is made once; row() is the export's hot loop.
    """

    def __init__(
        self,
        definition: Definition,
        questions: list[Question],
        lang: str,
        codes: bool = False,
        version_numbers: dict[int, int] | None = None,
        weight_of: Callable[[Any], float | None] | None = None,
        upload_link: str = "{token}",
    ) -> None:
        """`upload_link`: a file question's cell, its upload's token put in (a staff-only
        URL, survey_engine/exporting/survey_file.upload_link)."""
        self.upload_link = upload_link
        self.questions = questions
        self.columns = columns_for(questions)
        self.weight_of = weight_of
        self.definition = definition
        self.lang = lang
        self.codes = codes
        self.version_numbers: dict[int, int] = dict(version_numbers or {})
        self._shown = {
            q.name: {c["name"]: self.shown_choice(c) for c in q.choices} for q in questions
        }
        self._texts = {
            name: {code: str(value) for code, value in shown.items()}
            for name, shown in self._shown.items()
        }
        self._getters = [
            self._getter(c) for c in self.columns[len(META_COLUMNS) : -len(TRAIL_COLUMNS)]
        ]
        if weight_of is not None:
            self.columns.append(Column(WEIGHT_COLUMN, kind="meta"))

    def choice_label(self, choice: dict) -> str:
        if choice["name"] == OTHER and choice.get("label") is None:
            return message("other", self.lang)
        return self.definition.text(choice.get("label"), self.lang)

    def shown_choice(self, choice: dict) -> str | int:
        """What a cell shows for a choice: its label, or with codes its name."""
        if not self.codes:
            return self.choice_label(choice)
        name = choice["name"]
        return int(name) if name.isascii() and name.isdigit() and str(int(name)) == name else name

    def row(self, response: Any) -> list[Any]:
        answers = response.answers or {}
        cells: list[Any] = [
            response.id,
            str(response.submission_id),
            _local_time(response.submitted_at),
            self.version_numbers.get(response.version_id, response.version_id),
            response.source,
        ]
        cells += [get(answers) for get in self._getters]
        cells += trail_cells(response)
        if self.weight_of is not None:
            cells.append(self.weight_of(response))
        return cells

    def asked(self, definition: Definition, response: Any) -> set[str] | None:
        """The questions `response` was asked (None: all of them), for the data files'
        "not asked"."""
        return asked_questions(definition, response.answers or {})

    def questions_of(self, definition: Definition) -> set[str]:
        """The names of the questions a version has, of those this maker's columns show."""
        return {q.name for q in definition.questions}

    def _getter(self, column: Column) -> Callable[[dict], Any]:
        q = column.question
        if q is None:
            raise ValueError(f"column {column.header!r} names no question")
        name, choice = q.name, column.choice
        shown, texts = self._shown[name], self._texts[name]

        def joined(value: Any) -> str:
            if not isinstance(value, list):
                value = [value]
            return "; ".join(texts.get(v, str(v)) for v in value)

        def one(answers: dict) -> Any:
            value = answers.get(name)
            if value is None:
                return None
            try:
                return shown.get(value, value)
            except TypeError:  # a list: an older version had several choices here
                return joined(value)

        def many(answers: dict) -> Any:
            value = answers.get(name)
            return None if value is None else joined(value)

        def flag(answers: dict) -> int | None:
            value = answers.get(name)
            if value is None:
                return None
            return int(choice in value) if isinstance(value, list) else int(value == choice)

        def matrix_row(answers: dict) -> Any:
            value = answers.get(name)
            picked = value.get(choice) if isinstance(value, dict) else None
            return None if picked is None else shown.get(picked, picked)

        def geo_part(answers: dict) -> Any:
            value = answers.get(name)
            part = value.get(choice) if isinstance(value, dict) else None
            return part if isinstance(part, int | float) and not isinstance(part, bool) else None

        def other_text(answers: dict) -> Any:
            return answers.get(q.other_field)

        def plain(answers: dict) -> Any:
            return answers.get(name)

        def row_count(answers: dict) -> int | None:
            value = answers.get(name)
            return len(value) if isinstance(value, list) else None

        link = self.upload_link

        def upload(answers: dict) -> Any:
            token = answers.get(name)
            return link.format(token=token) if isinstance(token, str) else token

        if column.kind == "choice_flag":
            return flag
        if column.kind == "matrix_row":
            return matrix_row
        if column.kind == "other_text":
            return other_text
        if column.kind == "geo_part":
            return geo_part
        if column.kind == "row_count":
            return row_count
        if q.type == "select_one":
            return one
        if q.type in ("select_multiple", "rank"):
            return many
        if q.type in FILE:
            return upload
        return plain


@dataclass(frozen=True)
class RosterLine:
    """One row of a roster in a stored response: a line of the roster's sheet."""

    response: Any
    number: int  # from 1
    answers: dict

    @property
    def id(self) -> int:
        return self.response.id

    @property
    def version_id(self) -> int:
        return self.response.version_id


class RosterRows(RowMaker):
    """A roster's sheet and files: a line per row, keyed by the response's id (the
    responses sheet's) and the row's number, then a column per row question, each
    made as the responses sheet makes a question's (0/1 columns of a select_multiple
    too); the response's weight last, when weighted (it applies to each of its rows)."""

    def __init__(self, roster: Question, main: RowMaker) -> None:
        super().__init__(
            main.definition,
            list(roster.questions),
            main.lang,
            codes=main.codes,
            weight_of=main.weight_of,
            upload_link=main.upload_link,
        )
        self.roster = roster
        inner = self.columns[len(META_COLUMNS) : len(self.columns) - len(TRAIL_COLUMNS)]
        if main.weight_of is not None:
            inner = inner[:-1]
        self.columns = [Column(name, kind="meta") for name in ROSTER_KEYS] + inner
        if main.weight_of is not None:
            self.columns.append(Column(WEIGHT_COLUMN, kind="meta"))

    def lines(self, chunk: Iterable[Any]) -> list[RosterLine]:
        """The roster's rows of a chunk of stored responses, in order."""
        name = self.roster.name
        return [
            RosterLine(response, number, row)
            for response in chunk
            if isinstance(rows := (response.answers or {}).get(name), list)
            for number, row in enumerate(rows, start=1)
            if isinstance(row, dict)
        ]

    def row(self, response: Any) -> list[Any]:
        line = response
        cells: list[Any] = [line.id, line.number]
        cells += [get(line.answers) for get in self._getters]
        if self.weight_of is not None:
            cells.append(self.weight_of(line.response))
        return cells

    def asked(self, definition: Definition, response: Any) -> set[str] | None:
        line = response
        return asked_in_row(definition, self.roster.name, line.response.answers or {}, line.answers)

    def questions_of(self, definition: Definition) -> set[str]:
        roster = definition.by_name.get(self.roster.name)
        return {q.name for q in roster.questions} if roster is not None else set()


def roster_rows(main: RowMaker) -> list[RosterRows]:
    """A RosterRows for each roster among `main`'s questions."""
    return [RosterRows(q, main) for q in main.questions if q.is_repeat]


def trail_cells(response: Any) -> list[Any]:
    """The review and paradata cells of a stored response (None where it has none)."""
    started = getattr(response, "started_at", None)
    return [
        getattr(response, "status", None),
        flags_text(getattr(response, "flags", None)),
        getattr(response, "unit", None),
        None if started is None else _local_time(started),
        getattr(response, "duration_seconds", None),
        getattr(response, "pages_visited", None),
        getattr(response, "device_class", None),
        getattr(response, "browser", None),
        getattr(response, "network_key", None),
        getattr(response, "device_hash", None),
    ]


def flags_text(flags: Any) -> str | None:
    """[{"flag": "speeder", "reason": "…"}, …] as "speeder: …; burst: …"; None for none."""
    if not isinstance(flags, list) or not flags:
        return None
    parts = []
    for item in flags:
        if isinstance(item, dict):
            name, reason = item.get("flag"), item.get("reason")
            parts.append(f"{name}: {reason}" if reason else str(name))
        else:
            parts.append(str(item))
    return "; ".join(parts)


def _local_time(moment: datetime) -> datetime:
    """Excel has no time zones: write the province's wall-clock time, without tzinfo."""
    return to_local(moment).replace(tzinfo=None)
