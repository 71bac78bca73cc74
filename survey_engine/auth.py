"""Staff accounts: passwords, lockout after failed logins, API tokens, who sees what.

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

from survey_engine.extensions import db
from survey_engine.models import (
    ApiToken,
    AuditEvent,
    ExportFile,
    Role,
    Survey,
    SurveyShare,
    User,
)

MIN_PASSWORD_LENGTH = 10
FREE_FAILURES = 5  # wrong passwords in a row before the account waits
MAX_LOCK_MINUTES = 30
TOKEN_PREFIX = "se_"

_hasher = PasswordHasher()
# Verified against when the email is unknown, so that answer takes as long as a wrong one.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """A clear message for the person at the command line."""


def normalize_email(email: str) -> str:
    return email.strip().lower()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def find_user(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == normalize_email(email)))


def create_user(email: str, password: str, role: str) -> User:
    email = normalize_email(email)
    local, _, domain = email.partition("@")
    if not local or "." not in domain or len(email) > 254 or any(c.isspace() for c in email):
        raise AccountError(f"not an email address: {email!r}")
    if role not in Role.ALL:
        raise AccountError(f"role must be one of {', '.join(Role.ALL)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if find_user(email) is not None:
        raise AccountError(f"an account for {email} already exists")
    user = User(email=email, password_hash=hash_password(password), role=role,
                failed_logins=0)
    db.session.add(user)
    db.session.commit()
    return user


def set_role(user: User, role: str) -> None:
    if role not in Role.ALL:
        raise AccountError(f"role must be one of {', '.join(Role.ALL)}")
    user.role = role
    db.session.commit()


def set_password(user: User, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    user.password_hash = hash_password(password)
    db.session.commit()


def unlock(user: User) -> None:
    """Let the account sign in again at once, forgetting its wrong passwords."""
    user.failed_logins = 0
    user.locked_until = None
    db.session.commit()


def delete_user(user: User) -> None:
    """Remove the account with its shares and tokens; its audit entries and exports keep
    its email.

    Done row by row because SQLite does not enforce the foreign keys' ON DELETE, and a
    new account reusing the id must not inherit the old one's entries.
    """
    for model in (SurveyShare, ApiToken):
        db.session.execute(sa.delete(model).where(model.user_id == user.id))
    db.session.execute(sa.update(AuditEvent).where(AuditEvent.actor_id == user.id)
                       .values(actor_id=None))
    db.session.execute(sa.update(ExportFile).where(ExportFile.requested_by_id == user.id)
                       .values(requested_by_id=None))
    db.session.delete(user)
    db.session.commit()


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
    locked_for: timedelta | None = None  # set when the account is waiting


def lock_duration(failures: int) -> timedelta | None:
    """1, 2, 4 … minutes from the FREE_FAILURES-th failure on, at most MAX_LOCK_MINUTES."""
    if failures < FREE_FAILURES:
        return None
    return timedelta(minutes=min(2 ** min(failures - FREE_FAILURES, 10), MAX_LOCK_MINUTES))


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes back; they were stored in UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def check_login(email: str, password: str, now: datetime | None = None) -> LoginResult:
    """The account for these credentials, counting failures per account.

    While an account waits, its password is not even checked, so guessing cannot go
    on; other accounts are not affected.
    """
    now = now or datetime.now(UTC)
    user = db.session.scalar(
        sa.select(User).where(User.email == normalize_email(email)).with_for_update())
    if user is None:
        try:
            _hasher.verify(_DUMMY_HASH, password)
        except VerificationError:
            pass
        return LoginResult()
    locked_until = _aware(user.locked_until)
    if locked_until and locked_until > now:
        db.session.rollback()
        return LoginResult(locked_for=locked_until - now)
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        user.failed_logins += 1
        wait = lock_duration(user.failed_logins)
        user.locked_until = now + wait if wait else None
        db.session.commit()
        return LoginResult(locked_for=wait)
    user.failed_logins = 0
    user.locked_until = None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    db.session.commit()
    return LoginResult(user=user)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def shown_prefix(token: str) -> str:
    """The start of a token kept in clear, to tell a person's tokens apart."""
    return token[:11]


def create_token(user: User) -> str:
    """A new token for `user`; the caller shows it once, only its hash is kept."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(24)  # 32 characters after the prefix
    db.session.add(ApiToken(user_id=user.id, token_hash=token_hash(token),
                            prefix=shown_prefix(token)))
    db.session.commit()
    return token


def user_for_token(token: str) -> User | None:
    """The owner of a valid, unrevoked token; notes when it was last used."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return None
    row = db.session.scalar(
        sa.select(ApiToken).where(ApiToken.token_hash == token_hash(token),
                                  ApiToken.revoked_at.is_(None)))
    if row is None:
        return None
    row.last_used_at = datetime.now(UTC)
    db.session.commit()
    return row.user


def revoke_token(prefix_or_token: str) -> list[ApiToken]:
    """Revoke tokens by their shown prefix or the whole token; returns them."""
    rows = db.session.scalars(sa.select(ApiToken).where(
        ApiToken.revoked_at.is_(None),
        sa.or_(ApiToken.prefix == prefix_or_token,
               ApiToken.token_hash == token_hash(prefix_or_token)))).all()
    for row in rows:
        row.revoked_at = datetime.now(UTC)
    db.session.commit()
    return list(rows)


def visible_surveys(user: User) -> sa.Select:
    """The surveys `user` may see: all for an admin, the shared ones for anyone else."""
    statement = sa.select(Survey).order_by(Survey.slug)
    if user.role != Role.ADMIN:
        statement = statement.join(SurveyShare, SurveyShare.survey_id == Survey.id).where(
            SurveyShare.user_id == user.id)
    return statement


def may_see(user: User, survey: Survey) -> bool:
    return user.role == Role.ADMIN or db.session.get(SurveyShare, (survey.id, user.id)) is not None
