"""Hand over a checked submission: ACCEPTED only once it is held somewhere.

accept(submission)
  ├─ REDIS_URL set: the accept script appends it to the survey's Redis Stream
  │  (buffer.py); a worker drains it in batches (drain.py) through persist_batch
  └─ no REDIS_URL, or Redis failing: persist_batch([submission]) right here
"""

from __future__ import annotations

import logging

import redis
import sqlalchemy as sa

from survey_engine.intake import counters
from survey_engine.intake.buffer import answers_digest, current_buffer
from survey_engine.intake.persist import compare_with_stored, persist_batch
from survey_engine.intake.submission import METRIC_OF, Outcome, StorageUnavailable, Submission

log = logging.getLogger(__name__)


def accept(submission: Submission) -> Outcome:
    """Take a submission the caller has checked; an ACCEPTED result is durably held.

    Raises StorageUnavailable when it cannot be held anywhere.
    """
    buffer = current_buffer()
    if buffer is not None:
        try:
            held = buffer.append(
                submission.survey_id,
                str(submission.submission_id),
                answers_digest(submission.answers),
                submission.to_json(),
            )
            return Outcome(held)
        except redis.RedisError as error:
            log.warning(
                "Redis cannot take submission %s (%s); storing it directly",
                submission.submission_id,
                error,
            )
    try:
        inserted = persist_batch([submission])
        outcome = (
            Outcome.ACCEPTED if submission.key in inserted else compare_with_stored(submission)
        )
        counters.count(submission.survey_id, METRIC_OF[outcome])
        if buffer is not None and outcome is Outcome.ACCEPTED:
            counters.count(submission.survey_id, "stored_directly")
        return outcome
    except sa.exc.SQLAlchemyError as error:
        log.error("database cannot take submission %s: %s", submission.submission_id, error)
        raise StorageUnavailable from error
