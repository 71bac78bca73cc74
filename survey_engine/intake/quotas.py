"""Quota places: which stratum of each quota a submission falls in, and its limit.

A quota (definition settings.quotas) names select_one questions and a limit per
stratum, e.g. at most 2,000 per district x role; `limits` may set another limit for a
given stratum ("da_lat|parent": 500). A submission that leaves a stratum question
unanswered takes no place in that quota.
"""

from __future__ import annotations

from survey_engine.definition import Definition
from survey_engine.intake.submission import QuotaPlace

STRATUM_SEPARATOR = "|"


def stratum_of(quota: dict, answers: dict) -> str | None:
    values = [answers.get(name) for name in quota.get("questions", [])]
    chosen = [value for value in values if isinstance(value, str) and value]
    if not values or len(chosen) < len(values):
        return None
    return STRATUM_SEPARATOR.join(chosen)


def quota_places(definition: Definition, answers: dict) -> tuple[QuotaPlace, ...]:
    places = []
    for quota in definition.settings.get("quotas") or []:
        stratum = stratum_of(quota, answers)
        if stratum is not None:
            limit = (quota.get("limits") or {}).get(stratum, quota["limit"])
            places.append(QuotaPlace(quota["name"], stratum, int(limit)))
    return tuple(places)
