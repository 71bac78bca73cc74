"""The services of the multi-host test, each started on its own host (network.py).

Debian's own binaries, as an operator would run them: redis-server (a Redis Cluster
of 3 masters with a replica each, AOF with fsync on every write, and a plain one for
RQ's jobs), PostgreSQL (a primary and a streaming replica made with pg_basebackup,
run as the postgres user in folders of their own), HAProxy in front of gunicorn web
hosts, and `survey-engine worker` on worker hosts. Readiness is always asked over
the network from another host, never assumed from a sleep.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.cluster.network import Host

BIN = Path(sys.executable).parent  # the virtualenv pytest runs from
PG_BIN = (
    Path(sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1])
    if glob.glob("/usr/lib/postgresql/*/bin")
    else Path("/usr/lib/postgresql/missing/bin")
)
REDIS_PORT = 6379
PG_PORT = 5432
WEB_PORT = 8000
LB_PORT = 80
DATABASE = "survey_engine"


class NotReady(AssertionError):
    """A service did not come up (or a failover did not happen) in time."""


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll `condition` every 0.1 s; returns the seconds it took."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise NotReady(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.1)
    return time.monotonic() - started


def private_dir(base: Path, name: str, owner: str | None = None) -> Path:
    """A folder the service's user can write (pytest's tmp dirs are root's only)."""
    path = base / name
    path.mkdir(parents=True)
    if owner:
        shutil.chown(path, owner, owner)
    return path


# -- Redis ---------------------------------------------------------------------------------


@dataclass
class RedisNode:
    host: Host
    args: list[str]  # redis-server's command line, to start it again
    proc: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"{self.host.address}:{REDIS_PORT}"

    def cli(self, *args: str, check: bool = True) -> str:
        """redis-cli on the node's own host, so a dead peer never matters."""
        result = self.host.run(
            ["redis-cli", "-h", self.host.address, "-p", str(REDIS_PORT), *args],
            check=check,
            timeout=10,
        )
        return result.stdout.strip()

    def alive(self) -> bool:
        running = self.proc is not None and self.proc.poll() is None
        return running and self.cli("ping", check=False) == "PONG"

    def start(self) -> None:
        self.proc = self.host.start("redis", self.args, user="redis")
        wait_until(self.alive, 30, f"redis-server on {self.host.name}")


def start_redis(host: Host, base: Path, cluster: bool) -> RedisNode:
    """redis-server on `host`: AOF with fsync on every write, so what it acknowledged
    survives kill -9; in cluster mode a node timeout of 2 s (failover in seconds)."""
    directory = private_dir(base, f"redis-{host.name}", owner="redis")
    args = [
        "redis-server",
        "--bind", host.address, "127.0.0.1",
        "--port", str(REDIS_PORT),
        "--protected-mode", "no",  # the namespace's network is the test's alone
        "--appendonly", "yes",
        "--appendfsync", "always",
        "--save", "",
        "--dir", str(directory),
        "--daemonize", "no",
    ]  # fmt: skip
    if cluster:
        args += [
            "--cluster-enabled", "yes",
            "--cluster-config-file", str(directory / "nodes.conf"),
            "--cluster-node-timeout", "2000",
        ]  # fmt: skip
    node = RedisNode(host, args)
    node.start()
    return node


def create_cluster(nodes: list[RedisNode]) -> None:
    """3 masters with a replica each: redis-cli picks which replicates which."""
    nodes[0].host.run(
        ["redis-cli", "--cluster", "create", *(n.address for n in nodes),
         "--cluster-replicas", "1", "--cluster-yes"],
        timeout=60,
    )  # fmt: skip

    def settled() -> bool:
        """Every node sees 3 masters and 3 replicas, and each replica is in sync."""
        for node in nodes:
            if "cluster_state:ok" not in node.cli("cluster", "info"):
                return False
            roles = cluster_roles(node).values()
            if sum(r["master"] for r in roles) != 3 or sum(not r["master"] for r in roles) != 3:
                return False
            replication = node.cli("info", "replication")
            if "role:slave" in replication and "master_link_status:up" not in replication:
                return False
        return True

    wait_until(settled, 60, "the Redis Cluster to agree on its slots and replicas")


def cluster_roles(node: RedisNode) -> dict[str, dict]:
    """CLUSTER NODES as seen by `node`: address -> {id, master (bool), of, slots}."""
    roles = {}
    for line in node.cli("cluster", "nodes").splitlines():
        fields = line.split()
        address = fields[1].split("@")[0]
        roles[address] = {
            "id": fields[0],
            "master": "master" in fields[2].split(","),
            "failed": "fail" in fields[2].split(","),
            "of": fields[3],  # the master's id for a replica, "-" for a master
            "slots": fields[8:],
        }
    return roles


def master_of_slot(node: RedisNode, slot: int) -> str:
    for address, role in cluster_roles(node).items():
        if not role["master"] or role["failed"]:
            continue
        for span in role["slots"]:
            if span.startswith("["):  # a slot being migrated: not here
                continue
            low, _, high = span.partition("-")
            if int(low) <= slot <= int(high or low):
                return address
    raise LookupError(f"no master serves slot {slot}")


def replica_of(node: RedisNode, master_address: str) -> str:
    roles = cluster_roles(node)
    master_id = roles[master_address]["id"]
    return next(a for a, r in roles.items() if r["of"] == master_id)


# -- PostgreSQL ----------------------------------------------------------------------------


@dataclass
class Postgres:
    host: Host
    data: Path
    sockets: Path  # outside the data folder, or pg_basebackup would copy the lock file
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@{self.host.address}:{PG_PORT}/{DATABASE}"

    def start(self) -> None:
        """The server in the foreground; its socket file in a folder of its own, never
        in /var/run/postgresql where the machine's own PostgreSQL keeps 5432's."""
        self.proc = self.host.start(
            "postgres",
            [
                str(PG_BIN / "postgres"),
                "-D", str(self.data),
                "-p", str(PG_PORT),
                "-c", f"listen_addresses={self.host.address}",
                "-c", f"unix_socket_directories={self.sockets}",
                "-c", "max_connections=200",
            ],
            user="postgres",
        )  # fmt: skip
        wait_until(self.ready, 60, f"PostgreSQL on {self.host.name}")

    def ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise NotReady(f"PostgreSQL on {self.host.name} exited {self.proc.returncode}")
        probe = [str(PG_BIN / "pg_isready"), "-q", "-h", self.host.address, "-p", str(PG_PORT),
                 "-U", "postgres"]  # fmt: skip
        return self.host.run(probe, check=False).returncode == 0

    def stop(self) -> None:
        """A fast shutdown (SIGINT), as `pg_ctl stop -m fast` does."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(2)
            self.proc.wait(timeout=60)

    def sql(self, query: str, database: str = DATABASE) -> str:
        result = self.host.run(
            [str(PG_BIN / "psql"), "-h", self.host.address, "-p", str(PG_PORT), "-U",
             "postgres", "-d", database, "-Atc", query],
            timeout=30,
        )  # fmt: skip
        return result.stdout.strip()


HBA = """\
local all all trust
host all all 10.213.0.0/24 trust
host replication all 10.213.0.0/24 trust
"""


def start_primary(host: Host, base: Path) -> Postgres:
    folder = private_dir(base, f"pg-{host.name}", owner="postgres")
    data, sockets = folder / "data", private_dir(folder, "run", owner="postgres")
    host.run(
        [str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
         "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"],
        user="postgres",
        timeout=120,
    )  # fmt: skip
    (data / "pg_hba.conf").write_text(HBA)
    server = Postgres(host, data, sockets)
    server.start()
    server.sql(f"CREATE DATABASE {DATABASE}", database="postgres")
    return server


def start_replica(host: Host, base: Path, primary: Postgres) -> Postgres:
    """A hot standby streaming from `primary` (pg_basebackup -R writes the
    standby.signal and primary_conninfo)."""
    folder = private_dir(base, f"pg-{host.name}", owner="postgres")
    data, sockets = folder / "data", private_dir(folder, "run", owner="postgres")
    host.run(
        [str(PG_BIN / "pg_basebackup"), "-h", primary.host.address, "-p", str(PG_PORT),
         "-U", "postgres", "-D", str(data), "-R", "-X", "stream", "--no-sync",
         "--checkpoint=fast"],
        user="postgres",
        timeout=120,
    )  # fmt: skip
    server = Postgres(host, data, sockets)
    server.start()
    return server


# -- HAProxy, gunicorn, workers ----------------------------------------------------------------

HAPROXY = """\
global
    maxconn 4000

defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 30s
    timeout queue 30s
    timeout check 5s
    timeout http-keep-alive 30s
    retries 3
    option redispatch 1  # a retry after a refused connection goes to another host

frontend citizens
    bind {address}:{lb_port}
    default_backend web

backend web
    balance roundrobin
    # /healthz answers 503 when the node can store nowhere: it is drained. A sync
    # gunicorn worker serves one request at a time, so each server gets as many as it
    # has workers and the rest wait here: a health check never waits behind a backlog
    # in the server's own listen queue (and a busy node is not taken for a dead one).
    # A host that refuses connections is marked down at once (observe layer4), and
    # one whose check failed is checked again at fastinter.
    option httpchk GET /healthz
    http-check expect status 200
    default-server {server_options}
    http-response set-header X-Served-By %s
{servers}
"""


def start_haproxy(
    host: Host, base: Path, web_hosts: list[Host], per_server: int
) -> subprocess.Popen:
    servers = "\n".join(f"    server {w.name} {w.address}:{WEB_PORT} check" for w in web_hosts)
    config = private_dir(base, f"haproxy-{host.name}") / "haproxy.cfg"
    options = (
        f"inter 1s fastinter 250ms fall 3 rise 2 maxconn {per_server}"
        " observe layer4 error-limit 1 on-error mark-down"
    )
    config.write_text(
        HAPROXY.format(
            address=host.address, lb_port=LB_PORT, servers=servers, server_options=options
        )
    )
    host.run(["haproxy", "-c", "-f", str(config)])  # refuse a bad file before starting
    return host.start("haproxy", ["haproxy", "-db", "-f", str(config)])


def start_web(host: Host, env: dict, workers: int = 2) -> subprocess.Popen:
    return host.start(
        "gunicorn",
        [
            str(BIN / "gunicorn"),
            "--workers", str(workers),
            "--bind", f"{host.address}:{WEB_PORT}",
            "--no-control-socket",
            "survey_engine:create_app()",
        ],
        env,
    )  # fmt: skip


def start_worker(host: Host, env: dict) -> subprocess.Popen:
    return host.start("worker", [str(BIN / "survey-engine"), "worker"], env)


def http_status(client: Host, url: str, timeout: float = 5) -> int:
    """The status of GET url, asked from the client host (curl), 0 if none."""
    result = client.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", str(timeout), url],
        check=False,
        timeout=timeout + 5,
    )
    return int(result.stdout or 0)


def served_by(client: Host, url: str) -> str:
    """Which web host HAProxy sent GET url to (its X-Served-By header), "" if none."""
    result = client.run(
        ["curl", "-s", "-D", "-", "-o", "/dev/null", "-m", "5", url], check=False, timeout=10
    )
    for line in result.stdout.splitlines():
        name, _, value = line.partition(":")
        if name.lower() == "x-served-by":
            return value.strip()
    return ""


def survey_engine(host: Host, env: dict, *args: str, input: str | None = None) -> str:
    """A `survey-engine` command run on `host` (e.g. a worker host)."""
    return host.run([str(BIN / "survey-engine"), *args], env=env, input=input, timeout=180).stdout


def environ_without(*names: str) -> dict:
    return {k: v for k, v in os.environ.items() if k not in names}
