"""Random valid answers for demos and benchmarks (`survey-engine fake-responses`)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from survey_engine.definition import Definition, clean_answers
from survey_engine.definition.answers import available_choices, local_today, rows_wanted
from survey_engine.definition.families import FILE, NOT_ASKED, TYPED_NUMBER
from survey_engine.definition.model import OTHER, Question

SAMPLE_TEXTS = [
    "Cần đảm bảo giãn cách trong lớp học.",
    "Nên cho học sinh tiểu học đi học lại trước.",
    "Mong nhà trường thông báo sớm lịch học.",
    "Đề nghị tiêm vắc-xin cho học sinh trước khi đi học.",
    "Học trực tuyến không hiệu quả ở vùng sâu, vùng xa.",
]
ATTEMPTS = 20


class NoFakeAnswers(ValueError):
    """No draw of answers passed the survey's own checks (e.g. a required question
    whose choice filter always leaves no choice)."""


def fake_answers(definition: Definition, rng: random.Random) -> dict:
    """A plausible, valid set of answers; optional questions are skipped now and then.

    Choices respect each choice filter given the answers so far (a question whose
    filter leaves no choice is skipped, as a respondent would have to); a set that a
    constraint refuses is drawn again.
    """
    for _ in range(ATTEMPTS):
        raw = _draw(definition.questions, rng, {})
        answers, errors = clean_answers(definition, raw, definition.default_language)
        if not errors:
            return answers
    # A survey no answers can satisfy (or a bug here) would poison every benchmark:
    # fail loudly, with the reason, rather than store what the survey refuses.
    raise NoFakeAnswers(f"no valid answers in {ATTEMPTS} draws; the last refused: {errors}")


def _draw(questions: Sequence[Question], rng: random.Random, outside: dict) -> dict:
    """Answers to `questions` (a survey's, or a roster row's seeing `outside`)."""
    raw: dict = {}
    for q in questions:
        # No file is made up: a file question stays unanswered (or is refused).
        if q.type in NOT_ASKED or q.type in FILE or (not q.required and rng.random() < 0.2):
            continue
        picked = _answer(q, rng, {**outside, **raw})
        if picked is None:  # a choice filter left no choice: nothing to pick
            continue
        raw[q.name] = picked
        if q.other and (picked == OTHER or (isinstance(picked, list) and OTHER in picked)):
            raw[q.other_field] = rng.choice(SAMPLE_TEXTS)
    return raw


def _rows(q: Question, rng: random.Random, so_far: dict) -> list[dict]:
    """A roster's rows: as many as its count asks, else a few within its bounds."""
    if q.count is not None:
        number = rows_wanted(q, so_far)
    else:
        number = rng.randint(q.min_count, min(q.max_count, q.min_count + 4))
    return [_draw(q.questions, rng, so_far) for _ in range(number)]


def _answer(q: Question, rng: random.Random, so_far: dict) -> Any:
    choices = [c for c in available_choices(q, so_far) if not c.get("exclusive")]
    names = [c["name"] for c in choices]
    if q.type in ("select_one", "select_multiple") and not names:
        return None
    if q.type == "select_one":
        # Skewed weights, so tallies differ from choice to choice.
        return rng.choices(names, weights=range(len(names), 0, -1))[0]
    if q.type == "select_multiple":
        most = min(q.raw.get("max_choices") or 3, len(names))
        least = min(q.raw.get("min_choices") or 1, most)
        return rng.sample(names, rng.randint(least, most))
    if q.type == "rank":
        return rng.sample(q.choice_names(), len(q.choices))
    if q.type == "matrix":
        return {row["name"]: rng.choice(q.choice_names()) for row in q.rows}
    if q.is_repeat:
        return _rows(q, rng, so_far)
    if q.type in TYPED_NUMBER:
        low, high = q.raw.get("min", 0), q.raw.get("max", 4 if q.type == "integer" else 100)
        return (
            rng.randint(int(low), int(min(high, low + 4)))
            if q.type == "integer"
            else round(rng.uniform(low, high), 2)
        )
    if q.type == "rating":
        return rng.randint(1, q.raw.get("scale", 5))
    if q.type == "nps":
        return rng.randint(0, 10)
    if q.type == "date":
        return (local_today() - timedelta(days=rng.randint(1, 365))).isoformat()
    if q.type == "phone":
        return "09" + "".join(rng.choice("0123456789") for _ in range(8))
    if q.type == "email":
        return f"nguoidan{rng.randint(1, 99999)}@example.vn"
    if q.type == "geopoint":  # somewhere in Lâm Đồng
        return {
            "lat": round(rng.uniform(11.2, 12.3), 5),
            "lon": round(rng.uniform(107.3, 108.7), 5),
        }
    if q.type == "acknowledge":
        return "OK"
    return rng.choice(SAMPLE_TEXTS)
