"""Closed mode's response rate per unit: of the codes issued for a unit (all of its
batches), how many have answered. Shown on the dashboard and the access codes page."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from survey_engine.extensions import db
from survey_engine.models import AccessCode, AccessCodeBatch


@dataclass(frozen=True)
class UnitRate:
    unit: str
    used: int
    issued: int

    @property
    def percent(self) -> float:
        return 100.0 * self.used / self.issued if self.issued else 0.0


def unit_rates(survey_id: int) -> list[UnitRate]:
    """Codes used / codes issued per unit, by unit name; empty without codes."""
    rows = db.session.execute(
        sa.select(
            AccessCodeBatch.unit,
            sa.func.count(AccessCode.used_at),
            sa.func.count(AccessCode.id),
        )
        .join(AccessCode, AccessCode.batch_id == AccessCodeBatch.id)
        .where(AccessCodeBatch.survey_id == survey_id)
        .group_by(AccessCodeBatch.unit)
        .order_by(AccessCodeBatch.unit)
    )
    return [UnitRate(unit, used, issued) for unit, used, issued in rows]
