"""The quality checks that look back at earlier responses of the same device token or
network key: duplicate and burst (the rules are in intake/quality.py's docstring)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from survey_engine.catalog import definition_of
from survey_engine.extensions import db
from survey_engine.intake.buffer import answers_digest
from survey_engine.intake.quality_rules import Found, Rules, aware, combinations, stored_row
from survey_engine.intake.submission import Submission
from survey_engine.models import Response

# log10 of the margin: an answer set's combinations must exceed 10,000 × n², because
# answers are far from uniform, and people behind one address live in one place (their
# district and commune answers alike).
CHANCE_MARGIN = 4


def _batch_ids(found: Found) -> list:
    """Its submission ids: a redelivered batch must not find itself stored earlier."""
    return [s.submission_id for s in found.batch.values()]


def device_duplicates(survey_id: int, found: Found) -> None:
    """Every response of a device token after its first, and the first once a second is
    there (one query: per token in the batch, its earlier count and its first row)."""
    devices = Counter(
        s.paradata["device_hash"] for s in found.batch.values() if s.paradata.get("device_hash")
    )
    if not devices:
        return
    t = Response.__table__
    ranked = (
        sa.select(
            t.c.id,
            t.c.device_hash,
            t.c.status,
            t.c.flags,
            sa.func.count().over(partition_by=t.c.device_hash).label("n"),
            sa.func.row_number().over(partition_by=t.c.device_hash, order_by=t.c.id).label("k"),
        )
        .where(
            t.c.survey_id == survey_id,
            t.c.device_hash.in_(list(devices)),
            t.c.submission_id.not_in(_batch_ids(found)),
        )
        .subquery()
    )
    first = {
        row.device_hash: row for row in db.session.execute(sa.select(ranked).where(ranked.c.k == 1))
    }
    seen: Counter[str] = Counter()
    for index, s in sorted(found.batch.items(), key=lambda item: item[1].submitted_at):
        device = s.paradata.get("device_hash")
        if not device:
            continue
        before = (first[device].n if device in first else 0) + seen[device]
        seen[device] += 1
        if before:
            found.flag_new(
                index,
                "duplicate",
                f"the same browser (device token) answered {before} time(s) before",
            )
        elif devices[device] > 1:
            found.flag_new(
                index,
                "duplicate",
                f"the first of {devices[device]} responses from the same browser (device token)",
            )
    for row in first.values():
        found.flag_earlier(
            stored_row(row),
            "duplicate",
            "the first response of a browser (device token) that answered again later",
        )


@dataclass
class _Event:
    """A response of one network key: from the batch (index) or stored (row)."""

    at: datetime
    device: str | None
    index: int | None = None
    row: Any = None  # the stored row
    unexplained: bool = False


def network_checks(survey_id: int, found: Found, rules: Rules) -> None:
    """Duplicates by network key and answers, and bursts, from one query: the batch's
    networks' stored responses (a key is one day's), newest first, at most
    QUALITY_NETWORK_LOOKBACK."""
    keys = {
        s.paradata["network_key"] for s in found.batch.values() if s.paradata.get("network_key")
    }
    if not keys:
        return
    t = Response.__table__
    rows = db.session.execute(
        sa.select(
            t.c.id,
            t.c.version_id,
            t.c.network_key,
            t.c.device_hash,
            t.c.submitted_at,
            t.c.status,
            t.c.flags,
            t.c.answers,
        )
        .where(
            t.c.survey_id == survey_id,
            t.c.network_key.in_(sorted(keys)),
            t.c.submission_id.not_in(_batch_ids(found)),
        )
        .order_by(t.c.id.desc())
        .limit(rules.network_lookback)
    ).all()
    _network_duplicates(found, rows, rules)
    _bursts(found, rows, rules)


def _network_duplicates(found: Found, rows: Sequence[Any], rules: Rules) -> None:
    """Identical answer sets from one network key, when chance cannot explain them (a
    group's answers are judged once, only when it has two members or more)."""
    per_key: Counter[str] = Counter(row.network_key for row in rows)
    groups: dict[tuple[str, str], list[tuple[int | None, Any]]] = defaultdict(list)
    for index, s in found.batch.items():
        if key := s.paradata.get("network_key"):
            per_key[key] += 1
            groups[(key, answers_digest(s.answers))].append((index, None))
    for row in rows:
        members = groups.get((row.network_key, answers_digest(row.answers)))
        if members is not None:
            members.append((None, row))
    for (key, _), members in groups.items():
        first = members[0][0]  # the batch's members come first
        if len(members) < 2 or first is None:
            continue
        if not _distinctive(found.batch[first], per_key[key], rules):
            continue
        reason = (
            f"the same answers as {len(members) - 1} other response(s) from the same network today"
        )
        for member, stored in members:
            if member is not None:
                found.flag_new(member, "duplicate", reason)
            else:
                found.flag_earlier(stored_row(stored), "duplicate", reason)


def _distinctive(submission: Submission, responses: int, rules: Rules) -> bool:
    """Enough answers, and far more possible answer sets than pairs among `responses`."""
    answered, log_space = combinations(definition_of(submission.version_id), submission.answers)
    needed = 2 * math.log10(max(responses, 2)) + CHANCE_MARGIN
    return answered >= rules.duplicate_min_answers and log_space >= needed


def _bursts(found: Found, rows: Sequence[Any], rules: Rules) -> None:
    """Per network key, a window of QUALITY_BURST_MINUTES sliding over its responses in
    time order: more than QUALITY_BURST_COUNT unexplained in it flags them."""
    window = timedelta(minutes=rules.burst_minutes)
    start = min(aware(s.submitted_at) for s in found.batch.values()) - window
    events: dict[str, list[_Event]] = defaultdict(list)
    for row in reversed(rows):  # oldest first: ties in time keep the storing order
        if aware(row.submitted_at) >= start:
            events[row.network_key].append(
                _Event(aware(row.submitted_at), row.device_hash, row=row)
            )
    for index, s in found.batch.items():
        if s.paradata.get("network_key"):
            events[s.paradata["network_key"]].append(
                _Event(aware(s.submitted_at), s.paradata.get("device_hash"), index=index)
            )
    for key_events in events.values():
        key_events.sort(key=lambda e: e.at)  # stable: stored before batch at equal times
        _slide(found, key_events, window, rules.burst_count, rules.burst_minutes)


def _slide(
    found: Found, events: list[_Event], window: timedelta, limit: int, minutes: float
) -> None:
    inside: deque[_Event] = deque()
    devices: Counter[str] = Counter()
    unexplained = 0
    flagged_to = -1  # events up to this position are flagged already
    for position, event in enumerate(events):
        while inside and inside[0].at < event.at - window:
            gone = inside.popleft()
            unexplained -= gone.unexplained
            if gone.device:
                devices[gone.device] -= 1
        event.unexplained = not event.device or devices[event.device] > 0
        if event.device:
            devices[event.device] += 1
        inside.append(event)
        unexplained += event.unexplained
        if event.unexplained and unexplained > limit:
            reason = (
                f"{unexplained} responses from one network within {minutes:g} minutes "
                "without a browser of their own (no device token, or one that had "
                f"answered already); more than {limit}"
            )
            first = position - len(inside) + 1
            for earlier in events[max(first, flagged_to + 1) : position + 1]:
                if earlier.unexplained:
                    _flag(found, earlier, reason)
            flagged_to = position


def _flag(found: Found, event: _Event, reason: str) -> None:
    if event.index is not None:
        found.flag_new(event.index, "burst", reason)
    elif event.row is not None:
        found.flag_earlier(stored_row(event.row), "burst", reason)
