"""The multi-host test (`make test-cluster`): the production shape on network
namespaces, a 30,000-submission campaign through the balancer, and faults during it.

    semh-client ──► semh-lb (HAProxy) ──► semh-web1, semh-web2 (gunicorn)
                                              │
      semh-redis1..6: Redis Cluster, 3 masters + 3 replicas ◄──┤──► semh-rq (RQ's jobs)
      semh-work1, semh-work2 (survey-engine worker) ──► semh-pg1 (primary) ──► semh-pg2 (replica)

During the campaign: kill -9 one web host's gunicorn (master and workers), kill -9
one worker host's worker, kill -9 the Redis master that holds the survey (its replica
takes over), restart the PostgreSQL replica. Then, once the workers have drained:
every acknowledged submission is stored, nothing is stored twice or without an
acknowledgement, no dead letters, the tallies equal a recount, and the dashboard's
figures come from the surviving web host (through HAProxy), reading the replica.

It needs root (network namespaces) and fails, never skips, where it cannot make them.
CLUSTER_SUBMISSIONS changes the campaign's size (debugging: 2000).
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pytest

from tests.cluster import services
from tests.cluster.network import Host, Network, cannot_create_namespaces, remove_leftovers
from tests.cluster.services import NotReady, Postgres, RedisNode, wait_until
from tests.conftest import DEMO_SLUG
from tests.test_faults import ROOT, Processes, environment

pytestmark = pytest.mark.cluster

SUBMISSIONS = int(os.environ.get("CLUSTER_SUBMISSIONS", 30_000))
ANALYST = "analyst@cluster.test"
WEB_WORKERS = 2  # gunicorn's sync workers per web host
SECRET_KEY = "semh-shared-secret-key"
# When each fault happens, as a share of the campaign's acknowledged submissions.
FAULTS_AT = {"web": 0.15, "worker": 0.30, "redis": 0.45, "replica": 0.65}

ADDRESSES = {
    "lb": 10, "web1": 11, "web2": 12, "work1": 21, "work2": 22,
    **{f"redis{i}": 30 + i for i in range(1, 7)},
    "rq": 40, "pg1": 51, "pg2": 52, "client": 100,
}  # fmt: skip


@dataclass
class Cluster:
    """Every host and service of the test, and the settings the app runs with."""

    network: Network
    base: Path  # data folders of the services
    hosts: dict[str, Host]
    redis: list[RedisNode]
    rq: RedisNode
    primary: Postgres
    replica: Postgres | None
    web: dict[str, subprocess.Popen] = field(default_factory=dict)
    workers: dict[str, subprocess.Popen] = field(default_factory=dict)
    env: dict = field(default_factory=dict)
    token: str = ""
    survey_id: int = 0

    @property
    def client(self) -> Host:
        return self.hosts["client"]

    @property
    def lb_url(self) -> str:
        return f"http://{self.hosts['lb'].address}:{services.LB_PORT}"

    def phones(self, *args: str, timeout: float = 120) -> dict:
        """tests/cluster/phones.py on the client host; its JSON answer."""
        result = self.client.run(
            [sys.executable, "-m", "tests.cluster.phones", *args], env=self.env, timeout=timeout
        )
        return json.loads(result.stdout.splitlines()[-1])

    def buffer_node(self) -> RedisNode:
        return next(node for node in self.redis if node.alive())


@pytest.fixture
def network(tmp_path) -> Iterator[tuple[Network, Path]]:
    """The switch, torn down with everything on it however the test ends (atexit
    too, for an interrupted pytest); a crashed earlier run's leftovers go first."""
    reason = cannot_create_namespaces()
    if reason:
        pytest.fail(
            f"the multi-host test cannot create network namespaces here: {reason}. "
            "Run `make test-cluster` as root on a machine with iproute2 (CI does).",
            pytrace=False,
        )
    left = remove_leftovers()
    for folder in Path(tempfile.gettempdir()).glob("semh-run-*"):  # a killed run's data
        shutil.rmtree(folder, ignore_errors=True)
        left.append(folder.name)
    if left:
        print(f"removed leftovers of an earlier run: {', '.join(left)}")
    base = Path(tempfile.mkdtemp(prefix="semh-run-"))
    base.chmod(0o755)  # the redis and postgres users reach their folders inside
    logs = tmp_path / "logs"
    logs.mkdir()
    net = Network(logs, ROOT)
    atexit.register(net.close)
    try:
        net.add_switch()
        yield net, base
    finally:
        net.close()
        atexit.unregister(net.close)
        shutil.rmtree(base, ignore_errors=True)
        assert not [n for n in remove_leftovers()], "namespaces were left behind"


def build(network: Network, base: Path) -> Cluster:
    """Every host and service; what does not depend on another starts in parallel."""
    started = time.monotonic()
    hosts = {name: network.add_host(name, octet) for name, octet in ADDRESSES.items()}
    redis_hosts = [hosts[f"redis{i}"] for i in range(1, 7)]
    with ThreadPoolExecutor(8) as pool:
        redis_started = [pool.submit(services.start_redis, h, base, True) for h in redis_hosts]
        rq_started = pool.submit(services.start_redis, hosts["rq"], base, False)
        primary = services.start_primary(hosts["pg1"], base)
        replica_started = pool.submit(services.start_replica, hosts["pg2"], base, primary)
        redis = [f.result() for f in redis_started]
        services.create_cluster(redis)
        cluster = Cluster(network, base, hosts, redis, rq_started.result(), primary, None)
        cluster.env = settings(cluster, base)
        set_up_database(cluster)
        cluster.replica = replica_started.result()
    print(f"databases and Redis ready after {time.monotonic() - started:.1f}s")

    for name in ("web1", "web2"):
        cluster.web[name] = services.start_web(hosts[name], cluster.env, WEB_WORKERS)
    for name in ("work1", "work2"):
        cluster.workers[name] = services.start_worker(hosts[name], cluster.env)
    web_hosts = [hosts["web1"], hosts["web2"]]
    for name in ("web1", "web2"):
        url = f"http://{hosts[name].address}:{services.WEB_PORT}/healthz"
        wait_until(lambda u=url: services.http_status(cluster.client, u) == 200, 60, f"{name}")
    services.start_haproxy(hosts["lb"], base, web_hosts, per_server=WEB_WORKERS)
    seen: set[str] = set()
    wait_until(
        lambda: (
            seen.add(services.served_by(cluster.client, f"{cluster.lb_url}/healthz"))
            or seen >= {"web1", "web2"}
        ),
        30,
        "HAProxy to send requests to both web hosts",
    )
    print(f"cluster built in {time.monotonic() - started:.1f}s")
    return cluster


def settings(cluster: Cluster, base: Path) -> dict:
    """The environment of every web host, worker host and command (COMMON settings)."""
    nodes = ",".join(node.address for node in cluster.redis)
    env = environment(
        cluster.primary.url,
        f"redis://{nodes}",
        PYTHONPATH=str(ROOT),  # this checkout's code, not the virtualenv's own install
        SECRET_KEY=SECRET_KEY,  # one key for every web host: sessions and CSRF
        TRUSTED_PROXIES=1,  # HAProxy
        RQ_REDIS_URL=f"redis://{cluster.rq.address}/0",
        DATABASE_READ_URL=f"postgresql://postgres@{cluster.hosts['pg2'].address}:"
        f"{services.PG_PORT}/{services.DATABASE}",
        LIMIT_DEVICE_PER_10_MINUTES=0,  # with environment()'s: one client host sends all
        DRAIN_CLAIM_IDLE_MS=2000,  # a killed worker's batch is taken over within seconds
        EXPORT_DIR=str(base / "exports"),
    )
    # A cluster; a 202 only once a replica has the submission too (else it is also
    # stored straight in the database).
    env.update(REDIS_CLUSTER="1", REDIS_WAIT_REPLICAS="1")
    return env


def set_up_database(cluster: Cluster) -> None:
    """The schema, the demo survey and an analyst's token, as an operator makes them
    (from a worker host)."""
    host, env = cluster.hosts["work1"], cluster.env
    demo = resources.files("survey_engine").joinpath(f"demo/{DEMO_SLUG}.json")
    services.survey_engine(host, env, "init-db")
    services.survey_engine(host, env, "import", str(demo), "--publish")
    password = "cluster-test-pw-1\n"
    services.survey_engine(host, env, "create-user", ANALYST, "--role", "admin", input=password)
    cluster.token = services.survey_engine(host, env, "create-token", ANALYST).strip()
    cluster.survey_id = int(
        cluster.primary.sql(f"SELECT id FROM surveys WHERE slug = '{DEMO_SLUG}'")
    )


# -- the faults ----------------------------------------------------------------------------


def kill_web(cluster: Cluster) -> str:
    Processes.kill(cluster.web["web1"])  # kill -9 of gunicorn's group: master and workers
    return "web1: gunicorn master and workers killed (-9)"


def kill_worker(cluster: Cluster) -> str:
    Processes.kill(cluster.workers["work1"])
    return "work1: worker killed (-9)"


def fail_over_redis(cluster: Cluster) -> tuple[str, float]:
    """kill -9 the master that holds the survey; seconds until its replica is master.

    Then the dead node is started again, as a supervisor would: it rejoins as the new
    master's replica. Until it has, that shard has no replica, so REDIS_WAIT_REPLICAS=1
    cannot be met and every submission is also stored straight in the database."""
    node = cluster.redis[0]
    slot = int(node.cli("cluster", "keyslot", f"se:{{{cluster.survey_id}}}:stream"))
    master_address = services.master_of_slot(node, slot)
    replica_address = services.replica_of(node, master_address)
    master = next(n for n in cluster.redis if n.address == master_address)
    replica = next(n for n in cluster.redis if n.address == replica_address)
    Processes.kill(master.proc)
    killed = time.monotonic()
    wait_until(
        lambda: replica.cli("role", check=False).startswith("master"), 30, "the replica's promotion"
    )
    took = time.monotonic() - killed
    master.start()  # its nodes.conf and AOF are still there
    wait_until(
        lambda: "state=online" in replica.cli("info", "replication", check=False),
        60,
        f"{master.host.name} to rejoin as a replica of {replica.host.name}",
    )
    rejoined = time.monotonic() - killed
    what = (
        f"{master.host.name} (master of slot {slot}) killed (-9); {replica.host.name} took "
        f"over after {took:.1f}s; {master.host.name} restarted, its replica after {rejoined:.1f}s"
    )
    return what, took


def restart_replica(cluster: Cluster) -> str:
    assert cluster.replica is not None
    cluster.replica.stop()
    cluster.replica.start()
    return "pg2: PostgreSQL replica stopped (fast) and started again"


# -- the test ------------------------------------------------------------------------------


def test_a_campaign_through_the_cluster_survives_its_faults(network) -> None:
    net, base = network
    cluster = build(net, base)
    out = base / "client"
    out.mkdir()
    campaign = cluster.client.start(
        "campaign",
        [sys.executable, "-m", "tests.cluster.phones", "campaign", "--url", cluster.lb_url,
         "--slug", DEMO_SLUG, "--count", str(SUBMISSIONS), "--threads", "16",
         "--out", str(out)],
        cluster.env,
    )  # fmt: skip

    def acknowledged() -> int:
        try:
            return int((out / "progress").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return 0

    wait_until(lambda: (out / "started").exists(), 120, "the campaign to start")
    started = float((out / "started").read_text())  # seconds into the campaign, on its clock
    faults: dict[str, float] = {}
    failover_seconds = -1.0
    steps = [
        ("web", kill_web),
        ("worker", kill_worker),
        ("redis", fail_over_redis),
        ("replica", restart_replica),
    ]
    for name, fault in steps:
        at = FAULTS_AT[name] * SUBMISSIONS
        while acknowledged() < at:
            if campaign.poll() is not None:
                pytest.fail(f"the campaign ended before the {name} fault\n{net.processes.tails()}")
            time.sleep(0.1)
        faults[name] = round(time.time() - started, 1)
        result = fault(cluster)
        if isinstance(result, tuple):
            result, failover_seconds = result
        print(f"{faults[name]:>6.1f}s  {acknowledged():>6} acknowledged  {result}")
    try:
        campaign.wait(timeout=900)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the campaign did not end\n{net.processes.tails()}")
    figures = json.loads((out / "campaign.json").read_text())
    acked = set((out / "acknowledged.txt").read_text().split())
    assert not figures["refused"], figures["refused"]  # valid answers are never refused
    assert len(acked) == figures["acknowledged"] == SUBMISSIONS, figures

    # The drain: the surviving worker stores the rest, the killed one's batch included.
    drain_started = time.monotonic()

    def drained() -> bool:
        stored = int(cluster.primary.sql("SELECT count(*) FROM responses"))
        return stored >= len(acked) and backlog(cluster) == 0

    try:
        wait_until(drained, 300, "the workers to drain the streams")
    except NotReady as error:
        pytest.fail(f"{error}\n{net.processes.tails()}")
    drain_seconds = time.monotonic() - drain_started

    audit = cluster.phones(
        "audit", "--database-url", cluster.primary.url, "--redis-url",
        f"redis://{cluster.buffer_node().address}", "--out", str(out),
    )  # fmt: skip
    stored = Counter(
        {sid: int(n) for sid, n in (line.split() for line in (out / "stored.txt").open())}
    )
    doubled = {sid: n for sid, n in stored.items() if n > 1}
    dead = sum(audit["dead"].values())

    recount = services.survey_engine(cluster.hosts["work2"], cluster.env, "recount", DEMO_SLUG)

    # The dashboard's figures, as an analyst asks for them through the balancer.
    results_url = f"{cluster.lb_url}/api/v1/surveys/{DEMO_SLUG}/results"
    replica_reads_before = replica_scans(cluster.replica)
    dashboard = cluster.phones("get", results_url, "--token", cluster.token)
    for _ in range(60):  # counted by the workers' idle ticks: complete soon after
        if dashboard["status"] != 200 or dashboard["body"].get("complete"):
            break
        time.sleep(1)
        dashboard = cluster.phones("get", results_url, "--token", cluster.token)
    replica_reads = replica_scans(cluster.replica) - replica_reads_before
    health = cluster.phones("get", f"{cluster.lb_url}/healthz")

    summary = {
        "submissions": SUBMISSIONS,
        "acknowledged": len(acked),
        "stored": len(stored),
        "rows": audit["rows"],
        "doubled": len(doubled),
        "dead_letters": dead,
        "retries": figures["retries"],
        "statuses": figures["statuses"],
        "campaign_seconds": figures["seconds"],
        "submissions_per_second": figures["per_second"],
        "longest_wait_seconds": figures["longest_wait_seconds"],
        "longest_stall": figures["longest_stall"],
        "acknowledged_per_second": " ".join(map(str, figures["acknowledged_per_second"])),
        "faults_at_seconds": faults,
        "redis_failover_seconds": round(failover_seconds, 2),
        "drain_after_campaign_seconds": round(drain_seconds, 1),
        "dashboard": {
            "status": dashboard["status"],
            "served_by": dashboard["served_by"],
            "responses": dashboard["body"].get("responses"),
            "complete": dashboard["body"].get("complete"),
            "replica_scans_of_responses_by_this_request": replica_reads,
            "replica_scans_of_responses_since_its_restart": replica_scans(cluster.replica),
        },
        "healthz": health["body"],
        "cpu_seconds_by_host": {
            name: round(host.cpu_seconds(), 1) for name, host in cluster.hosts.items()
        },
    }
    print("FIGURES " + json.dumps(summary, indent=1))

    assert set(stored) == acked, (
        f"{len(acked - set(stored))} acknowledged but not stored, "
        f"{len(set(stored) - acked)} stored but never acknowledged"
    )
    assert not doubled and audit["rows"] == audit["distinct"], doubled
    assert dead == 0, audit["dead"]
    assert sum(audit["streams"].values()) == 0 and sum(audit["pending"].values()) == 0, audit
    assert f"{SUBMISSIONS} responses; tallies match the responses" in recount, recount
    assert dashboard["status"] == 200, dashboard
    assert dashboard["served_by"] == "web2", dashboard  # web1 is dead
    assert dashboard["body"]["responses"] == SUBMISSIONS, dashboard["body"]
    assert health["status"] == 200 and health["served_by"] == "web2", health
    if "replica" in health["body"]:  # the read replica's work (DATABASE_READ_URL) is in
        assert health["body"]["replica"] == "ok", health["body"]
        assert health["body"].get("replica_streaming") is True, health["body"]
        # The dashboard's counts are made from the replica: by the request itself, or by
        # the workers' idle ticks that keep the saved counts up to date.
        assert replica_scans(cluster.replica) > 0, "nothing read the responses on the replica"
    else:
        print("NOT CHECKED: this checkout has no read replica (/healthz has no 'replica')")


def backlog(cluster: Cluster) -> int:
    """Entries of the survey's stream not yet stored (redis-cli -c follows MOVED)."""
    node = cluster.buffer_node()
    key = f"se:{{{cluster.survey_id}}}:stream"
    length = node.cli("-c", "xlen", key, check=False)
    return int(length) if length.isdigit() else -1


def replica_scans(replica: Postgres | None) -> int:
    """Scans of the responses table the replica has served (its own statistics)."""
    assert replica is not None
    value = replica.sql(
        "SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) FROM pg_stat_user_tables"
        " WHERE relname = 'responses'"
    )
    return int(value or 0)
