"""The drain: moves submissions from the Redis Streams into the database in batches.

Each worker process runs one Drainer. For every survey stream it reads up to
DRAIN_BATCH_SIZE entries through the consumer group "persist", stores them with
persist.persist_batch (one transaction: responses + tallies), and only then
XACKs and deletes them. Whatever happens in between, an entry stays pending:

- this worker fails to reach the database: it holds on to the batch (re-claiming
  it with XCLAIM JUSTID so nobody else takes it, without counting a delivery),
  backs off and retries it first;
- this worker dies (kill -9): after DRAIN_CLAIM_IDLE_MS another worker takes its
  pending entries over with XAUTOCLAIM;
- an entry cannot be stored (bad data) or has been delivered DRAIN_MAX_DELIVERIES
  times (it keeps killing workers): it moves to the survey's dead-letter stream,
  where `survey-engine dead-letters` shows and replays it.

A repeated delivery is harmless: persist_batch skips a submission_id it has stored.

Between batches the drain may run `idle` (the worker gives it the results dashboard's
share: jobs.advance_saved_results): once a second when caught up, once every
IDLE_EVERY_IN_BACKLOG seconds during a backlog, each call bounded by the caller.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import cast

import redis
import sqlalchemy as sa
from flask import Flask
from redis.typing import EncodableT, FieldT

from survey_engine.extensions import db
from survey_engine.intake import counters
from survey_engine.intake.buffer import GROUP, SURVEYS_KEY, counters_key, dead_key, stream_key
from survey_engine.intake.persist import persist_batch
from survey_engine.intake.submission import Submission
from survey_engine.redis_connections import REDIS_ERRORS, BufferClient

log = logging.getLogger(__name__)

Entry = tuple[bytes, dict[bytes, bytes]]
# redis-py types a stream reply for every protocol and decoding a client may speak; the
# buffer's client speaks RESP2 and keeps bytes, so XREADGROUP answers this (an entry
# trimmed away meanwhile comes with None for its fields).
StreamsReply = list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes] | None]]]]
CATCH_UP_PAUSE = 0.25  # seconds a caught-up drain waits before reading again
IDLE_EVERY = 1.0  # seconds between two idle() calls when caught up
IDLE_EVERY_IN_BACKLOG = 10.0  # and during a backlog


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class DatabaseDown(Exception):
    def __init__(self, reason: str, unstored: list[Entry] | None = None) -> None:
        super().__init__(reason)
        self.unstored = unstored or []


class Drainer:
    def __init__(
        self,
        app: Flask,
        client: BufferClient,
        name: str | None = None,
        idle: Callable[[], object] | None = None,
    ) -> None:
        self.app = app
        self.idle = idle
        self._idle_at = 0.0
        self.client = client
        self.name = name or consumer_name()
        self.batch_size = app.config["DRAIN_BATCH_SIZE"]
        self.claim_idle_ms = app.config["DRAIN_CLAIM_IDLE_MS"]
        self.max_deliveries = app.config["DRAIN_MAX_DELIVERIES"]
        self._groups: set[int] = set()
        self._held: dict[int, list[Entry]] = {}  # read, but the database was down
        self._backoff = 0.0
        # Retry a held batch well within the claim timeout, or other workers would
        # take it over (and count a delivery) while the database is down.
        self._max_backoff = max(0.05, min(5.0, self.claim_idle_ms / 3000))

    # -- the loop ------------------------------------------------------------------

    def run(self, stop: threading.Event, burst: bool = False) -> None:
        """Drain until `stop` is set; with burst, until every stream is empty."""
        with self.app.app_context():
            while not stop.is_set():
                try:
                    moved = self.drain_once()
                except DatabaseDown as error:
                    self._backoff = min(max(self._backoff * 2, 0.2), self._max_backoff)
                    log.warning(
                        "database unreachable (%s); retrying in %.1fs", error, self._backoff
                    )
                    stop.wait(self._backoff)
                    continue
                except REDIS_ERRORS as error:
                    log.warning("Redis unreachable (%s); retrying in 1s", error)
                    stop.wait(1.0)
                    continue
                except Exception:
                    # A bug must not silently end the drain while the process lives on.
                    log.exception("drain pass failed; retrying in 1s")
                    stop.wait(1.0)
                    continue
                self._backoff = 0.0
                self._maybe_idle(backlog=moved >= self.batch_size // 2)
                if moved >= self.batch_size // 2:
                    continue  # a backlog: straight on
                if moved and not burst:
                    # Caught up: let a batch gather instead of paying a transaction
                    # per handful of rows (this tripled the drain's cost per row).
                    stop.wait(CATCH_UP_PAUSE)
                    continue
                if burst and self.backlog() == 0:
                    self._idle_at = 0.0  # a burst ends with idle's share done
                    self._maybe_idle(backlog=False)
                    return
                stop.wait(0.05 if not burst else 0.2)

    def _maybe_idle(self, backlog: bool) -> None:
        """Run idle() if it is time; its failures are logged, never the drain's."""
        now = time.monotonic()
        if self.idle is None or now - self._idle_at < (
            IDLE_EVERY_IN_BACKLOG if backlog else IDLE_EVERY
        ):
            return
        self._idle_at = now
        try:
            self.idle()
        except Exception:
            log.exception("idle work between drain batches failed")
        finally:
            db.session.remove()

    def drain_once(self) -> int:
        """One pass over every survey's stream; returns how many entries were handled."""
        moved = 0
        for survey_id, entries in list(self._held.items()):
            self._keep_claimed(survey_id, entries)
            del self._held[survey_id]
            self._store(survey_id, entries)
            moved += len(entries)
        return moved + sum(self.drain_survey(int(sid)) for sid in self.client.smembers(SURVEYS_KEY))

    def drain_survey(self, survey_id: int) -> int:
        key = stream_key(survey_id)
        self._ensure_group(survey_id)
        # Entries a silent (dead) worker left pending first, then new ones.
        entries = self._claim(key)
        if entries:
            entries = self._bury_overdelivered(survey_id, entries)
        else:
            entries = self._read_new(key)
        if entries:
            self._store(survey_id, entries)
        return len(entries)

    def backlog(self) -> int:
        """Entries not yet stored, over all surveys (read, pending or new)."""
        return sum(
            self.client.xlen(stream_key(int(sid))) for sid in self.client.smembers(SURVEYS_KEY)
        )

    # -- reading -------------------------------------------------------------------

    def _ensure_group(self, survey_id: int) -> None:
        if survey_id in self._groups:
            return
        try:
            # From the start of the stream: nothing XADDed before the group existed is missed.
            self.client.xgroup_create(stream_key(survey_id), GROUP, id="0", mkstream=True)
        except redis.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise
        self._groups.add(survey_id)

    def _keep_claimed(self, survey_id: int, entries: list[Entry]) -> None:
        """Reset the idle time of held entries, without counting a delivery."""
        self.client.xclaim(
            stream_key(survey_id),
            GROUP,
            self.name,
            min_idle_time=0,
            message_ids=[entry_id for entry_id, _ in entries],
            justid=True,
        )

    def _read_new(self, key: str) -> list[Entry]:
        try:
            reply = cast(
                StreamsReply,
                self.client.xreadgroup(GROUP, self.name, {key: ">"}, count=self.batch_size),
            )
        except redis.ResponseError as error:
            if "NOGROUP" in str(error):  # Redis lost the group (restored without it)
                self._groups.clear()
                return []
            raise
        return [
            (entry_id, fields)
            for _, items in reply
            for entry_id, fields in items
            if fields is not None
        ]

    def _claim(self, key: str) -> list[Entry]:
        _next, claimed, *_ = self.client.xautoclaim(
            key,
            GROUP,
            self.name,
            min_idle_time=self.claim_idle_ms,
            start_id="0-0",
            count=self.batch_size,
        )
        if claimed:
            log.info("claimed %d entries of %s left by a silent worker", len(claimed), key)
        return [(entry_id, fields) for entry_id, fields in claimed if fields is not None]

    def _bury_overdelivered(self, survey_id: int, entries: list[Entry]) -> list[Entry]:
        """Entries delivered too often (they keep killing workers) go to the dead letters."""
        key = stream_key(survey_id)
        ids = [entry_id for entry_id, _ in entries]
        pending = self.client.xpending_range(
            key, GROUP, min=min(ids), max=max(ids), count=len(ids), consumername=self.name
        )
        times = {p["message_id"]: int(p["times_delivered"]) for p in pending}
        keep = []
        for entry in entries:
            if times.get(entry[0], 0) > self.max_deliveries:
                self._bury(
                    survey_id, entry, f"delivered {times[entry[0]]} times without being stored"
                )
            else:
                keep.append(entry)
        return keep

    # -- storing -------------------------------------------------------------------

    def _store(self, survey_id: int, entries: list[Entry]) -> None:
        try:
            self._store_or_bury(survey_id, entries)
        except DatabaseDown as down:
            self._held[survey_id] = down.unstored
            raise

    def _store_or_bury(self, survey_id: int, entries: list[Entry]) -> None:
        submissions: list[tuple[Entry, Submission]] = []
        for entry in entries:
            try:
                submissions.append((entry, Submission.from_json(entry[1][b"submission"])))
            except (KeyError, ValueError, TypeError) as error:
                self._bury(survey_id, entry, f"unreadable entry: {error!r}")
        if not submissions:
            return
        try:
            self._persist([s for _, s in submissions])
        except DatabaseDown as down:
            down.unstored = [e for e, _ in submissions]
            raise
        except Exception:  # bad data of any kind, not only a constraint: sorted out below
            pass
        else:
            self._done(survey_id, [e for e, _ in submissions])
            return
        # One bad entry must not hold up the rest: store them one by one.
        for index, (entry, submission) in enumerate(submissions):
            try:
                self._persist([submission])
            except DatabaseDown as down:
                down.unstored = [e for e, _ in submissions[index:]]
                raise
            except Exception as error:
                # A constraint, or (SQLite enforces no foreign keys) a version_id whose
                # definition cannot be found: either way this entry, and only it, is bad.
                first_line = (str(error).splitlines() or [""])[0][:300]
                self._bury(
                    survey_id, entry, f"cannot be stored: {error.__class__.__name__}: {first_line}"
                )
                continue
            self._done(survey_id, [entry])

    def _persist(self, submissions: list[Submission]) -> None:
        try:
            refused = persist_batch(submissions).refused
            for survey_id, _ in refused:  # a claim used twice across a Redis restart
                counters.count(survey_id, "refused_when_stored")
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as error:
            raise DatabaseDown(str(error).splitlines()[0]) from error
        finally:
            db.session.remove()

    def _done(self, survey_id: int, entries: list[Entry]) -> None:
        """Stored: acknowledge and delete, in one round trip (same hash slot)."""
        ids = [entry_id for entry_id, _ in entries]
        pipe = self.client.pipeline(transaction=True)
        pipe.xack(stream_key(survey_id), GROUP, *ids)
        pipe.xdel(stream_key(survey_id), *ids)
        pipe.hincrby(counters_key(survey_id), "persisted", len(ids))
        pipe.execute()

    def _bury(self, survey_id: int, entry: Entry, reason: str) -> None:
        entry_id, fields = entry
        log.error("dead letter %s in survey %s: %s", entry_id, survey_id, reason)
        pipe = self.client.pipeline(transaction=True)
        letter: dict[FieldT, EncodableT] = {name: value for name, value in fields.items()}
        letter.update(
            {b"reason": reason.encode(), b"original_id": entry_id, b"at": str(time.time())}
        )
        pipe.xadd(dead_key(survey_id), letter)
        pipe.xack(stream_key(survey_id), GROUP, entry_id)
        pipe.xdel(stream_key(survey_id), entry_id)
        pipe.hincrby(counters_key(survey_id), "dead_letters", 1)
        pipe.execute()
