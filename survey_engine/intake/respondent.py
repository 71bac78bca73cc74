"""Who is answering, as far as a request can tell without knowing the person.

- a device token: a random token the browser keeps (cookie, and the page's copy in
  localStorage), signed so that a script cannot mint its own; only its keyed hash is
  stored, as device_hash and as the one-per-device claim;
- a network key: the HMAC of the client's IPv4 /24 or IPv6 /64 with a random secret of
  the day (daily_secrets), comparable within a day; the secrets of earlier days are
  deleted, after which no key can be traced back to an address;
- started_at: the signed time the page was first shown (the hidden field `started`).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from flask import current_app
from itsdangerous import (
    BadSignature,
    SignatureExpired,
    Signer,
    TimestampSigner,
    URLSafeSerializer,
)

from survey_engine.extensions import db
from survey_engine.models import DailySecret, insert_for

DEVICE_COOKIE = "se_device"
DEVICE_TOKEN_MAX = 200  # characters of a signed token we read at all
STARTED_MAX_AGE = timedelta(days=7)  # an older first view counts as unknown
SECRETS_KEPT_DAYS = 2  # today's and yesterday's: a key is comparable within a day


@dataclass(frozen=True)
class Respondent:
    """What the request says about who answers; handed to intake.submit()."""

    device_hash: str | None = None
    network_key: str | None = None
    started_at: datetime | None = None
    paradata: dict = field(default_factory=dict)  # the other PARADATA_COLUMNS
    flags: tuple[dict, ...] = ()  # found by the web tier (e.g. over_limit)
    access_code: str | None = None  # closed mode: the code as typed or from the link


def _signing(kind: str, make: Callable[[str], Any]) -> Any:
    """One itsdangerous serializer or signer per app and SECRET_KEY: building one costs
    more than using it (the serializer tries out its JSON module each time), and every
    submission checks a device token and a first-view time."""
    # One proxy lookup, not two (Flask types the proxy as the app itself).
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    secret = app.config["SECRET_KEY"]
    cache = app.extensions.setdefault("respondent_signing", {})
    made = cache.get((kind, secret))
    if made is None:
        made = cache[(kind, secret)] = make(secret)
    return made


@dataclass(frozen=True)
class _DeviceTokens:
    """The device token's serializer, with its signer made once: the serializer's own
    loads() makes a new signer on every call, and every submission reads a token."""

    serializer: URLSafeSerializer
    signer: Signer
    key: bytes  # of the device hash


def _device_tokens() -> _DeviceTokens:
    def make(secret: str) -> _DeviceTokens:
        serializer = URLSafeSerializer(secret, salt="device-token")
        return _DeviceTokens(serializer, serializer.make_signer(), secret.encode())

    return _signing("device", make)


def new_device_token() -> str:
    return _device_tokens().serializer.dumps(secrets.token_hex(16))


def device_hash(signed_token: str | None) -> str | None:
    """The keyed hash of a genuine token; None for none, a forged or a malformed one."""
    if not signed_token or len(signed_token) > DEVICE_TOKEN_MAX or not signed_token.isascii():
        return None
    tokens = _device_tokens()
    try:
        token = tokens.serializer.load_payload(tokens.signer.unsign(signed_token))
    except BadSignature:
        return None
    if not isinstance(token, str):
        return None
    return hmac.new(tokens.key, b"device:" + token.encode(), hashlib.sha256).hexdigest()


def _started_signer() -> TimestampSigner:
    return _signing("started", lambda secret: TimestampSigner(secret, salt="started-at"))


def started_token() -> str:
    """The page's first view, signed: the hidden field `started`."""
    return _started_signer().sign("s").decode()


def started_at(token: str | None) -> datetime | None:
    if not token or len(token) > 100 or not token.isascii():
        return None
    try:
        _, when = _started_signer().unsign(
            token, max_age=int(STARTED_MAX_AGE.total_seconds()), return_timestamp=True
        )
    except (BadSignature, SignatureExpired):
        return None
    return when.astimezone(UTC)


@lru_cache(maxsize=4096)
def network_prefix(address: str | None) -> str | None:
    """The IPv4 /24 or IPv6 /64 an address belongs to (an IPv4-mapped IPv6 address
    counts as IPv4); None for anything that is not an address. Remembered for the last
    few thousand addresses: parsing one costs more than the rest of the network key,
    and a campaign's citizens come back through the same carrier-grade NAT addresses."""
    try:
        ip = ipaddress.ip_address((address or "").split("%")[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    bits = 24 if isinstance(ip, ipaddress.IPv4Address) else 64
    return str(ipaddress.ip_network(f"{ip}/{bits}", strict=False))


def network_key(address: str | None, today: date | None = None) -> str | None:
    """None too while the database cannot give the day's secret: the submission is
    still taken (Redis holds it), only without its network key."""
    prefix = network_prefix(address)
    if prefix is None:
        return None
    secret = day_secret(today or datetime.now(UTC).date())
    if secret is None:
        return None
    return hmac.new(secret.encode(), prefix.encode(), hashlib.sha256).hexdigest()


def day_secret(day: date) -> str | None:
    """The day's random secret, made by whichever process asks first (all agree: the
    row's primary key), kept in this process for the day. None while the database
    cannot give it: asked again only after SURVEY_CACHE_SECONDS, as catalog.py does."""
    cache = current_app.extensions.setdefault("day_secrets", {})
    known = cache.get(day)
    if known is not None:
        return known
    failed_at = cache.get("failed_at")
    if failed_at and time.monotonic() - failed_at < current_app.config["SURVEY_CACHE_SECONDS"]:
        return None
    table = DailySecret.__table__
    try:
        with db.engine.begin() as conn:
            conn.execute(
                insert_for(table).on_conflict_do_nothing(index_elements=["day"]),
                {"day": day, "secret": secrets.token_hex(32)},
            )
            # Without workers (embedded mode) nothing else would delete old secrets.
            conn.execute(sa.delete(DailySecret).where(DailySecret.day < _oldest_kept(day)))
            secret = conn.execute(sa.select(table.c.secret).where(table.c.day == day)).scalar_one()
    except sa.exc.SQLAlchemyError:
        cache["failed_at"] = time.monotonic()
        return None
    # Only one day is ever needed at a time. A new dict, not the old one emptied: the
    # web process's other threads may be reading it.
    current_app.extensions["day_secrets"] = {day: secret}
    return secret


def _oldest_kept(today: date) -> date:
    return today - timedelta(days=SECRETS_KEPT_DAYS - 1)


def forget_old_secrets(today: date | None = None) -> int:
    """Delete the secrets of days before yesterday; returns how many went. (Also done
    whenever a process first asks for a day's secret: day_secret.)"""
    today = today or datetime.now(UTC).date()
    with db.engine.begin() as conn:
        result = conn.execute(sa.delete(DailySecret).where(DailySecret.day < _oldest_kept(today)))
    return result.rowcount
