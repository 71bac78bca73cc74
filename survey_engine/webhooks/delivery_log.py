"""The delivery log the staff pages show: a survey's deliveries, newest first, with
their endpoint, and one delivery's attempts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from survey_engine.extensions import db
from survey_engine.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint

PAGE = 50


@dataclass(frozen=True)
class LogPage:
    deliveries: list[tuple[WebhookDelivery, str]]  # the delivery, its endpoint's URL
    older: int | None  # the `before` of the next page, if there is one


def deliveries_of(survey_id: int, before: int | None = None, page: int = PAGE) -> LogPage:
    """Up to `page` deliveries of the survey's endpoints with an id below `before`."""
    query = (
        sa.select(WebhookDelivery, WebhookEndpoint.url)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookEndpoint.survey_id == survey_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(page + 1)
    )
    if before is not None:
        query = query.where(WebhookDelivery.id < before)
    rows = [(row[0], row[1]) for row in db.session.execute(query)]
    older = rows[page - 1][0].id if len(rows) > page else None
    return LogPage(rows[:page], older)


def delivery_of(survey_id: int, delivery_id: int) -> WebhookDelivery | None:
    """The delivery, if it went to one of this survey's endpoints."""
    return db.session.scalars(
        sa.select(WebhookDelivery)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.id == delivery_id, WebhookEndpoint.survey_id == survey_id)
    ).first()


def attempts_of(delivery_id: int) -> list[WebhookAttempt]:
    return list(
        db.session.scalars(
            sa.select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id == delivery_id)
            .order_by(WebhookAttempt.id)
        )
    )


def forget_old(days: float) -> int:
    """Delete deliveries delivered more than `days` ago, with their attempts (the
    workers' maintenance tick); failed and waiting ones stay until replayed or removed.
    Returns how many."""
    before = datetime.now(UTC) - timedelta(days=days)
    old = (
        sa.select(WebhookDelivery.id)
        .where(
            WebhookDelivery.status == DeliveryStatus.DELIVERED,
            WebhookDelivery.delivered_at < before,
        )
        .scalar_subquery()
    )
    db.session.execute(sa.delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(old)))
    gone = db.session.execute(
        sa.delete(WebhookDelivery).where(
            WebhookDelivery.status == DeliveryStatus.DELIVERED,
            WebhookDelivery.delivered_at < before,
        )
    )
    db.session.commit()
    return int(getattr(gone, "rowcount", 0) or 0)


@dataclass(frozen=True)
class OutboxState:
    by_status: dict[str, int]  # every status, 0 when none
    oldest_pending: datetime | None  # when the oldest waiting delivery was made


def outbox_state() -> OutboxState:
    """How many deliveries wait, were delivered (and not yet forgotten) or failed, and
    the oldest waiting one's age: what /metrics shows an operator of a dead receiver."""
    counts = dict(
        db.session.execute(
            sa.select(WebhookDelivery.status, sa.func.count()).group_by(WebhookDelivery.status)
        ).all()
    )
    oldest = db.session.scalar(
        sa.select(sa.func.min(WebhookDelivery.created_at)).where(
            WebhookDelivery.status == DeliveryStatus.PENDING
        )
    )
    if oldest is not None and oldest.tzinfo is None:  # SQLite keeps it naive, in UTC
        oldest = oldest.replace(tzinfo=UTC)
    return OutboxState({s: int(counts.get(s, 0)) for s in DeliveryStatus.ALL}, oldest)
