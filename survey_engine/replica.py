"""DATABASE_READ_URL: the reads that may lag go to a PostgreSQL streaming replica.

The rule (docs/deployment.md, "Read replica"): a read may go to the replica when
what it shows is allowed to be a few seconds old and nothing is written from it.
That is the results dashboard's scans of the responses (the saved views' catch-up,
the count job, free-text answers) and the exports' rows. Everything else stays on
the primary: writes, the tallies (the dashboard's headline counts and
`response_count`), quota fills, claims, access codes, result_states (read and
written in one transaction), the review list (a reviewer must see what they just
changed) and all of intake/.

One scan reads from one database: `reading()` gives a session for the scan's
length, either the replica's or, when there is none or it cannot be reached now,
the primary's own `db.session`, so a scan's counts and its rows never come from two
databases. A replica that refuses a connection is left alone for RETRY_SECONDS
(each read meanwhile goes to the primary, logged and counted in /metrics as
survey_engine_replica_fallbacks_total), so a restarting replica costs no request a
connection timeout. A replica that goes away in the middle of a scan fails that one
scan (a page reload or a new export then reads from the primary).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy.orm import Session

from survey_engine.config import engine_options
from survey_engine.extensions import db

log = logging.getLogger(__name__)

EXTENSION = "read_replica"
RETRY_SECONDS = 5.0  # after a failed connection, reads go to the primary this long

# On the replica: whether it is one (in recovery), whether its WAL receiver is
# streaming from the primary, whether it has replayed all it received, and the age of
# the last transaction it replayed (its commit time on the primary).
LAG_QUERY = sa.text(
    """
    SELECT pg_is_in_recovery(),
           EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming'),
           pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn(),
           EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())
    """
)


class ReadReplica:
    """One app's replica engine, when its reads last failed, and how many reads went
    to the primary instead (this process's count)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.down_until = 0.0
        self.fallbacks = 0
        self._lock = threading.Lock()

    def _failed(self, error: Exception | None) -> None:
        with self._lock:
            self.fallbacks += 1
            if error is not None:
                self.down_until = time.monotonic() + RETRY_SECONDS
        if error is not None:
            log.warning(
                "read replica unreachable, reading from the primary for %ss: %s",
                RETRY_SECONDS,
                str(error).splitlines()[0] if str(error) else type(error).__name__,
            )

    def open(self) -> Session | None:
        """A session holding a live replica connection, or None (counted, logged)."""
        if time.monotonic() < self.down_until:
            self._failed(None)
            return None
        session = Session(bind=self.engine)
        try:
            session.connection()  # checks out (and pings) a connection now
        except sa.exc.DBAPIError as error:
            session.close()
            self._failed(error)
            return None
        return session

    def health(self) -> dict[str, Any]:
        """/healthz's replica fields: "replica" ok / unreachable / not_in_recovery
        (it was promoted, or the URL names a primary: it no longer follows writes),
        "replica_streaming" and "replica_lag_seconds".

        The lag is in seconds because the question an operator has is how old the
        dashboard's figures may be. It is the age of the last replayed transaction,
        except that a replica streaming from the primary that has replayed all it
        received reports 0: on an idle primary that age grows although nothing is
        missing. A replica not streaming reports the age, the honest upper bound."""
        if time.monotonic() < self.down_until:
            return {"replica": "unreachable"}
        try:
            with self.engine.connect() as connection:
                in_recovery, streaming, caught_up, age = connection.execute(LAG_QUERY).one()
        except sa.exc.DBAPIError as error:
            self._failed(error)
            return {"replica": "unreachable"}
        if not in_recovery:
            return {"replica": "not_in_recovery", "replica_lag_seconds": None}
        lag = 0.0 if streaming and caught_up else (None if age is None else float(age))
        return {
            "replica": "ok",
            "replica_streaming": bool(streaming),
            "replica_lag_seconds": None if lag is None else round(max(lag, 0.0), 3),
        }


def init_app(app: Flask) -> None:
    """The replica's engine, with the primary's engine options (pre-ping, timeouts)."""
    url = app.config.get("DATABASE_READ_URL")
    if not url:
        return
    options = engine_options(url, app.config["SQLALCHEMY_ENGINE_OPTIONS"])
    app.extensions[EXTENSION] = ReadReplica(sa.create_engine(url, **options))


def replica_of(app: Flask) -> ReadReplica | None:
    return app.extensions.get(EXTENSION)


@contextmanager
def reading() -> Iterator[Session]:
    """A session for one scan that may lag: the replica's (closed afterwards, ending
    its read transaction) or, without one reachable, the primary's db.session."""
    replica = replica_of(current_app)
    session = replica.open() if replica is not None else None
    if session is None:
        yield db.session()
        return
    try:
        yield session
    finally:
        session.close()
