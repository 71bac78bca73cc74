"""/metrics: the submit path's counters (intake/counters.py) for a scraper.

/metrics names every survey with its counts, so it is not public: it answers a
scraper that shows METRICS_TOKEN as a bearer token, or one connecting from a network
of METRICS_ALLOW_NETWORKS (loopback by default). A request that came through a
reverse proxy the app does not trust (TRUSTED_PROXIES unset) carries forwarded
headers; its real client is unknown, so its address proves nothing and only the
token lets it in.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Blueprint, Flask, Response, abort, current_app, request

from survey_engine.extensions import db
from survey_engine.intake.admission import CHALLENGES, LIMITED, OVER_LIMIT_STORED
from survey_engine.intake.buffer import (
    current_buffer,
)
from survey_engine.intake.counters import OUTCOMES, local_counts, queue_state
from survey_engine.models import Survey, Tally
from survey_engine.redis_connections import REDIS_ERRORS
from survey_engine.replica import replica_of
from survey_engine.webhooks.delivery_log import outbox_state

bp = Blueprint("metrics", __name__)

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
FORWARDED_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded")


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """ "127.0.0.0/8, ::1" as networks; a clear ValueError names a bad entry."""
    networks = []
    for entry in filter(None, (part.strip() for part in text.split(","))):
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"METRICS_ALLOW_NETWORKS: not a network: {entry!r}") from None
    return tuple(networks)


def init_app(app: Flask) -> None:
    """Read the allowed networks once; a bad entry stops the app from starting."""
    app.extensions["metrics_networks"] = parse_networks(app.config["METRICS_ALLOW_NETWORKS"])
    app.register_blueprint(bp)


def scraper_allowed() -> bool:
    """A bearer METRICS_TOKEN, or a direct connection from an allowed network."""
    token = current_app.config.get("METRICS_TOKEN")
    sent = request.headers.get("Authorization", "")
    if (
        token
        and sent.startswith("Bearer ")
        and hmac.compare_digest(sent[len("Bearer ") :].strip().encode(), token.encode())
    ):
        return True
    if not current_app.config.get("TRUSTED_PROXIES") and any(
        header in request.headers for header in FORWARDED_HEADERS
    ):
        return False
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped  # a dual-stack socket's 127.0.0.1
    return any(address in network for network in current_app.extensions["metrics_networks"])


@bp.get("/metrics")
def metrics() -> Response:
    if not scraper_allowed():
        abort(
            Response(
                "/metrics needs the METRICS_TOKEN bearer token or an address of "
                "METRICS_ALLOW_NETWORKS.\n",
                status=401,
                mimetype="text/plain",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        )
    slugs, stored, database_up = _database_figures()
    try:
        state = queue_state()
        redis_up = 1
    except REDIS_ERRORS:
        state, redis_up = {"surveys": {}}, 0
    lines = _survey_lines(slugs, stored, state.get("surveys", {}))
    lines += _family("up", "gauge", "Whether this web process reaches its database and Redis.")
    lines.append(f'survey_engine_up{{component="database"}} {database_up}')
    if current_buffer() is not None:
        lines.append(f'survey_engine_up{{component="redis"}} {redis_up}')
    lines += _webhook_lines()
    replica = replica_of(current_app)
    if replica is not None:
        lines += _family(
            "replica_fallbacks_total",
            "counter",
            "Scans (dashboard, exports) this process read from the primary because the "
            "read replica could not be reached.",
        )
        lines.append(f"survey_engine_replica_fallbacks_total {replica.fallbacks}")
    return Response("\n".join(lines) + "\n", mimetype="text/plain; version=0.0.4")


def _family(name: str, kind: str, text: str) -> list[str]:
    """The HELP and TYPE lines that open one metric family."""
    return [f"# HELP survey_engine_{name} {text}", f"# TYPE survey_engine_{name} {kind}"]


def _webhook_lines() -> list[str]:
    """The webhooks' outbox: deliveries by status, and how long the oldest waiting one
    has waited (a receiver down for hours shows here before anyone complains)."""
    try:
        state = outbox_state()
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        return []
    lines = _family(
        "webhook_deliveries",
        "gauge",
        "Webhook deliveries in the outbox by status (delivered ones until they are forgotten).",
    )
    lines += [
        f'survey_engine_webhook_deliveries{{status="{status}"}} {count}'
        for status, count in state.by_status.items()
    ]
    lines += _family(
        "webhook_oldest_pending_seconds",
        "gauge",
        "Age of the oldest webhook delivery still waiting to be delivered (0 when none).",
    )
    age = (
        (datetime.now(UTC) - state.oldest_pending).total_seconds()
        if state.oldest_pending is not None
        else 0.0
    )
    lines.append(f"survey_engine_webhook_oldest_pending_seconds {max(age, 0.0):.1f}")
    return lines


def _database_figures() -> tuple[dict[int, str], dict[int, int], int]:
    """Each survey's slug and stored responses (from the tallies), and 1 if the database
    answered; a database that cannot be reached gives nothing and 0, never a 500."""
    try:
        slugs = dict(db.session.execute(sa.select(Survey.id, Survey.slug)).all())
        stored = dict(
            db.session.execute(
                sa.select(Tally.survey_id, sa.func.sum(Tally.count))
                .where(Tally.question == "", Tally.choice == "")
                .group_by(Tally.survey_id)
            ).all()
        )
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        return {}, {}, 0
    return slugs, stored, 1


def _survey_lines(
    slugs: dict[int, str], stored: dict[int, int], buffered: dict[int, dict]
) -> list[str]:
    """The per-survey families: this process's counters with the buffer's, the stored
    responses, and the buffer's backlog, oldest pending age and dead letters."""

    def label(survey_id: int) -> str:
        return f'survey="{slugs.get(survey_id, survey_id)}"'

    counters: Counter[tuple[int, str]] = Counter(local_counts)
    for survey_id, survey in buffered.items():
        for outcome, value in survey["counters"].items():
            counters[(survey_id, outcome)] += value
    lines = _family(
        "submissions_total",
        "counter",
        "Submissions by outcome: accepted, duplicates, conflicts, rejected "
        "(invalid), stored_directly (Redis is configured but could not take "
        "them; in inline mode every submission is stored directly and counted "
        "as accepted).",
    )
    for (survey_id, outcome), value in sorted(counters.items()):
        if outcome in OUTCOMES:
            lines.append(
                f'survey_engine_submissions_total{{{label(survey_id)},outcome="{outcome}"}} {value}'
            )
    lines += _family("persisted_total", "counter", "Submissions stored by the drain workers.")
    for (survey_id, outcome), value in sorted(counters.items()):
        if outcome == "persisted":
            lines.append(f"survey_engine_persisted_total{{{label(survey_id)}}} {value}")
    lines += _breaker_lines(counters, label)
    lines += _flag_lines(counters, label)
    lines += _family("responses", "gauge", "Responses stored in the database (from the tallies).")
    for survey_id, value in sorted(stored.items()):
        lines.append(f"survey_engine_responses{{{label(survey_id)}}} {value}")
    for name, text in (
        ("backlog", "Submissions buffered in Redis, not yet stored."),
        ("oldest_pending_seconds", "Age of the oldest buffered submission."),
        ("dead_letters", "Submissions that could not be stored."),
    ):
        lines += _family(name, "gauge", text)
        for survey_id, survey in sorted(buffered.items()):
            lines.append(f"survey_engine_{name}{{{label(survey_id)}}} {survey[name]}")
    return lines


def _breaker_lines(counters: Counter[tuple[int, str]], label: Callable[[int], str]) -> list[str]:
    """The circuit breakers (intake/admission.py): submissions over a limit by scope,
    proof-of-work challenges, and submissions stored with the over_limit flag."""
    lines = _family(
        "limited_total",
        "counter",
        "Submissions over a circuit breaker's limit, by the limit (survey, network, device).",
    )
    for (survey_id, name), value in sorted(counters.items()):
        if name in LIMITED:
            which = name.removeprefix("limited_")
            lines.append(
                f'survey_engine_limited_total{{{label(survey_id)},which="{which}"}} {value}'
            )
    lines += _family(
        "challenges_total",
        "counter",
        "Proof-of-work challenges issued to pages over a limit, solutions accepted (solved) "
        "and refused (wrong, used or expired).",
    )
    for (survey_id, name), value in sorted(counters.items()):
        if name in CHALLENGES:
            outcome = name.removeprefix("challenges_")
            lines.append(
                f'survey_engine_challenges_total{{{label(survey_id)},outcome="{outcome}"}} {value}'
            )
    lines += _family(
        "over_limit_stored_total",
        "counter",
        "Submissions over a limit sent without the page's script: stored, flagged over_limit.",
    )
    for (survey_id, name), value in sorted(counters.items()):
        if name == OVER_LIMIT_STORED:
            lines.append(f"survey_engine_over_limit_stored_total{{{label(survey_id)}}} {value}")
    return lines


def _flag_lines(counters: Counter[tuple[int, str]], label: Callable[[int], str]) -> list[str]:
    """Quality flags given (intake/quality.py), counted as `flag:<name>`."""
    lines = _family(
        "flagged_total",
        "counter",
        "Responses given each quality flag: when stored, or later (the first of a "
        "repeated set); the web tier's over_limit and no_device included.",
    )
    for (survey_id, name), value in sorted(counters.items()):
        if name.startswith("flag:"):
            flag = name.removeprefix("flag:")
            lines.append(f'survey_engine_flagged_total{{{label(survey_id)},flag="{flag}"}} {value}')
    return lines
