"""The quality checks' thresholds and what one response shows by itself (a straight
line in a matrix, a failed attention check, how many answer sets were possible), and
the flags a batch collects before they are written (intake/quality.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from survey_engine.definition import Definition
from survey_engine.definition.answer_types import is_empty
from survey_engine.definition.families import NOT_ASKED, TYPED_NUMBER, number_of
from survey_engine.intake.submission import Submission
from survey_engine.models import ResponseStatus

# How many answers a free answer could have been, for combinations(): texts, phone
# numbers and e-mail addresses repeat rarely, numbers and dates more often.
FREE_TEXT_OPTIONS = 1000
FREE_NUMBER_OPTIONS = 30
FRACTION_WORDS = {1 / 2: "half", 1 / 3: "a third", 1 / 4: "a quarter", 1 / 5: "a fifth"}


@dataclass(frozen=True)
class Rules:
    """The QUALITY_* settings (config.py says what each means)."""

    speeder_fraction: float
    speeder_window: int
    speeder_min_compared: int
    straight_line_rows: int
    duplicate_min_answers: int
    burst_count: int
    burst_minutes: float
    network_lookback: int

    @classmethod
    def from_config(cls, config: Any) -> Rules:
        return cls(
            speeder_fraction=float(config["QUALITY_SPEEDER_FRACTION"]),
            speeder_window=int(config["QUALITY_SPEEDER_WINDOW"]),
            speeder_min_compared=int(config["QUALITY_SPEEDER_MIN_COMPARED"]),
            straight_line_rows=int(config["QUALITY_STRAIGHT_LINE_ROWS"]),
            duplicate_min_answers=int(config["QUALITY_DUPLICATE_MIN_ANSWERS"]),
            burst_count=int(config["QUALITY_BURST_COUNT"]),
            burst_minutes=float(config["QUALITY_BURST_MINUTES"]),
            network_lookback=int(config["QUALITY_NETWORK_LOOKBACK"]),
        )

    def fraction_text(self) -> str:
        """'a third' for 1/3, else a percentage: for a reason a reviewer reads."""
        for value, words in FRACTION_WORDS.items():
            if math.isclose(self.speeder_fraction, value, rel_tol=1e-3):
                return words
        return f"{self.speeder_fraction:.0%}"


@dataclass
class Stored:
    """An earlier response a batch may flag: its row id, status and current flags."""

    id: int
    status: str
    flags: list


def flag_names(flags: list) -> set[str]:
    return {str(f.get("flag")) for f in flags if isinstance(f, dict)}


@dataclass
class Found:
    """One survey's part of a batch (by its index in the batch) and the flags found:
    for its submissions, and for earlier responses by row id. One flag of a name each."""

    batch: dict[int, Submission]
    new: dict[int, list[dict]] = field(default_factory=dict)
    earlier: dict[int, tuple[Stored, list[dict]]] = field(default_factory=dict)

    def flag_new(self, index: int, flag: str, reason: str) -> None:
        flags = self.new.get(index, [])
        if flag in flag_names(self.batch[index].flags) | flag_names(flags):
            return
        self.new[index] = [*flags, {"flag": flag, "reason": reason}]

    def flag_earlier(self, stored: Stored, flag: str, reason: str) -> None:
        """Never a response staff accepted or excluded."""
        if stored.status not in (ResponseStatus.UNREVIEWED, ResponseStatus.FLAGGED):
            return
        _, flags = self.earlier.setdefault(stored.id, (stored, []))
        if flag not in flag_names(stored.flags) | flag_names(flags):
            flags.append({"flag": flag, "reason": reason})


def stored_row(row: Any) -> Stored:
    return Stored(int(row.id), str(row.status), list(row.flags or []))


def aware(moment: datetime) -> datetime:
    """SQLite gives back naive datetimes: they are UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def straight_lines(definition: Definition, answers: dict, min_rows: int) -> list[str]:
    """A reason for each matrix of min_rows rows or more answered all in one column."""
    reasons = []
    for q in definition.matrices():
        value = answers.get(q.name)
        if len(q.rows) < min_rows or not isinstance(value, dict) or len(value) < min_rows:
            continue
        columns = {str(choice) for choice in value.values()}
        if len(columns) == 1:
            reasons.append(f"matrix {q.name!r}: all {len(value)} rows answered {columns.pop()!r}")
    return reasons


def attention_failures(definition: Definition, answers: dict) -> list[str]:
    """A reason for each attention check answered otherwise than expected."""
    reasons = []
    for q in definition.attention_checks():
        value, expected = answers.get(q.name), q.attention
        if is_empty(value):
            continue
        if q.type == "matrix":
            wrong = isinstance(value, dict) and any(
                row in value and str(value[row]) != str(choice) for row, choice in expected.items()
            )
        elif q.type == "select_one":
            wrong = str(value) != str(expected)
        else:
            wrong = number_of(value) != float(expected)
        if wrong:
            reasons.append(f"attention check {q.name!r}: answered {value!r}, expected {expected!r}")
    return reasons


def combinations(definition: Definition, answers: dict) -> tuple[int, float]:
    """(questions answered, log10 of the answer sets they allowed): how likely two
    honest respondents give the same set by chance (duplicate by network)."""
    answered, log_space = 0, 0.0
    for q in definition.questions:
        value = answers.get(q.name)
        if q.type in NOT_ASKED or is_empty(value):
            continue
        answered += 1
        log_space += math.log10(max(_options(q.type, len(q.choices), q.raw, value), 1))
    return answered, log_space


def _options(qtype: str, choices: int, raw: dict, value: Any) -> float:
    if qtype == "select_one":
        return choices
    if qtype == "select_multiple":
        return math.comb(choices, min(len(value), choices)) if isinstance(value, list) else 1
    if qtype == "rank":
        return math.factorial(choices)
    if qtype == "matrix":
        return float(choices) ** (len(value) if isinstance(value, dict) else 1)
    if qtype == "rating":
        return int(raw.get("scale") or 5)
    if qtype == "nps":
        return 11
    if qtype == "acknowledge":
        return 1
    if qtype in TYPED_NUMBER or qtype == "date":
        return FREE_NUMBER_OPTIONS
    return FREE_TEXT_OPTIONS
