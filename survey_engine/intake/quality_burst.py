"""The burst check: many responses from one network key that no distinct browser
explains (the rule is in intake/quality.py's docstring).

A response is *unexplained* when it has no device token, or its token answered from
the same network within the QUALITY_BURST_MINUTES before it. The database says which
stored responses are (a window function gives each its token's previous time), so an
honest crowd behind one address, every phone answering once, sends nothing back.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from survey_engine.extensions import db
from survey_engine.intake.quality_network import in_lookback
from survey_engine.intake.quality_rules import Found, Rules, aware, flag_names, stored_row
from survey_engine.models import Response


@dataclass
class _Unexplained:
    at: datetime
    index: int | None = None  # in the batch
    row: Any = None  # or stored
    flagged: bool = False


def bursts(survey_id: int, found: Found, rules: Rules) -> None:
    """Flag every unexplained response of a window holding more than QUALITY_BURST_COUNT
    of them (the earlier, stored ones of that window too)."""
    batch = [(i, s) for i, s in found.batch.items() if s.paradata.get("network_key")]
    if not batch:
        return
    window = timedelta(minutes=rules.burst_minutes)
    rows = _stored(survey_id, found, batch, window, rules)
    events: dict[str, list[_Unexplained]] = defaultdict(list)
    last_seen: dict[tuple[str, str], datetime] = {}
    for row in reversed(rows):  # oldest first
        at = aware(row.submitted_at)
        if row.device_hash:
            last_seen[(row.network_key, row.device_hash)] = at
        if not row.device_hash or (row.previous is not None and at - aware(row.previous) <= window):
            flagged = "burst" in flag_names(row.flags or [])  # by an earlier batch
            events[row.network_key].append(_Unexplained(at, row=row, flagged=flagged))
    for index, s in sorted(batch, key=lambda item: aware(item[1].submitted_at)):
        key, device, at = (
            s.paradata["network_key"],
            s.paradata.get("device_hash"),
            aware(s.submitted_at),
        )
        previous = last_seen.get((key, device)) if device else None
        if device:
            last_seen[(key, device)] = at
        if not device or (previous is not None and abs(at - previous) <= window):
            events[key].append(_Unexplained(at, index=index))
    for key_events in events.values():
        key_events.sort(key=lambda e: e.at)
        _slide(found, key_events, window, rules)


def _stored(survey_id: int, found: Found, batch: list, window: timedelta, rules: Rules) -> list:
    """Of the batch's networks' latest stored responses (in_lookback), those of
    the last two windows that are unexplained, or of the batch's device tokens (their
    last time), newest first."""
    t = Response.__table__
    keys = {s.paradata["network_key"] for _, s in batch}
    since = min(aware(s.submitted_at) for _, s in batch) - 2 * window
    devices = sorted({s.paradata["device_hash"] for _, s in batch if s.paradata.get("device_hash")})
    timed = (
        sa.select(
            t.c.id,
            t.c.network_key,
            t.c.device_hash,
            t.c.submitted_at,
            t.c.status,
            t.c.flags,
            sa.func.lag(t.c.submitted_at, type_=t.c.submitted_at.type)
            .over(
                partition_by=(t.c.network_key, t.c.device_hash),
                order_by=(t.c.submitted_at, t.c.id),
            )
            .label("previous"),
        )
        .where(in_lookback(survey_id, found, keys, rules), t.c.submitted_at >= since)
        .subquery()
    )
    return list(
        db.session.execute(
            sa.select(timed)
            .where(
                sa.or_(
                    timed.c.device_hash.is_(None),
                    timed.c.previous.is_not(None),
                    timed.c.device_hash.in_(devices),
                )
            )
            .order_by(timed.c.id.desc())
        ).all()
    )


def _slide(found: Found, events: list[_Unexplained], window: timedelta, rules: Rules) -> None:
    inside: deque[_Unexplained] = deque()
    for event in events:
        while inside and inside[0].at < event.at - window:
            inside.popleft()
        inside.append(event)
        if len(inside) <= rules.burst_count:
            continue
        reason = (
            f"{len(inside)} responses from one network within {rules.burst_minutes:g} "
            "minutes without a browser of their own (no device token, or one that had "
            f"answered already); more than {rules.burst_count}"
        )
        for unexplained in reversed(inside):  # the older ones may be flagged already
            if unexplained.flagged:
                break
            unexplained.flagged = True
            if unexplained.index is not None:
                found.flag_new(unexplained.index, "burst", reason)
            else:
                found.flag_earlier(stored_row(unexplained.row), "burst", reason)
