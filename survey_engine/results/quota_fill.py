"""How full each quota's strata are, for the staff: the dashboard, the survey page
and the results API.

The counts are quota_fills: the places stored responses took (a response excluded
in review keeps its place: the quota limits what is collected). Strata are those
with a stored response and those the definition gives a limit of their own, fullest
first. The quotas are the newest published version's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from survey_engine.definition.merged import MergedSurvey
from survey_engine.extensions import db
from survey_engine.models import QuotaFill

SEPARATOR = "|"


@dataclass(frozen=True)
class StratumFill:
    stratum: str  # the answers joined by '|': 'da_lat|parent'
    label: str  # their labels: 'Thành phố Đà Lạt · Phụ huynh học sinh'
    filled: int
    limit: int

    @property
    def full(self) -> bool:
        return self.filled >= self.limit

    @property
    def ratio(self) -> float:
        """How full, from 0 to 1 (a stratum closed with limit 0 is full)."""
        return min(1.0, self.filled / self.limit) if self.limit else 1.0


@dataclass(frozen=True)
class QuotaView:
    name: str
    questions: tuple[str, ...]  # their labels
    limit: int
    strata: tuple[StratumFill, ...]


def quota_views(survey_id: int, merged: MergedSurvey, lang: str) -> tuple[QuotaView, ...]:
    quotas = merged.newest.settings.get("quotas") or []
    if not quotas:
        return ()
    stored: dict[str, dict[str, int]] = {}
    for quota, stratum, count in db.session.execute(
        sa.select(QuotaFill.quota, QuotaFill.stratum, QuotaFill.count).where(
            QuotaFill.survey_id == survey_id
        )
    ):
        stored.setdefault(quota, {})[stratum] = int(count or 0)
    return tuple(_view(quota, stored.get(quota["name"], {}), merged, lang) for quota in quotas)


def _view(quota: dict, stored: dict[str, int], merged: MergedSurvey, lang: str) -> QuotaView:
    limits = quota.get("limits") or {}
    names = quota["questions"]
    strata = [
        StratumFill(
            stratum,
            _label(names, stratum, merged, lang),
            stored.get(stratum, 0),
            int(limits.get(stratum, quota["limit"])),
        )
        for stratum in sorted(set(stored) | set(limits))
    ]
    strata.sort(key=lambda s: (-s.ratio, s.label))
    questions = tuple(
        merged.label(merged.by_name[name], lang) if name in merged.by_name else name
        for name in names
    )
    return QuotaView(quota["name"], questions, int(quota["limit"]), tuple(strata))


def _label(names: list[str], stratum: str, merged: MergedSurvey, lang: str) -> str:
    parts = stratum.split(SEPARATOR)
    labels = []
    for name, part in zip(names, parts, strict=False):
        question = merged.by_name.get(name)
        choice = question.choice(part) if question else None
        labels.append(merged.choice_label(choice, lang) if choice else part)
    return " · ".join(labels)


def quotas_json(views: tuple[QuotaView, ...]) -> dict[str, Any]:
    """The results API's "quotas": {name: {limit, strata: {stratum: {filled, limit, full}}}}."""
    return {
        view.name: {
            "limit": view.limit,
            "strata": {
                s.stratum: {"filled": s.filled, "limit": s.limit, "full": s.full}
                for s in view.strata
            },
        }
        for view in views
    }
