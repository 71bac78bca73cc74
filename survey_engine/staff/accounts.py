"""Staff accounts: passwords, sign-in throttling, API tokens, who sees what.

Passwords are hashed with Argon2id (argon2-cffi): memory-hard, so a stolen table
costs an attacker memory as well as time for every guess, unlike plain SHA or
PBKDF2. API tokens are long random strings, so a fast SHA-256 is enough for them.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from survey_engine.definition.problems import N_, Refusal
from survey_engine.extensions import db
from survey_engine.localtime import aware
from survey_engine.models import (
    ApiToken,
    AuditEvent,
    ExportFile,
    LoginThrottle,
    Role,
    StaffSession,
    Survey,
    SurveyShare,
    User,
    insert_for,
)
from survey_engine.staff.sessions import end_sessions, open_sessions, request_network, token_hash
from survey_engine.untrusted import bad_character_at

MIN_PASSWORD_LENGTH = 10
FREE_FAILURES = 5  # wrong passwords for one email from one network before it waits
MAX_LOCK_MINUTES = 30
# A network that stayed quiet this long after its last wrong password starts afresh.
FORGET_FAILURES_AFTER = timedelta(hours=24)
# How much each role may do: a change to a lower rank ends the account's sessions.
ROLE_RANK = {Role.ANALYST: 1, Role.EDITOR: 2, Role.ADMIN: 3}
TOKEN_PREFIX = "se_"

_hasher = PasswordHasher()
# Verified against when the email is unknown, so that answer takes as long as a wrong one.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(Refusal):
    """A clear message for the person at the command line (in English) or on the admin
    pages (in the page's language, from its `problem`)."""


def normalize_email(email: str) -> str:
    """The one form of an email every lookup, throttle key and audit line uses."""
    return email.strip().lower()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def find_user(email: str) -> User | None:
    """The account of `email`; None for text no account holds (NUL, which PostgreSQL
    cannot even compare, a lone surrogate ...)."""
    email = normalize_email(email)
    if bad_character_at(email) is not None:
        return None
    return db.session.scalar(sa.select(User).where(User.email == email))


def create_user(email: str, password: str, role: str) -> User:
    email = normalize_email(email)
    local, _, domain = email.partition("@")
    if (
        not local
        or "." not in domain
        or len(email) > 254
        or any(c.isspace() for c in email)
        or bad_character_at(email) is not None
    ):
        raise AccountError(N_("not an email address: %(email)s"), email=repr(email))
    if role not in Role.ALL:
        raise AccountError(N_("role must be one of %(roles)s"), roles=", ".join(Role.ALL))
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(
            N_("the password must have at least %(count)s characters"), count=MIN_PASSWORD_LENGTH
        )
    if find_user(email) is not None:
        raise AccountError(N_("an account for %(email)s already exists"), email=email)
    user = User(email=email, password_hash=hash_password(password), role=role, failed_logins=0)
    db.session.add(user)
    db.session.commit()
    return user


def set_role(user: User, role: str) -> int:
    """Change the role; a demotion ends every session of the account (signed in
    again, it gets pages for the new role only). Returns the sessions ended."""
    if role not in Role.ALL:
        raise AccountError(N_("role must be one of %(roles)s"), roles=", ".join(Role.ALL))
    ended = 0
    if ROLE_RANK[role] < ROLE_RANK.get(user.role, 0):
        ended = end_sessions(user, "role_changed")
    user.role = role
    db.session.commit()
    return ended


def set_password(
    user: User, password: str, reason: str = "password_reset", keep_token: str | None = None
) -> int:
    """A new password; every session of the account ends but the one of `keep_token`
    (the person changing their own). Returns the sessions ended."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(
            N_("the password must have at least %(count)s characters"), count=MIN_PASSWORD_LENGTH
        )
    user.password_hash = hash_password(password)
    ended = end_sessions(user, reason, keep_token=keep_token)
    db.session.commit()
    return ended


def unlock(user: User) -> None:
    """Let the account sign in again at once from every network, forgetting its wrong
    passwords."""
    user.failed_logins = 0
    db.session.execute(
        sa.delete(LoginThrottle).where(LoginThrottle.account_key == account_key(user.email))
    )
    db.session.commit()


def delete_user(user: User) -> int:
    """Remove the account with its sessions, shares and tokens; its audit entries and
    exports keep its email. Returns the sessions that were still open.

    Done row by row because SQLite does not enforce the foreign keys' ON DELETE, and a
    new account reusing the id must not inherit the old one's entries.
    """
    ended = len(open_sessions(user))
    for model in (SurveyShare, ApiToken, StaffSession):
        db.session.execute(sa.delete(model).where(model.user_id == user.id))
    db.session.execute(
        sa.update(AuditEvent).where(AuditEvent.actor_id == user.id).values(actor_id=None)
    )
    db.session.execute(
        sa.update(ExportFile)
        .where(ExportFile.requested_by_id == user.id)
        .values(requested_by_id=None)
    )
    db.session.delete(user)
    db.session.commit()
    return ended


def share_survey(user: User, survey: Survey) -> bool:
    """Returns whether the survey was newly shared (False: it already was)."""
    if db.session.get(SurveyShare, (survey.id, user.id)) is not None:
        return False
    db.session.add(SurveyShare(survey_id=survey.id, user_id=user.id))
    db.session.commit()
    return True


def unshare_survey(user: User, survey: Survey) -> bool:
    """Returns whether there was a share to remove."""
    share = db.session.get(SurveyShare, (survey.id, user.id))
    if share is None:
        return False
    db.session.delete(share)
    db.session.commit()
    return True


@dataclass(frozen=True)
class LoginResult:
    user: User | None = None
    locked_for: timedelta | None = None  # set while this email waits on this network


def lock_duration(locks: int) -> timedelta:
    """The n-th wait of one email on one network: 1, 2, 4 … minutes, at most
    MAX_LOCK_MINUTES."""
    return timedelta(minutes=min(2 ** min(max(locks, 1) - 1, 10), MAX_LOCK_MINUTES))


def account_key(email: str) -> str:
    """What throttles are kept under: the email's SHA-256, for any email typed, so
    unknown ones are counted like accounts and their text is not stored."""
    return hashlib.sha256(normalize_email(email).encode()).hexdigest()


def waiting_networks(user: User, now: datetime | None = None) -> list[LoginThrottle]:
    """The networks that must wait before trying `user`'s password again."""
    now = now or datetime.now(UTC)
    return list(
        db.session.scalars(
            sa.select(LoginThrottle)
            .where(
                LoginThrottle.account_key == account_key(user.email),
                LoginThrottle.locked_until > now,
            )
            .order_by(LoginThrottle.locked_until.desc())
        )
    )


def check_login(
    email: str, password: str, now: datetime | None = None, network: str | None = None
) -> LoginResult:
    """The account for these credentials, counting wrong passwords per email *and*
    source network.

    After FREE_FAILURES wrong passwords an email waits on that network only, 1, 2, 4 …
    minutes (the count starts again after each wait; the waits grow until a quiet day
    or a sign-in from there): the right password from any other network still works,
    so a stranger cannot lock a colleague out. While it waits, the password is not
    even checked. Unknown emails go through the same steps (a dummy hash, a throttle
    row), so no answer, its status or its time tells whether an account exists.
    """
    now = now or datetime.now(UTC)
    email = normalize_email(email)
    network = request_network() if network is None else network
    key = account_key(email)
    where = (LoginThrottle.account_key == key, LoginThrottle.network == network)
    locked_for = _wait_left(
        db.session.scalar(
            sa.select(LoginThrottle).where(*where).execution_options(populate_existing=True)
        ),
        now,
        reset=False,
    )
    if locked_for:
        db.session.rollback()
        return LoginResult(locked_for=locked_for)
    # The slow hash runs outside any write transaction (on SQLite one would hold up
    # every submission meanwhile).
    user = find_user(email)
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
        right = user is not None
    except (VerificationError, InvalidHashError):
        right = False
    if right and user is not None:
        db.session.execute(
            sa.delete(LoginThrottle).where(*where),  # trusted again
            execution_options={"synchronize_session": False},
        )
        user.failed_logins = 0
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        db.session.commit()
        return LoginResult(user=user)
    return LoginResult(locked_for=_count_failure(key, network, user, now))


def _count_failure(key: str, network: str, user: User | None, now: datetime) -> timedelta | None:
    """One more wrong password for this email on this network (and its account, if
    any); the wait it starts, if it starts one. Committed."""
    where = (LoginThrottle.account_key == key, LoginThrottle.network == network)
    # Counted in the row, locked (FOR UPDATE on PostgreSQL, SQLite's write lock), so
    # simultaneous guesses are counted one after another.
    db.session.execute(
        insert_for(LoginThrottle.__table__)
        .values(account_key=key, network=network, failures=0, locks=0)
        .on_conflict_do_nothing()
    )
    throttle = db.session.scalars(
        sa.select(LoginThrottle)
        .where(*where)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    locked_for = _wait_left(throttle, now)  # a guess sent at the same time set a wait
    if not locked_for:
        throttle.failures += 1
        throttle.last_failure_at = now
        if throttle.failures >= FREE_FAILURES:
            throttle.locks += 1
            locked_for = lock_duration(throttle.locks)
            throttle.locked_until = now + locked_for
    if user is not None:
        db.session.execute(
            sa.update(User).where(User.id == user.id).values(failed_logins=User.failed_logins + 1)
        )
    db.session.execute(
        sa.delete(LoginThrottle).where(LoginThrottle.last_failure_at < now - FORGET_FAILURES_AFTER),
        execution_options={"synchronize_session": False},
    )
    db.session.commit()
    return locked_for


def _wait_left(
    throttle: LoginThrottle | None, now: datetime, reset: bool = True
) -> timedelta | None:
    """How long this email must still wait on this network. With `reset`, the row's
    count starts again when its wait is over (the next wait is longer), and all of it
    after a quiet FORGET_FAILURES_AFTER."""
    if throttle is None:
        return None
    last_failure = aware(throttle.last_failure_at)
    if last_failure and last_failure + FORGET_FAILURES_AFTER <= now:
        if reset:
            throttle.failures, throttle.locks, throttle.locked_until = 0, 0, None
        return None
    locked_until = aware(throttle.locked_until)
    if locked_until and locked_until > now:
        return locked_until - now
    if locked_until and reset:
        throttle.failures, throttle.locked_until = 0, None
    return None


def shown_prefix(token: str) -> str:
    """The start of a token kept in clear, to tell a person's tokens apart."""
    return token[:11]


def create_token(user: User) -> str:
    """A new token for `user`; the caller shows it once, only its hash is kept."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(24)  # 32 characters after the prefix
    db.session.add(
        ApiToken(user_id=user.id, token_hash=token_hash(token), prefix=shown_prefix(token))
    )
    db.session.commit()
    return token


def user_for_token(token: str) -> User | None:
    """The owner of a valid, unrevoked token; notes when it was last used."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return None
    row = db.session.scalar(
        sa.select(ApiToken).where(
            ApiToken.token_hash == token_hash(token), ApiToken.revoked_at.is_(None)
        )
    )
    if row is None:
        return None
    row.last_used_at = datetime.now(UTC)
    db.session.commit()
    return row.user


def revoke_token(prefix_or_token: str) -> list[ApiToken]:
    """Revoke tokens by their shown prefix or the whole token; returns them."""
    rows = db.session.scalars(
        sa.select(ApiToken).where(
            ApiToken.revoked_at.is_(None),
            sa.or_(
                ApiToken.prefix == prefix_or_token,
                ApiToken.token_hash == token_hash(prefix_or_token),
            ),
        )
    ).all()
    for row in rows:
        row.revoked_at = datetime.now(UTC)
    db.session.commit()
    return list(rows)


def visible_surveys(user: User) -> sa.Select:
    """The surveys `user` may see: all for an admin, the shared ones for anyone else."""
    statement = sa.select(Survey).order_by(Survey.slug)
    if user.role != Role.ADMIN:
        statement = statement.join(SurveyShare, SurveyShare.survey_id == Survey.id).where(
            SurveyShare.user_id == user.id
        )
    return statement


def may_see(user: User, survey: Survey) -> bool:
    return user.role == Role.ADMIN or db.session.get(SurveyShare, (survey.id, user.id)) is not None
