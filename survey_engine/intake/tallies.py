"""Tally keys of a response, and recounting them from the stored responses.

persist_batch adds the keys of each new response inside its own transaction, and a
review that excludes a response (or lets it back in) takes them away (adds them again)
in the transaction that changes its status (results/review.py), so the tallies table
always equals a recount of the responses it counts (ResponseStatus.COUNTED: all but
the excluded); `survey-engine recount` proves it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import sqlalchemy as sa

from survey_engine.definition import Definition
from survey_engine.extensions import db
from survey_engine.models import Response, ResponseStatus, Tally, insert_for

RESPONSES = ("", "")  # (question, choice) of the row counting responses
TallyKey = tuple[int, int, str, str]  # survey_id, version_id, question, choice


def keys_of(definition: Definition, answers: dict) -> list[tuple[str, str]]:
    """(question, choice) pairs one response adds 1 to; choice '' means 'answered'."""
    keys = [RESPONSES]
    for q in definition.questions:
        value = answers.get(q.name)
        if value is None or not q.takes_answer:
            continue
        keys.append((q.name, ""))
        if q.type == "select_one":
            keys.append((q.name, value))
        elif q.type == "select_multiple":
            keys.extend((q.name, choice) for choice in value)
    return keys


def upsert_counts(deltas: Counter[TallyKey]) -> None:
    """Add deltas (negative ones too: a review excluding responses) to the tallies
    table in the caller's transaction.

    Rows are written in key order so two workers never wait on each other in a cycle.
    """
    if not deltas:
        return
    table = Tally.__table__
    statement = insert_for(table)
    statement = statement.on_conflict_do_update(
        index_elements=["survey_id", "version_id", "question", "choice"],
        set_={"count": table.c.count + statement.excluded.count},
    )
    rows = [
        {"survey_id": s, "version_id": v, "question": q, "choice": c, "count": n}
        for (s, v, q, c), n in sorted(deltas.items())
    ]
    db.session.execute(statement, rows)


def stored_counts(survey_id: int) -> Counter[TallyKey]:
    rows = db.session.execute(
        sa.select(
            Tally.survey_id, Tally.version_id, Tally.question, Tally.choice, Tally.count
        ).where(Tally.survey_id == survey_id)
    )
    # Unpacked by position: a Row's .count is also tuple.count to a type checker.
    return Counter(
        {
            (survey, version, question, choice): count
            for survey, version, question, choice, count in rows
            if count
        }
    )


def recount(survey_id: int, definitions: dict[int, Definition]) -> Counter[TallyKey]:
    """Count from the responses themselves, chunk by chunk: those the tallies count."""
    counts: Counter[TallyKey] = Counter()
    statement = (
        sa.select(Response.version_id, Response.answers)
        .where(Response.survey_id == survey_id, Response.status.in_(ResponseStatus.COUNTED))
        .execution_options(yield_per=5000)
    )
    for version_id, answers in db.session.execute(statement):
        for question, choice in keys_of(definitions[version_id], answers):
            counts[(survey_id, version_id, question, choice)] += 1
    return counts


def differences(stored: Counter[TallyKey], counted: Counter[TallyKey]) -> list[str]:
    keys: Iterable[TallyKey] = sorted(set(stored) | set(counted))
    return [
        f"version {v} {q or '(responses)'}{'=' + c if c else ''}: "
        f"table {stored.get((s, v, q, c), 0)}, responses {counted.get((s, v, q, c), 0)}"
        for s, v, q, c in keys
        if stored.get((s, v, q, c), 0) != counted.get((s, v, q, c), 0)
    ]


def replace_counts(survey_id: int, counted: Counter[TallyKey]) -> None:
    db.session.execute(sa.delete(Tally).where(Tally.survey_id == survey_id))
    upsert_counts(counted)
