"""Redis clients made from the settings: one Redis, a Redis found through Sentinel,
or a Redis Cluster.

Two Redis roles, which may be one server or two:

- the buffer (REDIS_URL): every survey's stream, ids, claims, quota places, limits and
  counters, under the survey's hash tag `se:{<id>}:`, so a Redis Cluster keeps each
  survey on one shard and spreads the surveys over its shards;
- the jobs (RQ_REDIS_URL): RQ's queues, the workers' job bookkeeping and the staff
  login limit (Flask-Limiter). RQ cannot use a Redis Cluster, so with a cluster the jobs
  need a plain (or Sentinel) Redis of their own; otherwise RQ_REDIS_URL defaults to
  REDIS_URL.

URL forms (which the `limits` library behind Flask-Limiter reads too):

    redis://[:password@]host:port/db                 one Redis
    redis+sentinel://[:password@]host:port[,host:port]/<service>[/db]
                                                     the master Sentinel names now
    redis+cluster://[:password@]host:port[,host:port]  a Redis Cluster (any nodes);
                                                     or redis:// with REDIS_CLUSTER=1
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import hiredis
import redis
from redis.cluster import ClusterNode, RedisCluster
from redis.commands.core import Script
from redis.connection import Connection
from redis.exceptions import NoScriptError, RedisClusterException
from redis.sentinel import Sentinel

from survey_engine.config import ConfigError, whole_number

# A cluster client for the buffer, a plain one (possibly Sentinel's) for everything else.
BufferClient = redis.Redis | RedisCluster

# What a Redis call may raise: the cluster client's "no node reachable" and "slot not
# covered" are not RedisErrors.
REDIS_ERRORS = (redis.RedisError, RedisClusterException)

CLUSTER_SCHEME = "redis+cluster"
SENTINEL_SCHEME = "redis+sentinel"

# Short timeouts: a citizen waiting on a dead Redis is better served by the database
# fallback within a second or two than by a hung page.
QUICK = {"socket_timeout": 2, "socket_connect_timeout": 1}


@dataclass(frozen=True)
class RedisAddress:
    scheme: str  # "redis", "rediss", "redis+sentinel" or "redis+cluster"
    hosts: tuple[tuple[str, int], ...]
    password: str | None
    db: int
    service: str | None  # Sentinel's name of the master

    @property
    def is_cluster(self) -> bool:
        return self.scheme == CLUSTER_SCHEME


def parse(url: str, cluster: bool = False) -> RedisAddress:
    """The parts of a Redis URL, or a ConfigError that says what is wrong with it."""
    parts = urlsplit(url)
    scheme = parts.scheme
    if scheme not in ("redis", "rediss", SENTINEL_SCHEME, CLUSTER_SCHEME):
        raise ConfigError(
            f"a Redis URL starts with redis://, redis+sentinel:// or redis+cluster://, not {url!r}"
        )
    if cluster and scheme in ("redis", "rediss"):
        scheme = CLUSTER_SCHEME
    _, _, hostlist = parts.netloc.rpartition("@")
    hosts = []
    for item in filter(None, hostlist.split(",")):
        host, _, port = item.rpartition(":") if ":" in item else (item, "", "6379")
        if not port.isdigit():
            raise ConfigError(f"bad port in Redis URL {url!r}")
        hosts.append((host.strip("[]"), int(port)))
    if not hosts:
        raise ConfigError(f"no host in Redis URL {url!r}")
    if len(hosts) > 1 and scheme in ("redis", "rediss"):
        raise ConfigError(f"several hosts name a Cluster (REDIS_CLUSTER=1) or Sentinels: {url!r}")
    path = [p for p in parts.path.split("/") if p]
    service = None
    if scheme == SENTINEL_SCHEME:
        if not path:
            raise ConfigError(f"a redis+sentinel:// URL names the master's service: {url!r}")
        service = path.pop(0)
    if scheme == CLUSTER_SCHEME and path not in ([], ["0"]):
        raise ConfigError(f"a Redis Cluster has only database 0: {url!r}")
    db = path[0] if path else "0"
    if len(path) > 1 or not db.isdigit():
        raise ConfigError(f"bad database number in Redis URL {url!r}")
    password = unquote(parts.password) if parts.password else None
    return RedisAddress(scheme, tuple(hosts), password, int(db), service)


def check_redis_settings(config: dict) -> None:
    """At startup: the URLs parse, and a cluster has a jobs Redis of its own."""
    for name, minimum in (("REDIS_WAIT_REPLICAS", 0), ("REDIS_WAIT_TIMEOUT_MS", 1)):
        config[name] = whole_number(name, config[name], minimum)
    url = config.get("REDIS_URL")
    if not url:
        return
    buffer = parse(url, cluster=config.get("REDIS_CLUSTER", False))
    config["REDIS_CLUSTER"] = buffer.is_cluster
    jobs_url = config.get("RQ_REDIS_URL")
    if not jobs_url:
        if buffer.is_cluster:
            raise ConfigError(
                "RQ_REDIS_URL must be set with a Redis Cluster: RQ's job queues need a "
                "plain Redis (or Sentinel) of their own"
            )
        config["RQ_REDIS_URL"] = url
    elif parse(jobs_url).is_cluster:
        raise ConfigError("RQ_REDIS_URL cannot be a Redis Cluster: RQ does not support one")


def connect(address: RedisAddress, **options: Any) -> BufferClient:
    """A client for `address`; `options` are redis-py connection options."""
    if address.is_cluster:
        return RedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in address.hosts],
            password=address.password,
            **options,
        )
    if address.service is not None:  # redis+sentinel://
        sentinel = Sentinel(
            list(address.hosts),
            sentinel_kwargs={"password": address.password, **QUICK} if address.password else QUICK,
            password=address.password,
            **options,
        )
        return sentinel.master_for(address.service, db=address.db)
    host, port = address.hosts[0]
    return redis.Redis(
        host=host,
        port=port,
        db=address.db,
        password=address.password,
        ssl=address.scheme == "rediss",
        **options,
    )


def buffer_client(config: Mapping) -> BufferClient:
    """The buffer's Redis, with short timeouts (the submit path and the drain)."""
    address = parse(config["REDIS_URL"], cluster=config.get("REDIS_CLUSTER", False))
    extra = {} if address.is_cluster else {"health_check_interval": 15}
    return connect(address, **QUICK, **extra)


def jobs_client(config: Mapping, blocking: bool = False) -> redis.Redis:
    """The jobs' Redis: short timeouts to queue a job; `blocking` for RQ's worker,
    which waits minutes for a job on one connection."""
    client = connect(parse(config["RQ_REDIS_URL"]), **({} if blocking else QUICK))
    assert isinstance(client, redis.Redis)  # check_redis_settings refuses a cluster
    return client


def node_client(client: BufferClient, key: str) -> redis.Redis:
    """The plain client of the server that holds `key`: one connection for a script and
    the WAIT that must follow it on the same connection."""
    if isinstance(client, RedisCluster):
        return client.get_redis_connection(client.get_node_from_key(key))
    return client


def refresh_topology(client: BufferClient) -> None:
    """After a MOVED or a dead node seen outside the cluster client's own retries."""
    if isinstance(client, RedisCluster):
        client.nodes_manager.initialize()


def run_script(
    node: redis.Redis, script: Script, keys: list[str], args: list, then: Sequence[tuple] = ()
) -> list:
    """EVALSHA of `script` and the commands `then` (a WAIT) in one write on this
    thread's own connection to `node` (kept_connection); their replies. The submit
    path's one Redis call: redis-py's command machinery (argument encoding in Python,
    retry and observability wrappers) costs the web process about 30 µs more per call
    than packing with hiredis and reading the replies (BENCHMARKS.md, issue 13).
    NOSCRIPT (a restarted or newly promoted Redis) loads the script and sends again; so
    does a connection found closed (a Redis restarted or failed over since), once, on a
    new socket. Any other failure closes the connection (replies may be left unread on
    it) and is raised."""
    commands = [("EVALSHA", script.sha, len(keys), *keys, *args), *then]
    packed = [b"".join(hiredis.pack_command(c) for c in commands)]
    connection = kept_connection(node.connection_pool)
    for attempt in (1, 2):
        try:
            if attempt == 2:
                # connect(), not the send's own reconnection to the last address: a
                # Sentinel's connection asks the Sentinels for the master here.
                connection.connect()
            connection.send_packed_command(packed, check_health=False)
            return [connection.read_response() for _ in commands]
        except NoScriptError:
            connection.disconnect()
            if attempt == 2:
                raise
            node.script_load(script.script)
        except redis.ConnectionError:
            connection.disconnect()
            if attempt == 2:
                raise
        except BaseException:
            connection.disconnect()
            raise
    raise AssertionError("unreachable")


_kept = threading.local()
KEPT_POOLS = 8  # pools a thread keeps a connection of (a cluster's masters, after failovers)


def kept_connection(pool: redis.ConnectionPool) -> Connection:
    """This thread's own connection of `pool`, taken from it once and never given
    back: the pool's get and release (a lock, a poll for unread data, observability
    counters) cost a submission ~35 µs of the web process's CPU (BENCHMARKS.md, issue
    13). The pool still counts it as in use, so its disconnect() closes it too (the
    next send connects again); one taken before a fork is left to the parent. The
    pool is held beside it, so its id cannot be reused while it is kept."""
    kept: dict[int, tuple[redis.ConnectionPool, Connection]] = _kept.__dict__.setdefault(
        "by_pool", {}
    )
    held = kept.get(id(pool))
    if held is not None and held[1].pid == os.getpid():
        return held[1]
    if len(kept) >= KEPT_POOLS:  # pools of nodes gone after failovers: give theirs back
        for old_pool, old in kept.values():
            if old.pid == os.getpid():
                old_pool.release(old)
        kept.clear()
    connection = pool.get_connection()
    kept[id(pool)] = (pool, connection)
    return connection
