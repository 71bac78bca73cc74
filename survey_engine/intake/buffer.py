"""The Redis Stream between accepting a submission and storing it (REDIS_URL set).

Keys carry the survey id as a hash tag, `se:{<survey id>}:...`, so that in a Redis
Cluster everything of one survey lives on one shard and the accept script, which
touches three of them, stays legal:

    se:{7}:stream    submissions waiting to be stored (consumer group "persist")
    se:{7}:ids       submission_id -> digest of its answers: duplicates stop here
    se:{7}:dead      entries that failed repeatedly, with the reason
    se:{7}:counters  accepted, duplicates, conflicts, claimed, quota_full, persisted, ...
    se:{7}:claims    'device:<hash>' / 'code:<hash>' -> the submission_id that used it
    se:{7}:quotas    'quota|stratum' -> places taken (seeded from quota_fills)
    se:surveys       ids of the surveys that have a stream (what workers drain)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from functools import lru_cache, partial

import redis
from flask import Flask, current_app
from redis.cluster import RedisCluster

from survey_engine.intake.windows_lua import WINDOWS_LUA
from survey_engine.redis_connections import (
    REDIS_ERRORS,
    BufferClient,
    buffer_client,
    check_redis_settings,
    node_client,
    refresh_topology,
    run_script,
)

GROUP = "persist"
SURVEYS_KEY = "se:surveys"


def stream_key(survey_id: int) -> str:
    return f"se:{{{survey_id}}}:stream"


def ids_key(survey_id: int) -> str:
    return f"se:{{{survey_id}}}:ids"


def dead_key(survey_id: int) -> str:
    return f"se:{{{survey_id}}}:dead"


def counters_key(survey_id: int) -> str:
    return f"se:{{{survey_id}}}:counters"


def claims_key(survey_id: int) -> str:
    return f"se:{{{survey_id}}}:claims"


def quotas_key(survey_id: int) -> str:
    return f"se:{{{survey_id}}}:quotas"


# Atomic: a duplicate or conflicting id never reaches the stream, a device token or an
# access code answers once, a quota stratum never takes more than its limit, and an id,
# its claims and its quota places are only remembered together with its entry.
ACCEPT_SCRIPT = (
    """
-- KEYS[1]  se:{survey}:stream    the stream the drain reads
-- KEYS[2]  se:{survey}:ids       submission_id -> digest of its answers
-- KEYS[3]  se:{survey}:counters  accepted, duplicates, conflicts, claimed, quota_full
-- KEYS[4]  se:{survey}:claims    claim -> its holder
-- KEYS[5]  se:{survey}:quotas    'quota|stratum' -> places taken
-- ARGV[1]  submission_id
-- ARGV[2]  digest of the answers (answers_digest)
-- ARGV[3]  the submission as JSON (Submission.to_json)
-- ARGV[4]  the holder the claims record (Submission.holder: the submission_id, or a
--          random id when the claim must not lead to the response)
-- ARGV[5]  '1': a claim held by another submission passes to this one (editing allowed)
-- ARGV[6]  n, the number of claims, then the n claims
-- then     m, the number of quota places, then m triples: field, limit, places stored
--          in the database (the count when Redis has none, e.g. after a restart), or
--          '' when the caller has not read them: 'seed' asks for them
-- then     w, the number of circuit-breaker windows checked here first (0: none, the
--          caller checked them itself), and when w > 0: now in milliseconds, '1' to
--          count even when over (a solved proof of work) else '0', then w pairs:
--          limit, seconds (breakers.Breakers.script_keys_args)
-- KEYS[6..5+2w]  window i's previous and current bucket, se:{survey}:limit:...
-- returns  'accepted' | 'duplicate' | 'conflict' | 'claimed' | 'full' | 'seed'
--          | 'limited:<i>:<seconds>' (window i is over its limit: nothing is held or
--          counted). The windows count every other answer but 'seed' (asked again).
"""
    + WINDOWS_LUA
    + """
local function accept()
local seen = redis.call('HGET', KEYS[2], ARGV[1])
if seen then
  if seen == ARGV[2] then
    redis.call('HINCRBY', KEYS[3], 'duplicates', 1)
    return 'duplicate'
  end
  redis.call('HINCRBY', KEYS[3], 'conflicts', 1)
  return 'conflict'
end
local n = tonumber(ARGV[6])
if ARGV[5] ~= '1' then
  for i = 7, 6 + n do
    local holder = redis.call('HGET', KEYS[4], ARGV[i])
    if holder and holder ~= ARGV[4] then
      redis.call('HINCRBY', KEYS[3], 'claimed', 1)
      return 'claimed'
    end
  end
end
local q = 7 + n
local m = tonumber(ARGV[q])
for j = 0, m - 1 do
  local field = ARGV[q + 1 + 3 * j]
  local limit, stored = tonumber(ARGV[q + 2 + 3 * j]), ARGV[q + 3 + 3 * j]
  if stored == '' then
    if redis.call('HEXISTS', KEYS[5], field) == 0 then
      return 'seed'
    end
  else
    redis.call('HSETNX', KEYS[5], field, stored)
  end
  if tonumber(redis.call('HGET', KEYS[5], field)) >= limit then
    redis.call('HINCRBY', KEYS[3], 'quota_full', 1)
    return 'full'
  end
end
redis.call('XADD', KEYS[1], '*', 'submission', ARGV[3])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
for i = 7, 6 + n do
  redis.call('HSET', KEYS[4], ARGV[i], ARGV[4])
end
for j = 0, m - 1 do
  redis.call('HINCRBY', KEYS[5], ARGV[q + 1 + 3 * j], 1)
end
redis.call('HINCRBY', KEYS[3], 'accepted', 1)
return 'accepted'
end
local r = 8 + tonumber(ARGV[6]) + 3 * tonumber(ARGV[7 + tonumber(ARGV[6])])
local w = tonumber(ARGV[r])
local now = 0
if w > 0 then
  now = tonumber(ARGV[r + 1]) / 1000
  local over, wait = windows_over(5, r + 2, w, now)
  if over > 0 and ARGV[r + 2] ~= '1' then
    return 'limited:' .. over .. ':' .. wait
  end
end
local outcome = accept()
if w > 0 and outcome ~= 'seed' then
  windows_count(5, r + 2, w, now)
end
return outcome
"""
)


@lru_cache(maxsize=4096)
def accept_keys(survey_id: int) -> tuple[str, ...]:
    """KEYS of the accept script, in its order (made once per survey: every submission
    sends them)."""
    return (
        stream_key(survey_id),
        ids_key(survey_id),
        counters_key(survey_id),
        claims_key(survey_id),
        quotas_key(survey_id),
    )


def accept_args(
    submission_id: str,
    digest: str,
    payload: str | bytes,
    claims: Sequence[str] = (),
    quotas: Sequence[tuple[str, int, int | str]] = (),
    replace_claims: bool = False,
    holder: str | None = None,
    windows: Sequence[int | str] = (),
) -> list:
    """ARGV of the accept script, in its order (see its legend); `holder` defaults to
    the submission_id; `windows`: the breakers' part (Breakers.script_keys_args), whose
    KEYS go to StreamBuffer.append's `window_keys`."""
    places = [value for quota in quotas for value in quota]
    return [
        submission_id,
        digest,
        payload,
        holder or submission_id,
        "1" if replace_claims else "0",
        len(claims),
        *claims,
        len(quotas),
        *places,
        *(windows or [0]),
    ]


# After a node's replicas did not confirm a submission in time: how long its WAITs are
# cut to SHORT_WAIT_MS (each submission is also stored in the database meanwhile).
SHORT_WAIT_SECONDS = 5.0
SHORT_WAIT_MS = 10
# After Redis could not be reached, how long before a web process tries to connect again.
RECONNECT_EVERY_SECONDS = 1.0
# How often a web process tells the workers again that a survey has a stream.
REGISTER_EVERY_SECONDS = 10.0


class StreamBuffer:
    """The accept script on the buffer's Redis (redis_connections: one Redis, Sentinel's
    master or a Cluster's shard); with REDIS_WAIT_REPLICAS, followed by WAIT on the same
    connection, so 'accepted' means that many replicas have the entry too."""

    def __init__(
        self, make_client: Callable[[], BufferClient], wait_replicas: int = 0, wait_ms: int = 200
    ) -> None:
        self._make_client = make_client
        self._client: BufferClient | None = None
        self._making = threading.Lock()
        self._failed_at = -RECONNECT_EVERY_SECONDS
        self.wait_replicas = wait_replicas
        self.wait_ms = wait_ms
        self._registered: dict[int, float] = {}  # survey id -> when SADDed last
        self._short_wait_until: dict[int, float] = {}  # id of a node's client -> until

    @property
    def client(self) -> BufferClient:
        """Made on first use: a cluster client reads the topology when it is made, and a
        web node must start (and store in the database) while the cluster is down. After
        a failure it is tried again at most once a second."""
        client = self._client
        if client is None:
            with self._making:  # a web process's threads all ask at its first request
                client = self._client or self._connect()
        return client

    def _connect(self) -> BufferClient:
        now = time.monotonic()
        if now - self._failed_at < RECONNECT_EVERY_SECONDS:
            raise redis.ConnectionError("Redis was unreachable a moment ago")
        try:
            client = self._make_client()
        except REDIS_ERRORS:
            self._failed_at = now
            raise
        # The script before the client: a thread that finds the client uses the script
        # at once, without taking the lock.
        self._accept = client.register_script(ACCEPT_SCRIPT)
        self._client = client
        return client

    def append(self, survey_id: int, args: list, window_keys: Sequence[str] = ()) -> str:
        """Run the accept script with `args` (accept_args); returns 'accepted' (durably
        in the stream), 'duplicate', 'conflict', 'claimed', 'full' or 'seed' (a quota
        place's count given as '' that Redis does not have: nothing is held), or
        'unreplicated': in the stream, but fewer than REDIS_WAIT_REPLICAS replicas
        confirmed it in time (the caller stores it in the database as well), or
        'limited:<i>:<seconds>' when `args` carry breaker windows (`window_keys` their
        keys, in the survey's hash slot) and one is over: nothing held.

        One round trip: EVALSHA (the script is loaded again after a Redis restart or
        a failover), and WAIT in the same write when asked for (run_script).
        `se:surveys` lives in another hash slot, so it cannot be in the script; it is
        refreshed every few seconds instead of on every submission.
        """
        now = time.monotonic()
        if now - self._registered.get(survey_id, -REGISTER_EVERY_SECONDS) >= REGISTER_EVERY_SECONDS:
            self.client.sadd(SURVEYS_KEY, survey_id)
            self._registered[survey_id] = now
        keys = [*accept_keys(survey_id), *window_keys]
        if isinstance(self.client, RedisCluster) and not self.wait_replicas:
            return self._accept(keys=keys, args=args).decode()  # follows MOVED itself
        # WAIT counts the writes of its own connection: the script and the WAIT go down
        # one connection to the server that owns the survey.
        node = node_client(self.client, keys[0])
        wait = [("WAIT", self.wait_replicas, self._wait_ms(node, now))]
        try:
            outcome, *replicas = run_script(
                node, self._accept, keys, args, wait if self.wait_replicas else []
            )
        except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
            refresh_topology(self.client)  # a failover moved the survey's slot
            raise
        outcome = outcome.decode()
        if outcome == "accepted" and replicas and int(replicas[0]) < self.wait_replicas:
            self._short_wait_until[id(node)] = now + SHORT_WAIT_SECONDS
            return "unreplicated"
        return outcome

    def _wait_ms(self, node: redis.Redis, now: float) -> int:
        """REDIS_WAIT_TIMEOUT_MS, or a few ms for a while after this node's replicas
        failed to confirm: a master whose replica is gone (just promoted after a
        failover) would make every submission wait the full timeout before being
        stored in the database as well. A replica that is back confirms within them."""
        if now < self._short_wait_until.get(id(node), 0.0):
            return min(self.wait_ms, SHORT_WAIT_MS)
        return self.wait_ms

    def forget(self, survey_id: int) -> None:
        """After a survey is deleted: its keys go, and it is registered afresh if reused."""
        forget_survey(self.client, survey_id)
        self._registered.pop(survey_id, None)


def init_app(app: Flask) -> None:
    check_redis_settings(app.config)
    app.extensions["stream_buffer"] = (
        StreamBuffer(
            partial(buffer_client, app.config),
            app.config["REDIS_WAIT_REPLICAS"],
            app.config["REDIS_WAIT_TIMEOUT_MS"],
        )
        if app.config["REDIS_URL"]
        else None
    )


def current_buffer() -> StreamBuffer | None:
    return current_app.extensions.get("stream_buffer")


def waiting(client: BufferClient, survey_id: int) -> int:
    """Submissions accepted for a survey but not stored yet: its stream and dead letters."""
    pipe = client.pipeline(transaction=False)
    pipe.xlen(stream_key(survey_id))
    pipe.xlen(dead_key(survey_id))
    return sum(pipe.execute())


def waiting_many(client: BufferClient, survey_ids: list[int]) -> dict[int, int]:
    """waiting() for many surveys in one round trip (the staff overview)."""
    if not survey_ids:
        return {}
    pipe = client.pipeline(transaction=False)
    for survey_id in survey_ids:
        pipe.xlen(stream_key(survey_id))
        pipe.xlen(dead_key(survey_id))
    lengths = pipe.execute()
    return {
        survey_id: int(lengths[2 * i]) + int(lengths[2 * i + 1])
        for i, survey_id in enumerate(survey_ids)
    }


def forget_survey(client: BufferClient, survey_id: int) -> None:
    """Drop a deleted survey's keys, so nothing drains into a survey that is gone and a
    reused id (SQLite) starts clean. Its keys share a hash slot; se:surveys does not."""
    client.delete(
        stream_key(survey_id),
        ids_key(survey_id),
        dead_key(survey_id),
        counters_key(survey_id),
        claims_key(survey_id),
        quotas_key(survey_id),
    )
    client.srem(SURVEYS_KEY, survey_id)
