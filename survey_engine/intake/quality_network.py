"""The duplicate checks: earlier responses of the same device token, or of the same
network key with the same answers (the rules are in intake/quality.py's docstring)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from survey_engine.catalog import definition_of
from survey_engine.extensions import db
from survey_engine.intake.quality_rules import Found, Rules, combinations, stored_row
from survey_engine.intake.submission import Submission, answers_digest
from survey_engine.models import Response, ResponseStatus

# log10 of the margin: an answer set's combinations must exceed 10,000 × n², because
# answers are far from uniform, and people behind one address live in one place (their
# district and commune answers alike).
CHANCE_MARGIN = 4


def _batch_ids(found: Found) -> list:
    """Its submission ids: a redelivered batch must not find itself stored earlier."""
    return [s.submission_id for s in found.batch.values()]


def device_duplicates(survey_id: int, found: Found) -> None:
    """Every response of a device token after its first, and the first once a second is
    there. Not an allowed edit (settings.allow_edit: replace_claims): it replaces the
    earlier answer, which is excluded (intake/replace.py), rather than repeating it."""
    devices = Counter(
        s.paradata["device_hash"]
        for s in found.batch.values()
        if s.paradata.get("device_hash") and not s.replace_claims
    )
    if not devices:
        return
    counts, unflagged = _earlier_of_devices(survey_id, found, devices)
    seen: Counter[str] = Counter()
    for index, s in sorted(found.batch.items(), key=lambda item: item[1].submitted_at):
        device = s.paradata.get("device_hash")
        if not device or s.replace_claims:
            continue
        before = counts.get(device, 0) + seen[device]
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
    for row in unflagged:
        found.flag_earlier(
            stored_row(row),
            "duplicate",
            "the first response of a browser (device token) that answered again later"
            if row.k == 1
            else "the same browser (device token) answered before",
        )


def _earlier_of_devices(survey_id: int, found: Found, devices: Counter[str]) -> tuple[dict, list]:
    """Per device token of the batch, how many times it answered before; and those
    earlier responses that may lack their flag: the first of each, and any still
    unreviewed (two workers storing the same token at once saw nothing of each other).
    One query; repeated tokens' flagged responses do not come back."""
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
    rows = db.session.execute(
        sa.select(ranked).where(
            sa.or_(ranked.c.k == 1, ranked.c.status == ResponseStatus.UNREVIEWED)
        )
    ).all()
    return {row.device_hash: row.n for row in rows}, list(rows)


@dataclass(frozen=True)
class Bound:
    """A network key's lookback: how many stored responses (QUALITY_NETWORK_LOOKBACK at
    most), and the oldest id among them (None when there are none)."""

    n: int
    oldest: int | None


def lookback(survey_id: int, found: Found, keys: set[str], rules: Rules) -> Any:
    """A CTE (id, network_key, device_hash, submitted_at, status, flags): each network
    key's lookback, its latest QUALITY_NETWORK_LOOKBACK stored responses (not the
    batch's own, should it be delivered again), what a batch looks back at so its cost
    does not grow with a busy network's day. Each key its own: one walk down (survey_id,
    network_key, id) per key, whatever the length of its day."""
    t = Response.__table__
    parts = []
    batch_keys = [(s.submission_id, s.paradata.get("network_key")) for s in found.batch.values()]
    for key in sorted(keys):
        own = [i for i, k in batch_keys if k == key]
        latest = (
            sa.select(
                t.c.id, t.c.network_key, t.c.device_hash, t.c.submitted_at, t.c.status, t.c.flags
            )
            .where(
                t.c.survey_id == survey_id,
                t.c.network_key == key,
                t.c.submission_id.not_in(own),
            )
            .order_by(t.c.id.desc())
            .limit(rules.network_lookback)
            .subquery()
        )
        parts.append(sa.select(latest))
    return (parts[0] if len(parts) == 1 else sa.union_all(*parts)).cte("latest")


def network_duplicates(
    survey_id: int, found: Found, rules: Rules, bounds: dict[str, Bound]
) -> None:
    """Identical answer sets from one network key (a key is one day's), when chance
    cannot explain them. An index probe on (survey_id, network_key, answers_digest): only
    the stored responses of the keys' lookbacks (`bounds`, from quality_burst.look_back)
    with the same answers as one of the batch's come back."""
    groups: dict[tuple[str, str], list[tuple[int | None, Any]]] = defaultdict(list)
    for index, s in found.batch.items():
        if key := s.paradata.get("network_key"):
            groups[(key, answers_digest(s.answers))].append((index, None))
    if not groups:
        return
    t = Response.__table__
    within = [
        sa.and_(
            t.c.network_key == key,
            t.c.answers_digest.in_(sorted({d for k, d in groups if k == key})),
            t.c.id >= bound.oldest,
        )
        for key, bound in sorted(bounds.items())
        if bound.oldest is not None
    ]
    rows = (
        db.session.execute(
            sa.select(t.c.id, t.c.network_key, t.c.answers_digest, t.c.status, t.c.flags).where(
                t.c.survey_id == survey_id,
                t.c.submission_id.not_in(_batch_ids(found)),
                sa.or_(*within),
            )
        ).all()
        if within
        else []
    )
    for row in rows:
        members = groups.get((row.network_key, row.answers_digest))
        if members is not None:
            members.append((None, row))
    repeated = {group: members for group, members in groups.items() if len(members) > 1}
    if repeated:
        _flag_repeated(found, repeated, bounds, rules)


def _flag_repeated(
    found: Found,
    repeated: dict[tuple[str, str], list[tuple[int | None, Any]]],
    bounds: dict[str, Bound],
    rules: Rules,
) -> None:
    """Flag each repeated set that chance cannot explain among its network's responses."""
    per_key: Counter[str] = Counter({key: bound.n for key, bound in bounds.items()})
    for s in found.batch.values():
        if s.paradata.get("network_key"):
            per_key[s.paradata["network_key"]] += 1
    for (key, _), members in repeated.items():
        first = members[0][0]  # the batch's members come first
        if first is None or not _distinctive(found.batch[first], per_key[key], rules):
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
