"""Is a quota's stratum full? The page's early check asks before the citizen goes on.

Cheap by design, since every citizen's page asks once per quota: the Redis hash the
accept script keeps (se:{id}:quotas, places granted, stored or not) when submissions
are buffered, else the stored count in quota_fills; either answer is kept for
SURVEY_CACHE_SECONDS per process. The answer is advice: the accept script (or the
database transaction) decides when the answers are sent.
"""

from __future__ import annotations

import logging
import time

import sqlalchemy as sa
from flask import current_app

from survey_engine.definition import Definition
from survey_engine.extensions import db
from survey_engine.intake.buffer import current_buffer, quotas_key
from survey_engine.intake.quotas import quota_places
from survey_engine.intake.submission import QuotaPlace
from survey_engine.models import QuotaFill
from survey_engine.redis_connections import REDIS_ERRORS

log = logging.getLogger(__name__)


def any_full(survey_id: int, definition: Definition, answers: dict) -> bool:
    """True when a quota whose questions `answers` all answer has no place left for them."""
    return any(place_full(survey_id, place) for place in quota_places(definition, answers))


def place_full(survey_id: int, place: QuotaPlace) -> bool:
    if place.limit <= 0:
        return True
    cache: dict = current_app.extensions.setdefault("quota_full", {})
    key = (survey_id, place.field, place.limit)
    hit = cache.get(key)
    now = time.monotonic()
    if hit and now - hit[0] < current_app.config["SURVEY_CACHE_SECONDS"]:
        return hit[1]
    full = _taken(survey_id, place) >= place.limit
    if len(cache) > 10_000:  # strata are few; crafted ones must not grow it forever
        cache.clear()
    cache[key] = (now, full)
    return full


def _taken(survey_id: int, place: QuotaPlace) -> int:
    buffer = current_buffer()
    if buffer is not None:
        try:
            held = buffer.client.hget(quotas_key(survey_id), place.field)
            if held is not None:
                return int(held)
        except REDIS_ERRORS as error:
            log.warning("quota check falls back to the database: %s", error)
    try:
        stored = db.session.scalar(
            sa.select(QuotaFill.count).where(
                QuotaFill.survey_id == survey_id,
                QuotaFill.quota == place.quota,
                QuotaFill.stratum == place.stratum,
            )
        )
    except sa.exc.SQLAlchemyError as error:  # unknown: the submission will decide
        db.session.rollback()
        log.warning("quota check cannot read quota_fills: %s", error)
        return 0
    return int(stored or 0)
