"""A checked submission, and what accepting it can come to."""

from __future__ import annotations

import enum
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from survey_engine.definition.answers import unstorable
from survey_engine.untrusted import load_json


class StorageUnavailable(Exception):
    """Neither Redis nor the database can hold the submission now: answer 503."""


RETRY_AFTER_SECONDS = "30"  # what a 503 tells the client to wait


class Outcome(enum.Enum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"  # same id, same answers: already held, nothing new stored
    CONFLICT = "conflict"  # same id, other answers: refused


METRIC_OF = {
    Outcome.ACCEPTED: "accepted",
    Outcome.DUPLICATE: "duplicates",
    Outcome.CONFLICT: "conflicts",
}


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

    @property
    def key(self) -> tuple[int, uuid.UUID]:
        return (self.survey_id, self.submission_id)

    def row(self) -> dict:
        return {
            "survey_id": self.survey_id,
            "version_id": self.version_id,
            "submission_id": self.submission_id,
            "answers": self.answers,
            "source": self.source,
            "meta": self.meta,
            "submitted_at": self.submitted_at,
        }

    def to_json(self) -> str:
        return json.dumps(
            {
                "survey_id": self.survey_id,
                "version_id": self.version_id,
                "submission_id": str(self.submission_id),
                "answers": self.answers,
                "source": self.source,
                "meta": self.meta,
                "submitted_at": self.submitted_at.isoformat(),
            },
            ensure_ascii=False,
            separators=(",", ":"),
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
        )
