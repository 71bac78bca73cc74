"""A checked submission, and what accepting it can come to."""

from __future__ import annotations

import enum
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson

from survey_engine.definition.answers import unstorable
from survey_engine.models import PARADATA_COLUMNS, ResponseStatus
from survey_engine.untrusted import load_json


class StorageUnavailable(Exception):
    """Neither Redis nor the database can hold the submission now: answer 503."""


RETRY_AFTER_SECONDS = "30"  # what a 503 tells the client to wait


def answers_digest(answers: dict) -> str:
    """The answers' fingerprint: the accept script's argument, and responses.answers_digest
    (the network duplicate check compares these; migration 0012 copies this function).

    The SHA-1 of json.dumps(answers, sort_keys=True, ensure_ascii=False, compact), the
    form rows were first digested in. orjson writes the same bytes for text, integers,
    lists and objects in a fifteenth of the time (every submission pays for this, and
    the drain again); a float, which the two write differently (1e-05 and 0.00001),
    goes through json, as does what orjson refuses (tests/test_buffer.py compares the
    two on any answers)."""
    if not _holds_float(answers):
        try:
            return hashlib.sha1(orjson.dumps(answers, option=orjson.OPT_SORT_KEYS)).hexdigest()
        except orjson.JSONEncodeError:  # an integer beyond 64 bits, in a row of long ago
            pass
    text = json.dumps(answers, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha1(text.encode()).hexdigest()


def _holds_float(value: object) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        value = value.values()
    elif not isinstance(value, list):
        return False
    for item in value:
        if isinstance(item, _NOT_TEXT) and _holds_float(item):
            return True
    return False


_NOT_TEXT = (float, dict, list)


class Outcome(enum.Enum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"  # same id, same answers: already held, nothing new stored
    CONFLICT = "conflict"  # same id, other answers: refused
    CLAIMED = "claimed"  # its device token or access code already answered: refused
    FULL = "full"  # a quota's stratum has no place left: refused


METRIC_OF = {
    Outcome.ACCEPTED: "accepted",
    Outcome.DUPLICATE: "duplicates",
    Outcome.CONFLICT: "conflicts",
    Outcome.CLAIMED: "claimed",
    Outcome.FULL: "quota_full",
}


@dataclass(frozen=True)
class QuotaPlace:
    """The place a submission takes in one quota: its stratum and the stratum's limit."""

    quota: str
    stratum: str  # the stratum questions' answers joined by '|'
    limit: int

    @property
    def field(self) -> str:
        return f"{self.quota}|{self.stratum}"


@dataclass(frozen=True)
class Submission:
    """One citizen's checked answers to one published version."""

    survey_id: int
    version_id: int
    submission_id: uuid.UUID
    answers: dict
    source: str = "web"
    meta: dict = field(default_factory=dict)
    submitted_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # How it was given (models.PARADATA_COLUMNS -> value; started_at as a datetime);
    # empty for an anonymous survey.
    paradata: dict = field(default_factory=dict)
    flags: list = field(default_factory=list)  # [{"flag", "reason"}] found before storing
    unit: str | None = None  # closed mode: the access code's unit
    # What only one response may use ('device:<hash>', 'code:<hash>'), and quota places.
    claims: tuple[str, ...] = ()
    quotas: tuple[QuotaPlace, ...] = ()
    code_id: int | None = None  # closed mode: the access code's row (marked used on storing)
    # Editing allowed: its claims pass to it from an earlier answer, which is replaced.
    replace_claims: bool = False
    # What its claims record as their holder when that must not be its submission_id
    # (an access code not linked to the answers, an anonymous browser): a random id, so
    # that response_claims and Redis lead from a code or device to no response.
    claim_holder: uuid.UUID | None = None

    @property
    def holder(self) -> uuid.UUID:
        return self.claim_holder or self.submission_id

    @property
    def key(self) -> tuple[int, uuid.UUID]:
        return (self.survey_id, self.submission_id)

    def row(self) -> dict:
        """The responses row; every paradata column is present (None when not kept), so
        one multi-row INSERT takes a batch of mixed submissions."""
        flags = list(self.flags)
        return {
            "survey_id": self.survey_id,
            "version_id": self.version_id,
            "submission_id": self.submission_id,
            "answers": self.answers,
            "answers_digest": answers_digest(self.answers),
            "source": self.source,
            "meta": self.meta,
            "submitted_at": self.submitted_at,
            "status": ResponseStatus.FLAGGED if flags else ResponseStatus.UNREVIEWED,
            "flags": flags,
            "unit": self.unit,
            **{name: self.paradata.get(name) for name in PARADATA_COLUMNS},
        }

    def to_json(self) -> bytes:
        """The stream entry, read back by from_json. orjson, not json.dumps: 0.9 µs
        instead of 13.5 for a typical entry, on every submission (BENCHMARKS.md, issue
        13). orjson writes the ids and the dates itself, as str() and isoformat() do
        (tests/test_buffer.py); the drain reads them with the standard library."""
        return orjson.dumps(
            {
                "survey_id": self.survey_id,
                "version_id": self.version_id,
                "submission_id": self.submission_id,
                "answers": self.answers,
                "source": self.source,
                "meta": self.meta,
                "submitted_at": self.submitted_at,
                "paradata": self.paradata,
                "flags": self.flags,
                "unit": self.unit,
                "claims": self.claims,
                "quotas": [[q.quota, q.stratum, q.limit] for q in self.quotas],
                "code_id": self.code_id,
                "replace_claims": self.replace_claims,
                "claim_holder": self.claim_holder,
            }
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Submission:
        """Read a buffered entry back. Raises ValueError (the drain's dead letters) for
        one that is not JSON, is nested too deep, or holds text no export could write:
        it may have been buffered by an older release, before these checks."""
        data = load_json(text)
        if unstorable(data):
            raise ValueError("the entry holds unstorable text (a surrogate, non-character or NUL)")
        return cls(
            survey_id=int(data["survey_id"]),
            version_id=int(data["version_id"]),
            submission_id=uuid.UUID(data["submission_id"]),
            answers=dict(data["answers"]),
            source=str(data["source"]),
            meta=dict(data["meta"]),
            submitted_at=datetime.fromisoformat(data["submitted_at"]),
            # Entries buffered by an older release have none of these.
            paradata=_paradata_from_json(data.get("paradata") or {}),
            flags=list(data.get("flags") or []),
            unit=data.get("unit"),
            claims=tuple(str(claim) for claim in data.get("claims") or ()),
            quotas=tuple(
                QuotaPlace(str(q), str(s), int(n)) for q, s, n in data.get("quotas") or ()
            ),
            code_id=data.get("code_id"),
            replace_claims=data.get("replace_claims") is True,
            claim_holder=uuid.UUID(data["claim_holder"]) if data.get("claim_holder") else None,
        )


def _paradata_from_json(paradata: dict) -> dict:
    known = {name: paradata[name] for name in PARADATA_COLUMNS if name in paradata}
    if known.get("started_at"):
        known["started_at"] = datetime.fromisoformat(known["started_at"])
    return known
