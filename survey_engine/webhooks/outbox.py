"""The outbox: events written as webhook_deliveries rows in the transaction that made
them (the caller commits), so an event exists exactly when what it reports does, and a
worker that dies after the commit loses nothing: another sends the rows.

`response.stored`: the responses a drain batch stored, in deliveries of at most
WEBHOOK_BATCH_RESPONSES responses and WEBHOOK_MAX_PAYLOAD_BYTES bytes (a response larger
than that alone goes alone); `response.replaced`: earlier answers a device's later one
replaced (with editing allowed), in the same transaction. Status events:
`survey.published`, `survey.closed`, `survey.reopened`, `survey.archived`,
`response.reviewed`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
import sqlalchemy as sa
from flask import current_app

from survey_engine.extensions import db
from survey_engine.models import DeliveryStatus, Survey, WebhookDelivery, WebhookEndpoint

STORED = "response.stored"
STATUS_EVENTS = {  # a survey's new status: its event
    "published": "survey.published",
    "closed": "survey.closed",
    "reopened": "survey.reopened",
    "archived": "survey.archived",
}
REVIEWED = "response.reviewed"
REPLACED = "response.replaced"


class Stored(Protocol):
    """What the outbox reads of a stored submission (intake.submission.Submission; not
    imported: intake imports this module)."""

    @property
    def survey_id(self) -> int: ...
    @property
    def version_id(self) -> int: ...
    @property
    def submission_id(self) -> uuid.UUID: ...
    @property
    def answers(self) -> dict: ...
    @property
    def source(self) -> str: ...
    @property
    def submitted_at(self) -> datetime: ...
    @property
    def flags(self) -> list: ...


EVENTS = (STORED, REPLACED, *STATUS_EVENTS.values(), REVIEWED)


def _endpoints(survey_ids: Iterable[int]) -> dict[int, tuple[str, list[int]]]:
    """Survey id: its slug and its endpoints' ids, for the surveys that have any."""
    found: dict[int, tuple[str, list[int]]] = {}
    rows = db.session.execute(
        sa.select(WebhookEndpoint.id, WebhookEndpoint.survey_id, Survey.slug)
        .join(Survey, Survey.id == WebhookEndpoint.survey_id)
        .where(WebhookEndpoint.survey_id.in_(sorted(set(survey_ids))))
        .order_by(WebhookEndpoint.id)
    )
    for endpoint_id, survey_id, slug in rows:
        found.setdefault(survey_id, (slug, []))[1].append(endpoint_id)
    return found


def _head(event_id: str, event: str, survey_id: int, slug: str) -> dict[str, Any]:
    return {
        "id": event_id,
        "event": event,
        "created_at": datetime.now(UTC).isoformat(),
        "survey": {"id": survey_id, "slug": slug},
    }


def _add(endpoint_ids: list[int], event_id: str, event: str, body: bytes, items: int) -> None:
    now = datetime.now(UTC)
    text = body.decode()
    db.session.execute(
        sa.insert(WebhookDelivery),
        [
            {
                "endpoint_id": endpoint_id,
                "event_id": event_id,
                "event": event,
                "body": text,
                "items": items,
                "status": DeliveryStatus.PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for endpoint_id in endpoint_ids
        ],
    )


def _response(s: Stored, response_id: int) -> bytes:
    return orjson.dumps(
        {
            "id": response_id,  # as the data API and response.reviewed name it
            "submission_id": s.submission_id,
            "version_id": s.version_id,
            "submitted_at": s.submitted_at,
            "source": s.source,
            "flags": [f.get("flag") for f in s.flags if isinstance(f, dict)],
            "answers": s.answers,
        }
    )


def _packed(items: list[bytes], count: int, size: int) -> Iterator[list[bytes]]:
    """Consecutive groups of at most `count` items and about `size` bytes."""
    group: list[bytes] = []
    used = 0
    for item in items:
        if group and (len(group) >= count or used + len(item) + 1 > size):
            yield group
            group, used = [], 0
        group.append(item)
        used += len(item) + 1
    if group:
        yield group


def add_stored(new: Sequence[Stored], ids: Mapping[tuple[int, uuid.UUID], int]) -> int:
    """Outbox rows for the responses just inserted (persist_batch, before its commit),
    `ids` their response ids by (survey_id, submission_id); returns how many rows. One
    query when no survey of the batch has an endpoint."""
    if not new:
        return 0
    endpoints = _endpoints(s.survey_id for s in new)
    if not endpoints:
        return 0
    config = current_app.config
    count, size = config["WEBHOOK_BATCH_RESPONSES"], config["WEBHOOK_MAX_PAYLOAD_BYTES"]
    rows = 0
    for survey_id, (slug, endpoint_ids) in endpoints.items():
        items = [
            _response(s, ids[(s.survey_id, s.submission_id)])
            for s in new
            if s.survey_id == survey_id
        ]
        for group in _packed(items, count, size - 512):  # 512: the head's room
            event_id = str(uuid.uuid4())
            head = orjson.dumps(_head(event_id, STORED, survey_id, slug))
            body = head[:-1] + b',"responses":[' + b",".join(group) + b"]}"
            _add(endpoint_ids, event_id, STORED, body, len(group))
            rows += len(endpoint_ids)
    return rows


def add_replaced(rows: Sequence[Any]) -> int:
    """Outbox rows for the responses a later answer from the same device replaced
    (rows with id, survey_id and submission_id; excluded in the same transaction), so
    a receiver that keeps copies drops them as the dashboard does."""
    if not rows:
        return 0
    endpoints = _endpoints(row.survey_id for row in rows)
    added = 0
    for survey_id, (slug, endpoint_ids) in endpoints.items():
        mine = [row for row in rows if row.survey_id == survey_id]
        event_id = str(uuid.uuid4())
        content = _head(event_id, REPLACED, survey_id, slug)
        content["replaced"] = [{"id": r.id, "submission_id": r.submission_id} for r in mine]
        _add(endpoint_ids, event_id, REPLACED, orjson.dumps(content), len(mine))
        added += len(endpoint_ids)
    return added


def add_event(survey: Survey, event: str, data: dict[str, Any] | None = None) -> int:
    """Outbox rows for a status change of the survey (or of responses: `data`); the
    caller commits them with the change."""
    endpoints = _endpoints([survey.id])
    if not endpoints:
        return 0
    slug, endpoint_ids = endpoints[survey.id]
    event_id = str(uuid.uuid4())
    content = _head(event_id, event, survey.id, slug)
    content["survey"]["status"] = survey.status
    content.update(data or {})
    _add(endpoint_ids, event_id, event, orjson.dumps(content), 1)
    return len(endpoint_ids)
