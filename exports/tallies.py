"""Counting answers per choice with pandas, one chunk of responses at a time."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import pandas as pd

from survey_engine.definition import Question


class Tally:
    """Running counts for every select question; add() chunks, read the totals."""

    def __init__(self, questions: Iterable[Question]) -> None:
        self.questions = [q for q in questions if q.is_select]
        self.responses = 0
        self.answered: Counter[str] = Counter()
        self.counts: dict[str, Counter[str]] = {q.name: Counter() for q in self.questions}

    def add(self, answers: list[dict]) -> None:
        if not answers:
            return
        self.responses += len(answers)
        frame = pd.DataFrame.from_records(answers)
        for q in self.questions:
            if q.name not in frame:
                continue
            column = frame[q.name].dropna()
            if q.type == "select_multiple":
                column = column[column.map(len) > 0]
                self.answered[q.name] += len(column)
                column = column.explode()
            else:
                self.answered[q.name] += len(column)
            self.counts[q.name].update(column.value_counts().to_dict())
