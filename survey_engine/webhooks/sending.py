"""Sending the outbox: the workers claim due deliveries, POST them signed, and record
each attempt; a failure is tried again after WEBHOOK_RETRY_BASE_SECONDS * 2**(n-1)
(at most WEBHOOK_RETRY_MAX_SECONDS, plus up to 10% jitter) until WEBHOOK_MAX_ATTEMPTS,
then the delivery is "failed" until staff replay it.

Claiming moves a row's next attempt a lease ahead (FOR UPDATE SKIP LOCKED on
PostgreSQL, so workers never take the same rows): a worker that dies while sending
leaves its rows due again when the lease ends, and another sends them (at least once).
Sending runs in a pool of WEBHOOK_CONCURRENCY threads, never in the drain's thread.
"""

from __future__ import annotations

import http.client
import logging
import random
import socket
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import Flask, current_app

from survey_engine.extensions import db
from survey_engine.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from survey_engine.webhooks.addresses import Allowed, Refused, parse, resolve
from survey_engine.webhooks.signing import (
    EVENT_HEADER,
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    signature,
)

log = logging.getLogger(__name__)
CLAIM = 50  # deliveries claimed per pass
ANSWER_READ = 4096  # bytes of a receiver's answer read (and dropped)
POLL_SECONDS = 1.0  # a sender with nothing due looks again after this


@dataclass(frozen=True)
class Outgoing:
    delivery_id: int
    url: str
    secret: str
    event: str
    event_id: str
    body: bytes
    attempts: int


@dataclass(frozen=True)
class Result:
    status_code: int | None
    error: str | None
    milliseconds: int

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to the address checked, whatever the name resolves to meanwhile."""

    def __init__(self, host: str, address: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, address: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def send(outgoing: Outgoing, timeout: float, allowed: Allowed) -> Result:
    """One attempt: POST the body, signed now; never raises. Each step (connect, send,
    the answer) waits at most `timeout` seconds; redirects are not followed."""
    started = time.monotonic()

    def result(code: int | None, error: str | None) -> Result:
        return Result(code, error, int((time.monotonic() - started) * 1000))

    try:
        parts = parse(outgoing.url)
        address, port = resolve(parts, allowed)
    except Refused as refused:
        return result(None, f"refused: {refused}"[:300])
    kind = _PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP
    connection = kind(parts.hostname or "", address, port, timeout)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "survey-engine-webhooks/1",
        EVENT_HEADER: outgoing.event,
        EVENT_ID_HEADER: outgoing.event_id,
        SIGNATURE_HEADER: signature(outgoing.secret, timestamp, outgoing.body),
    }
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    try:
        connection.request("POST", target, body=outgoing.body, headers=headers)
        answer = connection.getresponse()
        answer.read(ANSWER_READ)
        return result(answer.status, None)
    except TimeoutError:
        return result(None, "timed out")
    except ConnectionRefusedError:
        return result(None, "connection refused")
    except (OSError, http.client.HTTPException) as error:
        return result(None, f"{error.__class__.__name__}: {error}"[:300])
    finally:
        connection.close()


def retry_delay(attempts: int, config: dict) -> float:
    """Seconds before the next attempt after `attempts` failed ones."""
    base = config["WEBHOOK_RETRY_BASE_SECONDS"] * 2 ** min(attempts - 1, 30)
    return min(base, config["WEBHOOK_RETRY_MAX_SECONDS"]) * (1 + random.random() / 10)


def claim_due(limit: int = CLAIM) -> list[Outgoing]:
    """Take up to `limit` due deliveries for this worker, for the length of a lease."""
    config = current_app.config
    now = datetime.now(UTC)
    lease = timedelta(seconds=2 * config["WEBHOOK_TIMEOUT_SECONDS"] + 60)
    ids = list(
        db.session.scalars(
            sa.select(WebhookDelivery.id)
            .where(
                WebhookDelivery.status == DeliveryStatus.PENDING,
                WebhookDelivery.next_attempt_at <= now,
            )
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if not ids:
        db.session.rollback()
        return []
    db.session.execute(
        sa.update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(ids))
        .values(next_attempt_at=now + lease)
    )
    rows = db.session.execute(
        sa.select(
            WebhookDelivery.id,
            WebhookEndpoint.url,
            WebhookEndpoint.secret,
            WebhookDelivery.event,
            WebhookDelivery.event_id,
            WebhookDelivery.body,
            WebhookDelivery.attempts,
        )
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.id.in_(ids))
        .order_by(WebhookDelivery.id)
    ).all()
    db.session.commit()
    return [Outgoing(r[0], r[1], r[2], r[3], r[4], r[5].encode(), r[6]) for r in rows]


def record(outgoing: Outgoing, result: Result) -> None:
    """The attempt in the log, and the delivery's new state (the caller commits)."""
    config = current_app.config
    now = datetime.now(UTC)
    attempts = outgoing.attempts + 1
    values: dict = {
        "attempts": WebhookDelivery.attempts + 1,
        "last_status_code": result.status_code,
        "last_error": result.error,
    }
    if result.delivered:
        values.update(status=DeliveryStatus.DELIVERED, delivered_at=now, next_attempt_at=None)
    elif attempts >= config["WEBHOOK_MAX_ATTEMPTS"]:
        values.update(status=DeliveryStatus.FAILED, next_attempt_at=None)
    else:
        values["next_attempt_at"] = now + timedelta(seconds=retry_delay(attempts, config))
    db.session.add(
        WebhookAttempt(
            delivery_id=outgoing.delivery_id,
            at=now,
            status_code=result.status_code,
            error=result.error,
            milliseconds=result.milliseconds,
        )
    )
    # Only while still pending: a replay or a removal meanwhile wins.
    db.session.execute(
        sa.update(WebhookDelivery)
        .where(
            WebhookDelivery.id == outgoing.delivery_id,
            WebhookDelivery.status == DeliveryStatus.PENDING,
        )
        .values(**values)
    )


def replay(delivery: WebhookDelivery) -> None:
    """Send the delivery again (same body, same event id) as soon as a worker can."""
    delivery.status = DeliveryStatus.PENDING
    delivery.next_attempt_at = datetime.now(UTC)
    db.session.commit()


class Sender:
    """The workers' sending loop (workers/main.py runs it in a thread of its own)."""

    def __init__(self, app: Flask, poll: float = POLL_SECONDS) -> None:
        self.app = app
        self.poll = poll
        self.pool = ThreadPoolExecutor(
            max_workers=app.config["WEBHOOK_CONCURRENCY"], thread_name_prefix="webhook"
        )

    def send_due(self) -> int:
        """One pass: claim, send in the pool, record. Returns how many were sent."""
        config = self.app.config
        with self.app.app_context():
            try:
                due = claim_due()
            finally:
                db.session.remove()
        if not due:
            return 0
        timeout, allowed = config["WEBHOOK_TIMEOUT_SECONDS"], Allowed.of(config)
        results = list(self.pool.map(lambda o: send(o, timeout, allowed), due))
        with self.app.app_context():
            try:
                for outgoing, result in zip(due, results, strict=True):
                    record(outgoing, result)
                db.session.commit()  # one transaction per pass, not per delivery
            finally:
                db.session.remove()
        return len(due)

    def run(self, stop: threading.Event) -> None:
        """Send until `stop` is set; a failure (the database down) is logged, then retried."""
        try:
            while not stop.is_set():
                try:
                    sent = self.send_due()
                except Exception:
                    log.exception("sending webhooks failed; retrying in %.0fs", self.poll)
                    stop.wait(self.poll)
                    continue
                if not sent:
                    stop.wait(self.poll)
        finally:
            self.pool.shutdown(wait=False, cancel_futures=True)
