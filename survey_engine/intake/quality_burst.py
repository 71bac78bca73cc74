"""The burst check: many responses from one network key that no distinct browser
explains (the rule is in intake/quality.py's docstring).

A response is *unexplained* when it has no device token, or its token answered from
the same network within the QUALITY_BURST_MINUTES before it. The database says which
stored responses are (a window function gives each its token's previous time), so an
honest crowd behind one address, every phone answering once, sends nothing back. The
same query gives the network keys' lookbacks (quality_network.lookback_bounds), which
the network duplicate check uses.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from survey_engine.extensions import db
from survey_engine.intake.quality_network import Bound, lookback
from survey_engine.intake.quality_rules import Found, Rules, aware, flag_names, stored_row
from survey_engine.models import Response


@dataclass
class _Unexplained:
    at: datetime
    index: int | None = None  # in the batch
    row: Any = None  # or stored
    flagged: bool = False


@dataclass
class LookBack:
    """What one query reads of the batch's network keys: each key's lookback (its latest
    QUALITY_NETWORK_LOOKBACK stored responses: how many, and the oldest id among them),
    and the stored responses the burst rule may count."""

    bounds: dict[str, Bound]
    rows: list


def look_back(survey_id: int, found: Found, rules: Rules) -> LookBack:
    """One query for the network checks: the bounds of the batch's keys' lookbacks, and
    of their responses in the last two QUALITY_BURST_MINUTES windows before the batch,
    those that are unexplained or of the batch's device tokens (their last time). One
    walk down each key's index reads its lookback; only the responses without a device
    token, of a token seen twice or of the batch's tokens are sorted for the window
    function, so an honest crowd costs a hash of its tokens, not a sort."""
    batch = [s for s in found.batch.values() if s.paradata.get("network_key")]
    if not batch:
        return LookBack({}, [])
    t = Response.__table__
    latest = lookback(survey_id, found, {s.paradata["network_key"] for s in batch}, rules)
    bounds = (
        sa.select(
            latest.c.network_key.label("key"),
            sa.func.count().label("n"),
            sa.func.min(latest.c.id).label("oldest"),
        )
        .group_by(latest.c.network_key)
        .cte("bounds")
    )
    window = timedelta(minutes=rules.burst_minutes)
    since = min(aware(s.submitted_at) for s in batch) - 2 * window
    recent = sa.select(latest).where(latest.c.submitted_at >= since).cte("recent")
    # Tokens seen twice (on any of the keys: one more candidate is harmless, as the
    # window function's partition is the key and the token).
    twice = (
        sa.select(recent.c.device_hash)
        .where(recent.c.device_hash.is_not(None))
        .group_by(recent.c.device_hash)
        .having(sa.func.count() > 1)
    )
    devices = sorted({s.paradata["device_hash"] for s in batch if s.paradata.get("device_hash")})
    timed = (
        sa.select(
            recent.c.id,
            recent.c.network_key,
            recent.c.device_hash,
            recent.c.submitted_at,
            recent.c.status,
            recent.c.flags,
            sa.func.lag(recent.c.submitted_at, type_=t.c.submitted_at.type)
            .over(
                partition_by=(recent.c.network_key, recent.c.device_hash),
                order_by=(recent.c.submitted_at, recent.c.id),
            )
            .label("previous"),
        )
        .select_from(recent)
        .where(
            sa.or_(
                recent.c.device_hash.is_(None),
                recent.c.device_hash.in_(twice),
                recent.c.device_hash.in_(devices),
            )
        )
        .subquery()
    )
    unexplained = (
        sa.select(timed)
        .where(
            sa.or_(
                timed.c.device_hash.is_(None),
                timed.c.previous.is_not(None),
                timed.c.device_hash.in_(devices),
            )
        )
        .subquery()
    )
    result = db.session.execute(
        sa.select(bounds.c.key, bounds.c.n, bounds.c.oldest, unexplained).select_from(
            bounds.outerjoin(unexplained, unexplained.c.network_key == bounds.c.key)
        )
    ).all()
    found_bounds = {row.key: Bound(int(row.n), row.oldest) for row in result}
    rows = sorted((row for row in result if row.id is not None), key=lambda row: -row.id)
    return LookBack(found_bounds, rows)  # rows newest first


def bursts(found: Found, rules: Rules, stored: list) -> None:
    """Flag every unexplained response of a window holding more than QUALITY_BURST_COUNT
    of them (the earlier, stored ones of that window too); `stored` from look_back."""
    batch = [(i, s) for i, s in found.batch.items() if s.paradata.get("network_key")]
    if not batch:
        return
    window = timedelta(minutes=rules.burst_minutes)
    events: dict[str, list[_Unexplained]] = defaultdict(list)
    last_seen: dict[tuple[str, str], datetime] = {}
    for row in reversed(stored):  # oldest first
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
