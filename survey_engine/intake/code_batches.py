"""Batches of closed mode's access codes: made, counted and read back.

A code is derived, not stored: code number i of batch b of survey s is a keyed hash
(HMAC with SECRET_KEY) of "s:b:i" written in CODE_ALPHABET. Only the code's own hash
(access_codes.code_hash) is in the database, so staff can download a batch's sheet any
time while SECRET_KEY stays the same, and a copy of the database gives no code away.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from survey_engine.extensions import db
from survey_engine.intake.access_codes import CODE_ALPHABET, CODE_LENGTH, code_hash
from survey_engine.models import AccessCode, AccessCodeBatch

BATCH_SIZE = (1, 5000)  # codes one batch may have
UNIT_MAX = 100  # characters of a unit's label (access_code_batches.unit)
_TRIES = 3  # a code that happens to equal one of the survey's earlier codes: a new batch id


class BatchRefused(ValueError):
    """The batch cannot be made (its codes collided with earlier ones every time)."""


def derive_code(survey_id: int, batch_id: int, number: int) -> str:
    """Code `number` (1..size) of a batch, as stored: 8 characters of CODE_ALPHABET."""
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, f"{survey_id}:{batch_id}:{number}".encode(), hashlib.sha256).digest()
    value = int.from_bytes(digest[:5], "big")  # 40 bits: 8 characters of 5 bits
    chars = [CODE_ALPHABET[(value >> (5 * i)) & 31] for i in reversed(range(CODE_LENGTH))]
    return "".join(chars)


def written(code: str) -> str:
    """A code as printed and typed: XXXX-XXXX."""
    return f"{code[:4]}-{code[4:]}"


def create_batch(survey_id: int, unit: str, size: int, created_by: str) -> AccessCodeBatch:
    """Make a batch of `size` codes for `unit` and commit it."""
    low, high = BATCH_SIZE
    if not low <= size <= high or not unit.strip() or len(unit) > UNIT_MAX:
        raise ValueError(f"a batch has {low}..{high} codes and a unit label")
    for _try in range(_TRIES):
        batch = AccessCodeBatch(
            survey_id=survey_id, unit=unit.strip(), size=size, created_by=created_by
        )
        db.session.add(batch)
        db.session.flush()
        rows = [
            {
                "batch_id": batch.id,
                "survey_id": survey_id,
                "number": i,
                "code_hash": code_hash(derive_code(survey_id, batch.id, i)),
            }
            for i in range(1, size + 1)
        ]
        try:
            db.session.execute(sa.insert(AccessCode), rows)
            db.session.commit()
        except sa.exc.IntegrityError:  # the same code twice in the survey: 1 in ~10^5
            db.session.rollback()
            continue
        return batch
    raise BatchRefused("the codes collided with earlier ones; try again")


@dataclass(frozen=True)
class BatchRow:
    id: int
    unit: str
    size: int
    used: int
    created_at: datetime
    created_by: str


def batches_of(survey_id: int) -> list[BatchRow]:
    """The survey's batches, newest first, with how many of their codes answered."""
    used = sa.func.count(AccessCode.used_at)
    rows = db.session.execute(
        sa.select(
            AccessCodeBatch.id,
            AccessCodeBatch.unit,
            AccessCodeBatch.size,
            used.label("used"),
            AccessCodeBatch.created_at,
            AccessCodeBatch.created_by,
        )
        .outerjoin(AccessCode, AccessCode.batch_id == AccessCodeBatch.id)
        .where(AccessCodeBatch.survey_id == survey_id)
        .group_by(AccessCodeBatch.id)
        .order_by(AccessCodeBatch.id.desc())
    )
    return [BatchRow(*row) for row in rows]


def batch_of(survey_id: int, batch_id: int) -> AccessCodeBatch | None:
    batch = db.session.get(AccessCodeBatch, batch_id)
    return batch if batch is not None and batch.survey_id == survey_id else None


def codes_of(batch: AccessCodeBatch) -> Iterator[tuple[int, str]]:
    """(number, code) of every code of the batch, derived again."""
    for i in range(1, batch.size + 1):
        yield i, derive_code(batch.survey_id, batch.id, i)
