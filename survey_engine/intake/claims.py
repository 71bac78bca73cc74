"""Has a claim ('device:<hash>', 'code:<hash>') answered already? Asked when the page is
shown, so a browser that has answered, or a used code, learns it before filling the
form in. Only a courtesy: the accept script and persist_batch decide on the submission.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa

from survey_engine.extensions import db
from survey_engine.intake.buffer import claims_key, current_buffer
from survey_engine.models import ResponseClaim
from survey_engine.redis_connections import REDIS_ERRORS

log = logging.getLogger(__name__)


def is_claimed(survey_id: int, claim: str) -> bool:
    """Redis's claims first (a submission waiting to be drained holds its claim there
    only), then the database's; an unreachable Redis or database counts as not claimed:
    the page is shown and the submission is checked as always."""
    buffer = current_buffer()
    if buffer is not None:
        try:
            if buffer.client.hexists(claims_key(survey_id), claim):
                return True
        except REDIS_ERRORS as error:
            log.warning("cannot read the claims of survey %s: %s", survey_id, error)
    try:
        held = db.session.scalar(
            sa.select(ResponseClaim.submission_id).where(
                ResponseClaim.survey_id == survey_id, ResponseClaim.claim == claim
            )
        )
    except sa.exc.SQLAlchemyError as error:
        db.session.rollback()
        log.warning("cannot read the claims of survey %s: %s", survey_id, error)
        return False
    return held is not None
