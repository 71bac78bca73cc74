"""A survey's published versions read as one: the one merge the dashboard, the results
API and the files all use, so they agree on the questions and their choices.

Questions are merged by name, newest version first: the newest version's order and
choices win, choices only older versions had are appended, and a question dropped
since keeps its place (its answers are still stored).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from survey_engine.definition.families import SELECT, TEXT
from survey_engine.definition.model import OTHER, Definition, Question
from survey_engine.i18n import message


def merged_questions(definitions: list[Definition]) -> list[Question]:
    """Questions of all versions, by name; the newest version's order and choices win."""
    seen: dict[str, Question] = {}
    for definition in definitions:  # newest first
        for question in definition.questions:
            if question.name not in seen:
                seen[question.name] = question
            elif question.is_select:
                newest = seen[question.name]
                extra = tuple(c for c in question.choices if c["name"] not in newest.choice_names())
                if extra:
                    seen[question.name] = _with_choices(newest, newest.choices + extra)
    return [q for q in seen.values() if q.takes_answer]


def _with_choices(question: Question, choices: tuple[dict, ...]) -> Question:
    # replace(), not the instance's __dict__: that also holds what the question has
    # remembered about its own choices (Question._choices_by_name).
    return dataclasses.replace(question, choices=choices)


class MergedSurvey:
    """Published versions of one survey read as one: responses to old versions count
    under the same question names. Quacks like a Definition for Filters.from_args."""

    def __init__(self, definitions: Mapping[int, Definition]) -> None:
        # {version id: definition}, newest version first
        self.definitions = dict(definitions)
        self.newest = next(iter(self.definitions.values()))
        self.default_language = self.newest.default_language
        self.questions = merged_questions(list(self.definitions.values()))
        self.by_name: dict[str, Question] = {q.name: q for q in self.questions}
        self.pages = self._merged_pages()
        self.other_fields: dict[str, Question] = {
            q.other_field: q for q in self.questions if q.is_select and q.other
        }

    def _merged_pages(self) -> list[dict]:
        seen: dict[str, dict] = {}
        for definition in self.definitions.values():
            for page in definition.pages:
                seen.setdefault(page["name"], page)
        return list(seen.values())

    @property
    def version_ids(self) -> tuple[int, ...]:
        return tuple(self.definitions)

    def text(self, value: Any, lang: str) -> str:
        return self.newest.text(value, lang)

    def label(self, question: Question, lang: str) -> str:
        return self.text(question.label, lang) or question.name

    def choice_label(self, choice: dict, lang: str) -> str:
        if choice["name"] == OTHER and choice.get("label") is None:
            return message("other", lang)
        return self.text(choice.get("label"), lang) or choice["name"]

    def choice_labels(
        self, question: Question, lang: str, extra: Iterable[str] = ()
    ) -> dict[str, str]:
        """{choice: label} in the list's order, then `extra` names (answers no version
        lists any more). Labels two choices share (Phường 1 of Đà Lạt and of Bảo Lộc)
        get the choice's name after them, so a chart never shows the same bar twice."""
        names = question.choice_names() + [n for n in extra if question.choice(n) is None]
        labels = {
            name: self.choice_label(question.choice(name) or {"name": name}, lang) for name in names
        }
        seen = Counter(labels.values())
        return {
            name: f"{label} ({name})" if seen[label] > 1 else label
            for name, label in labels.items()
        }

    def select_questions(self) -> list[Question]:
        """What filters and cross-tabs take: select_one and select_multiple questions."""
        return [q for q in self.questions if q.type in SELECT]

    def text_fields(self) -> dict[str, Question]:
        """Free-text answers a list can show: text questions and 'other' texts."""
        fields = {q.name: q for q in self.questions if q.type in TEXT}
        fields.update(self.other_fields)
        return fields

    def definition_for(self, version_id: int) -> Definition:
        return self.definitions.get(version_id, self.newest)
