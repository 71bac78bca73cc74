"""Quality flags, computed as responses are stored: persist_batch calls check_batch
inside its transaction, before the insert, once per batch (the drain's 500, or the
direct path's one).

Each flag is {"flag": name, "reason": text a reviewer reads}; a flagged response gets
status 'flagged' (Submission.row()). Flags never change the tallies: a flagged response
is counted until staff exclude it. Earlier responses are flagged too when a later one
shows them to be part of a repeated set, but only while unreviewed or flagged: a
response staff accepted or excluded is never touched again.

- speeder: took less than QUALITY_SPEEDER_FRACTION (1/3) of the survey's median
  duration so far: the last QUALITY_SPEEDER_WINDOW stored responses with a duration
  that no flag set apart, plus the batch; only once there are QUALITY_SPEEDER_MIN_COMPARED
  durations to compare with.
- straight_lining: a matrix with QUALITY_STRAIGHT_LINE_ROWS rows or more, every row
  answered with the same column.
- attention: a question marked as an attention check ("attention": the expected
  answer) answered otherwise (not answering it is no failure: it may not be shown).
- duplicate, by device: every response from a device token (browser) that answered
  before, and the first one too once a second arrives, so the repeated set shows whole.
- duplicate, by network: the same answers (intake/submission.answers_digest) as another
  response from the same network key (keys change every day, so: the same day). Behind
  a carrier's NAT thousands of honest people share one key, and short questionnaires
  repeat by chance; so only an answer set of QUALITY_DUPLICATE_MIN_ANSWERS answered
  questions or more, whose number of possible combinations (quality_rules.combinations)
  is far above the square of the network's responses that day (chance identical pairs
  among n uniform answers ~ n² / 2·space; answers are far from uniform and neighbours
  answer where they live alike, so we ask space >= 10,000·n²), takes this flag.
- burst: the rule does not count responses per network key, which would flag a whole
  commune behind one NAT address, but responses that no distinct browser explains: in
  any QUALITY_BURST_MINUTES window, a response is *unexplained* when it has no device
  token or its token already answered within the window. When more than
  QUALITY_BURST_COUNT unexplained responses fall in one window, each of them is flagged
  (the earlier ones of that window as well). 300 phones behind one address answering
  once each have 300 distinct tokens: nothing is unexplained, nothing flagged; a script
  that keeps no cookie, or replays one, is.
- over_limit, no_device: put on the Submission by the web tier; kept as they are.

The network checks look back at each network key's latest QUALITY_NETWORK_LOOKBACK
stored responses (a whole day for most networks), so a batch's cost does not grow with
a busy network's day: one walk down (survey_id, network_key, id) per key. Cost per batch
and survey, never one query per row: one for the durations, one for the devices, one for
the networks' lookbacks and bursts (the database says which responses are unexplained:
an honest crowd sends nothing back), one index probe on (survey_id, network_key,
answers_digest) for the same answers; one UPDATE (executemany) for the earlier responses
newly flagged.
"""

from __future__ import annotations

import dataclasses
import statistics
import uuid
from collections import Counter, defaultdict
from collections.abc import Collection, Sequence
from typing import cast

import sqlalchemy as sa
from flask import current_app

from survey_engine.catalog import definition_of
from survey_engine.extensions import db
from survey_engine.intake import counters, quality_burst, quality_network
from survey_engine.intake.quality_rules import (
    Found,
    Rules,
    attention_failures,
    straight_lines,
)
from survey_engine.intake.submission import Submission
from survey_engine.models import Response, ResponseStatus

Key = tuple[int, uuid.UUID]


@dataclasses.dataclass
class Checked:
    """The batch with its flags, and the flags given to earlier responses (for /metrics)."""

    submissions: list[Submission]
    earlier: Counter[tuple[int, str]] = dataclasses.field(default_factory=Counter)


def check_batch(submissions: Sequence[Submission]) -> Checked:
    """Flag the batch's submissions (returned, with their flags) and the earlier stored
    responses they show to be repeated; call inside the storing transaction."""
    rules = Rules.from_config(current_app.config)
    checked = Checked(list(submissions))
    by_survey: dict[int, list[int]] = defaultdict(list)
    for index, submission in enumerate(submissions):
        by_survey[submission.survey_id].append(index)
    for survey_id, indexes in by_survey.items():
        found = Found({i: submissions[i] for i in indexes})
        for index in indexes:
            _row_checks(found, index, submissions[index], rules)
        _speeders(survey_id, found, rules)
        quality_network.device_duplicates(survey_id, found)
        looked = quality_burst.look_back(survey_id, found, rules)
        quality_network.network_duplicates(survey_id, found, rules, looked.bounds)
        quality_burst.bursts(found, rules, looked.rows)
        for flag, n in _flag_earlier(found).items():
            checked.earlier[(survey_id, flag)] += n
        for index, flags in found.new.items():
            s = submissions[index]
            checked.submissions[index] = dataclasses.replace(s, flags=[*s.flags, *flags])
    return checked


def count_flags(checked: Checked, inserted: Collection[Key]) -> None:
    """After the commit: the stored responses' flags (the web tier's too) and the earlier
    ones flagged, in the counters /metrics shows."""
    added: Counter[tuple[int, str]] = Counter(checked.earlier)
    for s in checked.submissions:
        if s.key in inserted:
            for flag in {f.get("flag") for f in s.flags if isinstance(f, dict)}:
                added[(s.survey_id, str(flag))] += 1
    for (survey_id, flag), n in added.items():
        counters.add(survey_id, f"flag:{flag}", n)


def _row_checks(found: Found, index: int, submission: Submission, rules: Rules) -> None:
    """What one response shows by itself: straight lines and failed attention checks."""
    definition = definition_of(submission.version_id)
    for reason in straight_lines(definition, submission.answers, rules.straight_line_rows):
        found.flag_new(index, "straight_lining", reason)
    for reason in attention_failures(definition, submission.answers):
        found.flag_new(index, "attention", reason)


def _speeders(survey_id: int, found: Found, rules: Rules) -> None:
    """Durations under a fraction of the median so far (stored and this batch)."""
    timed = {
        i: int(s.paradata["duration_seconds"])
        for i, s in found.batch.items()
        if isinstance(s.paradata.get("duration_seconds"), int)
    }
    if not timed:
        return  # an anonymous survey, or no page timing: nothing to compare
    table = Response.__table__
    recent = (
        sa.select(table.c.duration_seconds, table.c.status)
        .where(table.c.survey_id == survey_id)
        .order_by(table.c.id.desc())
        .limit(rules.speeder_window * 5)  # older responses without a duration are not read
        .subquery()
    )
    stored = db.session.scalars(
        sa.select(recent.c.duration_seconds)
        .where(
            recent.c.duration_seconds.is_not(None),
            recent.c.status.in_(ResponseStatus.UNFLAGGED),
        )
        .limit(rules.speeder_window)
    ).all()
    compared = [*stored, *(d for i, d in timed.items() if not found.batch[i].flags)]
    if len(compared) < rules.speeder_min_compared:
        return
    median = statistics.median(compared)
    threshold = median * rules.speeder_fraction
    for index, duration in timed.items():
        if duration < threshold:
            found.flag_new(
                index,
                "speeder",
                f"took {duration} s; {rules.fraction_text()} of the median so far "
                f"({median:.0f} s) is {threshold:.0f} s",
            )


def _flag_earlier(found: Found) -> Counter[str]:
    """Write the flags found for earlier responses, in one executemany UPDATE that
    leaves alone any a reviewer accepted or excluded meanwhile. In the order of their
    ids: concurrent direct submissions flagging overlapping rows lock them in the same
    order, so they wait for each other instead of deadlocking."""
    rows = [
        {"row_id": stored.id, "new_flags": [*stored.flags, *flags]}
        for stored, flags in sorted(found.earlier.values(), key=lambda item: item[0].id)
        if flags
    ]
    if not rows:
        return Counter()
    table = cast(sa.Table, Response.__table__)
    db.session.execute(
        sa.update(table)
        .where(
            table.c.id == sa.bindparam("row_id"),
            # Not IN (...): an expanding parameter cannot be used with executemany.
            sa.or_(
                table.c.status == ResponseStatus.UNREVIEWED,
                table.c.status == ResponseStatus.FLAGGED,
            ),
        )
        .values(
            flags=sa.bindparam("new_flags", type_=table.c.flags.type),
            status=ResponseStatus.FLAGGED,
        ),
        rows,
    )
    return Counter(f["flag"] for _, flags in found.earlier.values() for f in flags)
