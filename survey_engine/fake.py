"""Random valid answers for demos and benchmarks (`survey-engine fake-responses`)."""

from __future__ import annotations

import random

from survey_engine.definition import Definition, clean_answers
from survey_engine.definition.model import OTHER, Question

SAMPLE_TEXTS = [
    "Cần đảm bảo giãn cách trong lớp học.",
    "Nên cho học sinh tiểu học đi học lại trước.",
    "Mong nhà trường thông báo sớm lịch học.",
    "Đề nghị tiêm vắc-xin cho học sinh trước khi đi học.",
    "Học trực tuyến không hiệu quả ở vùng sâu, vùng xa.",
]


def fake_answers(definition: Definition, rng: random.Random) -> dict:
    """A plausible, valid set of answers; optional questions are skipped now and then."""
    raw: dict = {}
    for q in definition.questions:
        if not q.takes_answer or (not q.required and rng.random() < 0.2):
            continue
        raw[q.name] = _answer(q, rng)
        picked = raw[q.name]
        if q.other and (picked == OTHER or (isinstance(picked, list) and OTHER in picked)):
            raw[q.other_field] = rng.choice(SAMPLE_TEXTS)
    answers, errors = clean_answers(definition, raw, definition.default_language)
    if errors:  # a bug here would poison every benchmark: fail loudly
        raise AssertionError(f"fake answers failed validation: {errors}")
    return answers


def _answer(q: Question, rng: random.Random):
    names = q.choice_names()
    if q.type == "select_one":
        # Skewed weights, so tallies differ from choice to choice.
        return rng.choices(names, weights=range(len(names), 0, -1))[0]
    if q.type == "select_multiple":
        return rng.sample(names, rng.randint(1, min(3, len(names))))
    if q.type == "integer":
        return rng.randint(0, 4)
    if q.type == "decimal":
        return round(rng.uniform(0, 100), 2)
    return rng.choice(SAMPLE_TEXTS)
