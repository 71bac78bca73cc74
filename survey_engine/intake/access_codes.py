"""Closed mode's single-use access codes: normalizing, hashing, finding one.

A code is stored only as an HMAC with the app's SECRET_KEY (a leaked database gives no
code away, and 40-bit codes cannot be tried offline without the key).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from survey_engine.extensions import db
from survey_engine.models import AccessCode, AccessCodeBatch

# Crockford's base 32: no I, L, O or U to misread when typed from paper or an SMS.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 8  # 40 bits, written XXXX-XXXX
_READ_AS = str.maketrans({"I": "1", "L": "1", "O": "0", "U": "V"})


def normalize_code(text: str | None) -> str | None:
    """The code as stored, from what a citizen typed ("abcd efgh", "ABCD-EFGH"), or None
    when it cannot be a code at all."""
    if not text or len(text) > 40:
        return None
    code = re.sub(r"[\s-]", "", text).upper().translate(_READ_AS)
    if len(code) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in code):
        return None
    return code


def code_hash(code: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, b"access-code:" + code.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class FoundCode:
    id: int
    unit: str
    hash: str
    used_at: datetime | None

    @property
    def claim(self) -> str:
        return f"code:{self.hash}"


def find_code(survey_id: int, text: str | None) -> FoundCode | None:
    """The survey's code `text` names, used or not; None for a made-up one."""
    code = normalize_code(text)
    if code is None:
        return None
    hashed = code_hash(code)
    row = db.session.execute(
        sa.select(AccessCode.id, AccessCodeBatch.unit, AccessCode.used_at)
        .join(AccessCodeBatch, AccessCodeBatch.id == AccessCode.batch_id)
        .where(AccessCode.survey_id == survey_id, AccessCode.code_hash == hashed)
    ).first()
    return None if row is None else FoundCode(row.id, row.unit, hashed, row.used_at)
