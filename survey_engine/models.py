"""Database models: a survey, its immutable published versions, and responses."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, QueryableAttribute, mapped_column, relationship

from survey_engine.extensions import db

if TYPE_CHECKING:
    # db.Model is made at run time (a declarative base with Flask-SQLAlchemy's bind and
    # table-name rules), so a type checker cannot see it; it reads the columns' Mapped[]
    # types through SQLAlchemy's own declarative base instead.
    from sqlalchemy.orm import DeclarativeBase as Model
else:
    Model = db.Model

# JSONB on PostgreSQL (indexable, compact); plain JSON text elsewhere.
JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
# SQLite only auto-increments a column declared exactly INTEGER.
BigID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


def insert_for(table: sa.FromClause) -> postgresql.Insert | sqlite.Insert:
    """INSERT with ON CONFLICT support, for whichever database is configured."""
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


ColumnLike = sa.ColumnElement[Any] | QueryableAttribute[Any]


def in_each_survey(
    survey_column: ColumnLike, column: ColumnLike, pairs: Sequence[tuple[int, Any]]
) -> sa.ColumnElement[bool]:
    """(survey_column, column) is one of `pairs`, written as a plain IN list per survey:
    PostgreSQL plans a row-value IN list of n pairs as n OR'ed index scans (19 ms to
    plan 250 pairs, against 0.4 ms; the drain's batches ask for hundreds)."""
    by_survey: dict[int, set] = {}
    for survey_id, value in pairs:
        by_survey.setdefault(survey_id, set()).add(value)
    return sa.or_(
        sa.false(),
        *(
            (survey_column == survey_id) & column.in_(sorted(values))
            for survey_id, values in by_survey.items()
        ),
    )


class SurveyStatus:
    DRAFT = "draft"
    PUBLISHED = "published"
    CLOSED = "closed"
    ARCHIVED = "archived"


class Survey(Model):
    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(64), unique=True)
    title: Mapped[dict | str] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(sa.String(16), default=SurveyStatus.DRAFT)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    # When it last stopped taking answers (closed or archived): paradata retention
    # counts from here.
    closed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # The newest response whose paradata the retention purge has erased: a later purge
    # reads only the responses above it, never the whole survey again.
    paradata_purged_upto: Mapped[int] = mapped_column(sa.BigInteger, default=0)

    versions: Mapped[list[SurveyVersion]] = relationship(
        back_populates="survey", order_by="SurveyVersion.number"
    )

    def published_version(self) -> SurveyVersion | None:
        """The newest published version: the one new responses are checked against."""
        return db.session.scalar(
            sa.select(SurveyVersion)
            .where(SurveyVersion.survey_id == self.id, SurveyVersion.published_at.is_not(None))
            .order_by(SurveyVersion.number.desc())
            .limit(1)
        )


class SurveyVersion(Model):
    """A frozen definition. Responses point at the version they answered."""

    __tablename__ = "survey_versions"
    __table_args__ = (sa.UniqueConstraint("survey_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(sa.ForeignKey("surveys.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(sa.Integer)
    definition: Mapped[dict] = mapped_column(JSONType)
    # A draft as it was before the builder's last change to it: one step of undo.
    previous_definition: Mapped[dict | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))

    survey: Mapped[Survey] = relationship(back_populates="versions")


class ResponseStatus:
    """What staff review made of a response. The default view counts COUNTED."""

    UNREVIEWED = "unreviewed"
    ACCEPTED = "accepted"
    FLAGGED = "flagged"
    EXCLUDED = "excluded"
    ALL = (UNREVIEWED, ACCEPTED, FLAGGED, EXCLUDED)
    COUNTED = (UNREVIEWED, ACCEPTED, FLAGGED)
    UNFLAGGED = (UNREVIEWED, ACCEPTED)


# The columns that describe how a response was given, not what it says: erased after the
# survey's retention period, never kept for an anonymous survey (docs/privacy.md).
PARADATA_COLUMNS = (
    "started_at",
    "duration_seconds",
    "pages_visited",
    "device_class",
    "browser",
    "network_key",
    "device_hash",
)


class Response(Model):
    __tablename__ = "responses"
    __table_args__ = (
        # The final guard against storing one submission twice.
        sa.UniqueConstraint("survey_id", "submission_id", name="uq_responses_submission"),
        # Exports and tallies read one survey's responses in id order, in chunks.
        sa.Index("ix_responses_survey_id_id", "survey_id", "id"),
        # The quality checks look back at a network's and a device's earlier responses:
        # a network key's newest first, and its responses with the same answers.
        sa.Index("ix_responses_survey_network_id", "survey_id", "network_key", "id"),
        sa.Index(
            "ix_responses_survey_network_digest", "survey_id", "network_key", "answers_digest"
        ),
        sa.Index("ix_responses_survey_device", "survey_id", "device_hash"),
        # The views that leave responses out by status, and the review list, count from it.
        sa.Index("ix_responses_survey_status_id", "survey_id", "status", "id"),
        # The overview's responses today and last response (staff/overview.py _recent).
        sa.Index("ix_responses_survey_submitted", "survey_id", "submitted_at"),
        sa.CheckConstraint(
            "status IN ('unreviewed', 'accepted', 'flagged', 'excluded')",
            name="ck_responses_status",
        ),
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    survey_id: Mapped[int] = mapped_column(sa.ForeignKey("surveys.id", ondelete="CASCADE"))
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("survey_versions.id"))
    submission_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    submitted_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    answers: Mapped[dict] = mapped_column(JSONType)
    # intake/submission.answers_digest(answers): the network duplicate check's index probe.
    answers_digest: Mapped[str | None] = mapped_column(sa.String(40))
    source: Mapped[str] = mapped_column(sa.String(16), default="web")
    meta: Mapped[dict] = mapped_column(JSONType, default=dict)
    # Review: flags are [{"flag": name, "reason": text}] from the quality checks.
    status: Mapped[str] = mapped_column(sa.String(12), default=ResponseStatus.UNREVIEWED)
    flags: Mapped[list] = mapped_column(JSONType, default=list)
    review_note: Mapped[str | None] = mapped_column(sa.String(500))
    reviewed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # Closed mode: the access code's unit (a school, a commune), never the code itself.
    unit: Mapped[str | None] = mapped_column(sa.String(100))
    # Paradata (PARADATA_COLUMNS).
    started_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    duration_seconds: Mapped[int | None] = mapped_column(sa.Integer)
    pages_visited: Mapped[int | None] = mapped_column(sa.Integer)
    device_class: Mapped[str | None] = mapped_column(sa.String(16))
    browser: Mapped[str | None] = mapped_column(sa.String(40))
    network_key: Mapped[str | None] = mapped_column(sa.String(64))
    device_hash: Mapped[str | None] = mapped_column(sa.String(64))


class ResponseClaim(Model):
    """Something only one response may use: a browser's device token in one-per-device
    mode ('device:<hash>'), an access code in closed mode ('code:<hash>'). The primary
    key is the database's guarantee, as the accept script is Redis's."""

    __tablename__ = "response_claims"

    survey_id: Mapped[int] = mapped_column(
        sa.ForeignKey("surveys.id", ondelete="CASCADE"), primary_key=True
    )
    claim: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    submission_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)


class QuotaFill(Model):
    """Responses stored per quota stratum ("district|role" values joined by '|')."""

    __tablename__ = "quota_fills"

    survey_id: Mapped[int] = mapped_column(
        sa.ForeignKey("surveys.id", ondelete="CASCADE"), primary_key=True
    )
    quota: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    stratum: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    count: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class AccessCodeBatch(Model):
    """Single-use codes made at once for one unit (a school, a commune)."""

    __tablename__ = "access_code_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(
        sa.ForeignKey("surveys.id", ondelete="CASCADE"), index=True
    )
    unit: Mapped[str] = mapped_column(sa.String(100))
    size: Mapped[int] = mapped_column(sa.Integer)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(sa.String(254))


class AccessCode(Model):
    """One code of a batch, stored only as a keyed hash (the code itself is derived again
    from the app's SECRET_KEY when staff download the sheet: see access codes)."""

    __tablename__ = "access_codes"
    __table_args__ = (sa.UniqueConstraint("survey_id", "code_hash", name="uq_access_codes_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(
        sa.ForeignKey("access_code_batches.id", ondelete="CASCADE"), index=True
    )
    survey_id: Mapped[int] = mapped_column(sa.ForeignKey("surveys.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(sa.Integer)  # 1..size within the batch
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    used_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # Only when the survey links codes to answers (settings.link_codes).
    submission_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)


class DailySecret(Model):
    """The random key of one day's network keys; deleted after two days, so a network
    key can be compared within a day and never traced back to an address."""

    __tablename__ = "daily_secrets"

    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    secret: Mapped[str] = mapped_column(sa.String(64))


class Tally(Model):
    """Running counts kept by the persist transaction, so results never scan responses.

    One row per (survey, version, question, choice). Two kinds of special rows:
    question '' / choice '' counts responses; choice '' counts a question's answers.
    """

    __tablename__ = "tallies"

    survey_id: Mapped[int] = mapped_column(
        sa.ForeignKey("surveys.id", ondelete="CASCADE"), primary_key=True
    )
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("survey_versions.id"), primary_key=True)
    question: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    choice: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    count: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class Role:
    ADMIN = "admin"
    EDITOR = "editor"
    ANALYST = "analyst"
    ALL = (ADMIN, EDITOR, ANALYST)


class User(Model):
    """A staff account. Citizens answering surveys have none."""

    __tablename__ = "users"
    __table_args__ = (
        sa.CheckConstraint("email = lower(email)", name="ck_users_email_lower"),
        sa.CheckConstraint("role IN ('admin', 'editor', 'analyst')", name="ck_users_role"),
        # SQLite would hand a deleted account's id to the next one created.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(16))
    # Wrong passwords since the last sign-in, from any network (shown to admins; the
    # waits themselves are per email and network: LoginThrottle).
    failed_logins: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    # Flask-Login's user interface.
    is_authenticated = True
    is_active = True
    is_anonymous = False
    # The token of the staff session this object was loaded for (not a column): what
    # Flask-Login keeps in the cookie, never the user id (see staff/sessions.py). Its
    # annotation is for the type checker; SQLAlchemy is told it maps nothing.
    __allow_unmapped__ = True
    session_token: str | None = None

    def get_id(self) -> str:
        if not self.session_token:
            raise RuntimeError("sign in through staff.sessions.start_session()")
        return self.session_token


class StaffSession(Model):
    """A signed-in browser: the cookie names it by a random token (only its SHA-256 is
    stored), so ending the row ends the session wherever the cookie was copied, and a
    deleted account's cookie can never match the account that comes after it."""

    __tablename__ = "staff_sessions"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # logout, ended_by_owner, password_changed, password_reset, role_changed, expired
    end_reason: Mapped[str | None] = mapped_column(sa.String(32))
    device: Mapped[str] = mapped_column(sa.String(100), default="")  # "Firefox · Windows"
    network: Mapped[str] = mapped_column(sa.String(64), default="")  # where it started

    user: Mapped[User] = relationship()


class LoginThrottle(Model):
    """Wrong passwords for one email from one network (see auth.check_login).

    Keyed by the SHA-256 of the normalized email, known account or not, so that an
    unknown email is throttled (and answered) exactly like a known one.
    """

    __tablename__ = "login_throttles"

    account_key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    network: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(sa.Integer, default=0)  # since the last lock
    locks: Mapped[int] = mapped_column(sa.Integer, default=0)  # each one longer
    locked_until: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    last_failure_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), index=True)


class SurveyWeighting(Model):
    """A survey's population margins and the raking weights computed from them
    (results/weights.py): one row per weighted survey. The weights are kept as
    computed, so every output applies the same ones until staff compute them again."""

    __tablename__ = "survey_weightings"

    survey_id: Mapped[int] = mapped_column(
        sa.ForeignKey("surveys.id", ondelete="CASCADE"), primary_key=True
    )
    margins: Mapped[dict] = mapped_column(JSONType)  # question -> choice -> share
    bounds: Mapped[list | None] = mapped_column(JSONType)  # [low, high] or None
    cells: Mapped[list] = mapped_column(JSONType, default=list)  # [[categories], weight]
    report: Mapped[dict] = mapped_column(JSONType, default=dict)  # how the raking went
    computed_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    computed_by: Mapped[str | None] = mapped_column(sa.String(254))


class SurveyShare(Model):
    """An editor or analyst may see this survey (admins see every survey)."""

    __tablename__ = "survey_shares"

    survey_id: Mapped[int] = mapped_column(
        sa.ForeignKey("surveys.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ApiToken(Model):
    """A personal API token; only its SHA-256 is stored, its prefix is for display."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    prefix: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))

    user: Mapped[User] = relationship()


class AuditEvent(Model):
    """One staff action: who did what to which survey, and when.

    The actor's email and the survey's slug are copied, so the log still reads
    after an account or a survey is deleted.
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    actor: Mapped[str] = mapped_column(sa.String(254))
    action: Mapped[str] = mapped_column(sa.String(32))
    survey_slug: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    detail: Mapped[dict] = mapped_column(JSONType, default=dict)


class ExportStatus:
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    EXPIRED = "expired"
    ALL = (QUEUED, RUNNING, DONE, FAILED, EXPIRED)
    ACTIVE = (QUEUED, RUNNING)


class ExportFile(Model):
    """A responses export an analyst asked for: its progress, then its file until it
    expires. The requester's email is copied, like the audit log's actor, so the list
    still says who made it after the account is deleted."""

    __tablename__ = "export_files"
    __table_args__ = (
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed', 'expired')",
            name="ck_export_files_status",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(
        sa.ForeignKey("surveys.id", ondelete="CASCADE"), index=True
    )
    requested_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    requested_by: Mapped[str] = mapped_column(sa.String(254))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    status: Mapped[str] = mapped_column(sa.String(16), default=ExportStatus.QUEUED)
    fmt: Mapped[str] = mapped_column(sa.String(8))
    # lang, codes, breakdown, and filters as Filters.to_args() query pairs
    options: Mapped[dict] = mapped_column(JSONType, default=dict)
    rows_done: Mapped[int] = mapped_column(sa.Integer, default=0)
    rows_total: Mapped[int] = mapped_column(sa.Integer, default=0)  # responses at start
    path: Mapped[str] = mapped_column(sa.String(255))  # a file name in EXPORT_DIR
    size: Mapped[int | None] = mapped_column(sa.BigInteger)
    error: Mapped[str | None] = mapped_column(sa.Text)
    expires_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # Where the finished file is: "folder" (EXPORT_DIR/path) or "database" (its
    # ExportChunk rows). The row says it, not the setting of whichever node serves the
    # download, so changing EXPORT_STORAGE leaves earlier exports downloadable.
    storage: Mapped[str] = mapped_column(sa.String(16), default="folder", server_default="folder")


class ExportChunk(Model):
    """One piece of a finished export's file with EXPORT_STORAGE=database: any web node
    streams the download from here, chunk by chunk, with no folder shared between
    machines. Written in the transaction that marks the export done, so a done export
    has all its chunks; deleted with it when it expires."""

    __tablename__ = "export_file_chunks"

    export_id: Mapped[int] = mapped_column(
        sa.ForeignKey("export_files.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(sa.LargeBinary)


class ResultState(Model):
    """A results view's counts as far as they were read (results/saved.py): what the
    dashboard carries on from after a restart instead of reading every response again.

    One row per survey and view: view_key '' is the unfiltered view, others the SHA-256
    of the view's filters and cross-tab (`view`, to rebuild it). `state` holds the
    accumulator's fields as JSON (results/codec.py), valid for the published versions
    `versions` and the accumulator's `shape` only; `last_id` and `seen` as in
    accumulate(). `queued_at`: a job is counting this view (results are not read here).
    """

    __tablename__ = "result_states"
    __table_args__ = (sa.UniqueConstraint("survey_id", "view_key", name="uq_result_states_view"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(sa.ForeignKey("surveys.id", ondelete="CASCADE"))
    view_key: Mapped[str] = mapped_column(sa.String(64))
    view: Mapped[dict] = mapped_column(JSONType, default=dict)
    versions: Mapped[list] = mapped_column(JSONType, default=list)
    shape: Mapped[str] = mapped_column(sa.String(64))
    state: Mapped[dict] = mapped_column(JSONType, default=dict)
    last_id: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    seen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    used_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    queued_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class DeliveryStatus:
    PENDING = "pending"  # waiting for its next attempt (or its first)
    DELIVERED = "delivered"  # a 2xx answer
    FAILED = "failed"  # WEBHOOK_MAX_ATTEMPTS tried; a replay sends it again
    ALL = (PENDING, DELIVERED, FAILED)


class WebhookEndpoint(Model):
    """A receiver staff configured for a survey's events; `secret` signs every delivery
    (HMAC-SHA256), so it is kept as it is, shown to the survey's managers on demand."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(
        sa.ForeignKey("surveys.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(sa.String(2048))
    secret: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(sa.String(254))


class WebhookDelivery(Model):
    """The outbox: one event (a batch of stored responses, or a status change) for one
    endpoint, written in the transaction that made the event, then sent by the workers
    until a 2xx answer or WEBHOOK_MAX_ATTEMPTS. `event_id` stays the same on every
    attempt and replay: receivers drop a repeat by it."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(
        sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    event: Mapped[str] = mapped_column(sa.String(40))
    body: Mapped[str] = mapped_column(sa.Text)
    items: Mapped[int] = mapped_column(sa.Integer, default=1)  # responses in the body
    status: Mapped[str] = mapped_column(sa.String(16), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    last_status_code: Mapped[int | None] = mapped_column(sa.Integer)
    last_error: Mapped[str | None] = mapped_column(sa.String(300))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class WebhookAttempt(Model):
    """One try at sending a delivery: when, the receiver's status code or the error."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        sa.BigInteger, sa.ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    status_code: Mapped[int | None] = mapped_column(sa.Integer)
    error: Mapped[str | None] = mapped_column(sa.String(300))
    milliseconds: Mapped[int] = mapped_column(sa.Integer, default=0)


class Upload(Model):
    """A citizen's file (a photo, a recording, a document) for one file question,
    stored before the answers are sent: the answer carries only its `token`, so the
    Redis stream and the responses table never hold the file (docs/uploads.md). Its
    bytes are UploadChunk rows, so any web node serves it without a shared folder."""

    __tablename__ = "uploads"

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    # secrets.token_urlsafe(32): 43 characters, unguessable; the answer's value.
    token: Mapped[str] = mapped_column(sa.String(64), unique=True)
    survey_id: Mapped[int] = mapped_column(
        sa.ForeignKey("surveys.id", ondelete="CASCADE"), index=True
    )
    question: Mapped[str] = mapped_column(sa.String(64))
    # What its first bytes say it is (never the name or type the browser sent).
    extension: Mapped[str] = mapped_column(sa.String(8))
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class UploadChunk(Model):
    """One piece of an upload's bytes (UPLOAD_CHUNK_BYTES), deleted with it."""

    __tablename__ = "upload_chunks"

    upload_id: Mapped[int] = mapped_column(
        sa.BigInteger, sa.ForeignKey("uploads.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(sa.LargeBinary)
