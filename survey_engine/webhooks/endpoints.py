"""A survey's webhook endpoints: added by its managers (at most
WEBHOOK_ENDPOINTS_PER_SURVEY), each with a secret made here that signs its deliveries."""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from flask import current_app

from survey_engine.extensions import db
from survey_engine.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from survey_engine.webhooks.addresses import Allowed, check_url


class TooMany(ValueError):
    """The survey has WEBHOOK_ENDPOINTS_PER_SURVEY endpoints already."""


def new_secret() -> str:
    """256 random bits, as 64 hex digits."""
    return secrets.token_hex(32)


def endpoints_of(survey_id: int) -> list[WebhookEndpoint]:
    return list(
        db.session.scalars(
            sa.select(WebhookEndpoint)
            .where(WebhookEndpoint.survey_id == survey_id)
            .order_by(WebhookEndpoint.id)
        )
    )


def endpoint_of(survey_id: int, endpoint_id: int) -> WebhookEndpoint | None:
    """The endpoint, if it is one of this survey's."""
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    return endpoint if endpoint is not None and endpoint.survey_id == survey_id else None


def add_endpoint(survey_id: int, url: str, actor: str) -> WebhookEndpoint:
    """Store a new endpoint with a new secret; addresses.Refused or TooMany otherwise."""
    config = current_app.config
    checked = check_url(url, Allowed.of(config))
    if len(endpoints_of(survey_id)) >= config["WEBHOOK_ENDPOINTS_PER_SURVEY"]:
        raise TooMany(config["WEBHOOK_ENDPOINTS_PER_SURVEY"])
    endpoint = WebhookEndpoint(
        survey_id=survey_id, url=checked, secret=new_secret(), created_by=actor
    )
    db.session.add(endpoint)
    db.session.commit()
    return endpoint


def new_endpoint_secret(endpoint: WebhookEndpoint) -> str:
    """Replace the secret (one that leaked): deliveries from now on are signed with it."""
    endpoint.secret = new_secret()
    db.session.commit()
    return endpoint.secret


def remove_endpoint(endpoint: WebhookEndpoint) -> None:
    """The endpoint and its deliveries, sent or not."""
    _delete_where(WebhookEndpoint.id == endpoint.id)
    db.session.commit()


def delete_of_survey(survey_id: int) -> None:
    """Every endpoint of the survey with its deliveries and their attempts, in the
    caller's transaction (deleting a survey): SQLite would not cascade."""
    _delete_where(WebhookEndpoint.survey_id == survey_id)


def _delete_where(condition: sa.ColumnElement[bool]) -> None:
    endpoint_ids = sa.select(WebhookEndpoint.id).where(condition).scalar_subquery()
    delivery_ids = (
        sa.select(WebhookDelivery.id)
        .where(WebhookDelivery.endpoint_id.in_(endpoint_ids))
        .scalar_subquery()
    )
    db.session.execute(
        sa.delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(delivery_ids))
    )
    db.session.execute(
        sa.delete(WebhookDelivery).where(WebhookDelivery.endpoint_id.in_(endpoint_ids))
    )
    db.session.execute(sa.delete(WebhookEndpoint).where(condition))
