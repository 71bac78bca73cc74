"""What an export's columns are, and turning one stored response into a row of them.

Responses of several versions export together: questions are merged by name,
newest version first, so a question dropped in version 2 keeps its column.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from survey_engine.definition import Definition, Question
from survey_engine.definition.model import OTHER
from survey_engine.i18n import message
from survey_engine.localtime import to_local

META_COLUMNS = ("response_id", "submission_id", "submitted_at", "version", "source")


@dataclass(frozen=True)
class Column:
    header: str
    question: Question | None = None
    choice: str | None = None  # the choice of a 0/1 column, or the row of a matrix column
    kind: str = "answer"  # answer | choice_flag | matrix_row | other_text | meta


def merged_questions(definitions: list[Definition]) -> list[Question]:
    """Questions of all versions, by name; the newest version's order and choices win."""
    seen: dict[str, Question] = {}
    for definition in definitions:  # newest first
        for question in definition.questions:
            if question.name not in seen:
                seen[question.name] = question
            elif question.is_select:
                newest = seen[question.name]
                extra = tuple(c for c in question.choices
                              if c["name"] not in newest.choice_names())
                if extra:
                    seen[question.name] = _with_choices(newest, newest.choices + extra)
    return [q for q in seen.values() if q.takes_answer]


def _with_choices(question: Question, choices: tuple[dict, ...]) -> Question:
    fields = {**question.__dict__, "choices": choices}
    return Question(**fields)


def columns_for(questions: list[Question]) -> list[Column]:
    columns = [Column(name, kind="meta") for name in META_COLUMNS]
    for q in questions:
        if q.type == "matrix":  # one column per row: measures/masks
            columns += [Column(f"{q.name}/{row['name']}", q, row["name"], "matrix_row")
                        for row in q.rows]
            continue
        columns.append(Column(q.name, q))
        if q.type == "select_multiple":
            columns += [Column(f"{q.name}/{c['name']}", q, c["name"], "choice_flag")
                        for c in q.choices]
        if q.other:
            columns.append(Column(q.other_field, q, kind="other_text"))
    return columns


class RowMaker:
    """Turns stored responses into lists of cell values in column order."""

    def __init__(self, definition: Definition, questions: list[Question], lang: str) -> None:
        self.columns = columns_for(questions)
        self.definition = definition
        self.lang = lang
        self.version_numbers: dict[int, int] = {}
        self._labels = {
            q.name: {c["name"]: self.choice_label(c) for c in q.choices} for q in questions
        }

    def choice_label(self, choice: dict) -> str:
        if choice["name"] == OTHER and choice.get("label") is None:
            return message("other", self.lang)
        return self.definition.text(choice.get("label"), self.lang)

    def row(self, response: Any) -> list[Any]:
        answers = response.answers or {}
        cells: list[Any] = [
            response.id,
            str(response.submission_id),
            _local_time(response.submitted_at),
            self.version_numbers.get(response.version_id, response.version_id),
            response.source,
        ]
        for column in self.columns[len(META_COLUMNS):]:
            q = column.question
            value = answers.get(q.name)
            if column.kind == "choice_flag":
                cells.append(None if value is None else int(column.choice in value))
            elif column.kind == "matrix_row":
                picked = value.get(column.choice) if isinstance(value, dict) else None
                cells.append(self._labels[q.name].get(picked, picked))
            elif column.kind == "other_text":
                cells.append(answers.get(q.other_field))
            elif value is None:
                cells.append(None)
            elif q.type == "select_one":
                cells.append(self._labels[q.name].get(value, value))
            elif q.type in ("select_multiple", "rank"):
                cells.append("; ".join(self._labels[q.name].get(v, v) for v in value))
            else:
                cells.append(value)
        return cells


def _local_time(moment: datetime) -> datetime:
    """Excel has no time zones: write the province's wall-clock time, without tzinfo."""
    return to_local(moment).replace(tzinfo=None)
