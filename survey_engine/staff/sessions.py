"""Server-side staff sessions: what a signed-in browser's cookie names.

The cookie (Flask's signed session) holds a random token, and the database holds its
SHA-256 in staff_sessions. A token is never reused and means nothing once its row is
ended, so:

- a deleted account's cookie cannot sign in as the next account, even one that gets
  the same user id (SQLite used to hand ids out again);
- sign-out, a password change (the other sessions), an admin's reset, a demotion and
  a deletion (all of them) end sessions on the server: a copied cookie stops working;
- a session left alone for STAFF_SESSION_IDLE_MINUTES, or older than
  STAFF_SESSION_MAX_HOURS, is over.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import secrets
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import current_app, g, has_request_context, request, session
from sqlalchemy.orm import joinedload

from survey_engine.extensions import db
from survey_engine.localtime import aware
from survey_engine.models import StaffSession, User

# last_seen_at is written at most this often per session: not one UPDATE per page.
TOUCH_SECONDS = 60
# Ended and expired rows are kept this long (the sessions page and the audit log do not
# need them; an investigation might), then deleted when their account next signs in.
KEEP_ENDED_DAYS = 30


def token_hash(token: str) -> str:
    """Session cookies and API tokens are long random strings: a fast SHA-256 of
    them is enough, and only that is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def source_network(address: str | None) -> str:
    """The network a request comes from, as throttles and the sessions page count it:
    an IPv4 address itself, an IPv6 address's /64 (what one subscriber is given)."""
    try:
        ip = ipaddress.ip_address((address or "").split("%")[0])
    except ValueError:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if isinstance(ip, ipaddress.IPv4Address):
        return str(ip)
    return str(ipaddress.ip_network(f"{ip}/64", strict=False))


def request_network() -> str:
    """The requesting client's network (its address as ProxyFix leaves it)."""
    return source_network(request.remote_addr if has_request_context() else None)


_BROWSERS = (
    ("Edg", "Edge"),
    ("OPR", "Opera"),
    ("coc_coc_browser", "Cốc Cốc"),
    ("SamsungBrowser", "Samsung Internet"),
    ("Firefox", "Firefox"),
    ("FxiOS", "Firefox"),
    ("CriOS", "Chrome"),
    ("Chrome", "Chrome"),
    ("Safari", "Safari"),
)
_SYSTEMS = (
    ("Windows", "Windows"),
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("CrOS", "ChromeOS"),
    ("Mac OS X", "macOS"),
    ("Macintosh", "macOS"),
    ("Linux", "Linux"),
)


def device_summary(user_agent: str | None) -> str:
    """ "Firefox · Windows" from a User-Agent header: enough to tell one's own devices
    apart, without keeping the whole string (a fingerprint)."""
    agent = (user_agent or "")[:512]
    browser = next(
        (name for token, name in _BROWSERS if re.search(rf"\b{re.escape(token)}\b", agent)), ""
    )
    system = next((name for token, name in _SYSTEMS if token in agent), "")
    return " · ".join(part for part in (browser, system) if part)


def _limits() -> tuple[timedelta, timedelta]:
    config = current_app.config
    return (
        timedelta(minutes=float(config["STAFF_SESSION_IDLE_MINUTES"])),
        timedelta(hours=float(config["STAFF_SESSION_MAX_HOURS"])),
    )


def start_session(user: User, now: datetime | None = None) -> str:
    """A new session for `user`; returns its token, and sets it on `user` so that
    Flask-Login's login_user() stores the token (User.get_id) and not the user id."""
    now = now or datetime.now(UTC)
    token = secrets.token_urlsafe(32)
    agent = request.headers.get("User-Agent") if has_request_context() else None
    db.session.add(
        StaffSession(
            token_hash=token_hash(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            device=device_summary(agent),
            network=request_network(),
        )
    )
    keep = timedelta(days=KEEP_ENDED_DAYS)
    db.session.execute(
        sa.delete(StaffSession).where(
            StaffSession.user_id == user.id,
            sa.or_(
                StaffSession.ended_at < now - keep,
                StaffSession.last_seen_at < now - _limits()[0] - keep,
            ),
        ),
        execution_options={"synchronize_session": False},
    )
    db.session.commit()
    user.session_token = token
    return token


def _is_over(row: StaffSession, now: datetime) -> bool:
    idle, longest = _limits()
    return (
        row.ended_at is not None
        or aware(row.last_seen_at) + idle <= now
        or aware(row.created_at) + longest <= now
    )


def user_for_session(token: str, now: datetime | None = None) -> User | None:
    """Flask-Login's user_loader: the account of an open session, else None."""
    if not token or len(token) > 100:
        return None
    now = now or datetime.now(UTC)
    row = db.session.scalar(
        sa.select(StaffSession)
        .options(joinedload(StaffSession.user))
        .where(StaffSession.token_hash == token_hash(token))
    )
    if row is None or row.ended_at is not None:
        return None
    if _is_over(row, now):
        row.ended_at, row.end_reason = now, "expired"
        db.session.commit()
        return None
    user = row.user
    if aware(row.last_seen_at) + timedelta(seconds=TOUCH_SECONDS) <= now:
        row.last_seen_at = now
        db.session.commit()
    user.session_token = token
    return user


def current_token() -> str | None:
    """The token of the request's own session (what Flask-Login keeps in the cookie)."""
    token = session.get("_user_id") if has_request_context() else None
    return token if isinstance(token, str) else None


def clear_browser_session() -> None:
    """Empty this browser's Flask session, and forget the CSRF token Flask-WTF keeps in
    g for it: at sign-in (nothing planted before survives) and at sign-out."""
    session.clear()
    g.pop("csrf_token", None)


def current_session() -> StaffSession | None:
    """The row of the request's own session (open or not)."""
    token = current_token()
    if not token:
        return None
    return db.session.scalar(
        sa.select(StaffSession).where(StaffSession.token_hash == token_hash(token))
    )


def open_sessions(user: User, now: datetime | None = None) -> list[StaffSession]:
    """`user`'s sessions that still work, most recently used first."""
    now = now or datetime.now(UTC)
    idle, longest = _limits()
    return list(
        db.session.scalars(
            sa.select(StaffSession)
            .where(
                StaffSession.user_id == user.id,
                StaffSession.ended_at.is_(None),
                StaffSession.last_seen_at > now - idle,
                StaffSession.created_at > now - longest,
            )
            .order_by(StaffSession.last_seen_at.desc(), StaffSession.id.desc())
        )
    )


def end_session(row: StaffSession, reason: str) -> None:
    if row.ended_at is None:
        row.ended_at, row.end_reason = datetime.now(UTC), reason
        db.session.commit()


def end_sessions(user: User, reason: str, keep_token: str | None = None) -> int:
    """End every open session of `user` (but the one of `keep_token`); returns how many
    were open. The caller commits (with the change that caused it)."""
    kept = token_hash(keep_token) if keep_token else None
    # Counted among the open ones only, so the audit log says what really ended.
    counted = sum(1 for row in open_sessions(user) if row.token_hash != kept)
    statement = sa.update(StaffSession).where(
        StaffSession.user_id == user.id, StaffSession.ended_at.is_(None)
    )
    if kept:
        statement = statement.where(StaffSession.token_hash != kept)
    db.session.execute(statement.values(ended_at=datetime.now(UTC), end_reason=reason))
    return counted
