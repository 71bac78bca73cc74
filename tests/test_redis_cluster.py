"""The buffer on a real Redis Cluster (three masters, a replica each, on loopback).

What an operator does: REDIS_CLUSTER=1, REDIS_URL naming any one node, RQ_REDIS_URL a
plain Redis for the jobs. Each survey's keys share a hash slot, so the accept script
runs on the survey's shard; the registry `se:surveys` lives on another shard and the
workers find every stream through it.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
import sqlalchemy as sa
from rq.registry import FinishedJobRegistry
from rq.results import Result

from survey_engine.catalog import find_survey, save_definition
from survey_engine.config import ConfigError
from survey_engine.extensions import db
from survey_engine.intake.buffer import (
    SHORT_WAIT_MS,
    SURVEYS_KEY,
    counters_key,
    dead_key,
    stream_key,
)
from survey_engine.models import Response
from survey_engine.queue import enqueue
from survey_engine.redis_connections import node_client, parse
from tests.conftest import (
    DEMO_SLUG,
    TEST_REDIS_URL,
    demo_definition,
    make_app,
    new_id,
    seeded_app,
    valid_answers,
)
from tests.redis_topologies import LoopbackCluster
from tests.test_buffer import assert_tallies_equal_recount
from workers.main import run_worker

# Processes of their own, killed on purpose: run once, in the PostgreSQL pass.
pytestmark = pytest.mark.faults


@pytest.fixture
def cluster(tmp_path):
    cluster = LoopbackCluster(tmp_path / "cluster")
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def cluster_app(database_url, redis_client, cluster, tmp_path):
    yield from seeded_app(
        database_url, **cluster_settings(cluster), EXPORT_DIR=str(tmp_path / "exports")
    )


def cluster_settings(cluster: LoopbackCluster, **settings: object) -> dict:
    """What an operator sets: any one node, and a plain Redis for the jobs."""
    return {
        "REDIS_URL": cluster.url,
        "REDIS_CLUSTER": True,
        "RQ_REDIS_URL": TEST_REDIS_URL,
        "DRAIN_CLAIM_IDLE_MS": 0,
        **settings,
    }


def submit(client, slug: str, submission_id: str | None = None):
    return client.post(
        f"/api/v1/surveys/{slug}/responses",
        json={"submission_id": submission_id or new_id(), "answers": valid_answers()},
    )


def stored(survey_id: int) -> Counter[str]:
    db.session.expire_all()
    return Counter(
        str(sid)
        for sid in db.session.scalars(
            sa.select(Response.submission_id).where(Response.survey_id == survey_id)
        )
    )


def surveys_on_every_shard(cluster: LoopbackCluster) -> dict[int, str]:
    """The demo plus copies, until the surveys' streams sit on all three masters."""
    slugs = {find_survey(DEMO_SLUG).id: DEMO_SLUG}
    for n in range(12):
        if len({cluster.master_of(stream_key(i)) for i in slugs}) == 3:
            break
        copy = save_definition({**demo_definition(), "slug": f"ban-sao-{n}"}, publish=True)
        slugs[copy.id] = copy.slug
    return slugs


def test_submissions_land_in_each_surveys_shard_and_the_workers_drain_every_shard(
    cluster_app, cluster, redis_client
):
    slugs = surveys_on_every_shard(cluster)
    masters = {survey_id: cluster.master_of(stream_key(survey_id)) for survey_id in slugs}
    assert len(set(masters.values())) == 3, masters
    client = cluster_app.test_client()
    sent: dict[int, list[str]] = {survey_id: [] for survey_id in slugs}
    for survey_id, slug in slugs.items():
        for _ in range(3):
            sent[survey_id].append(new_id())
            assert submit(client, slug, sent[survey_id][-1]).status_code == 202

    # In the stream of the survey's own master, nothing stored yet, nothing went to the
    # database directly (the MOVED fallback of a client that is not cluster-aware).
    for survey_id, port in masters.items():
        assert cluster.node(port).xlen(stream_key(survey_id)) == 3
        assert stored(survey_id) == Counter()
        counts = cluster.client().hgetall(counters_key(survey_id))
        assert counts[b"accepted"] == b"3" and b"stored_directly" not in counts
    registry = {int(i) for i in cluster.client().smembers(SURVEYS_KEY)}
    assert registry == set(slugs)
    # A duplicate is answered by the shard, before any stream.
    first = next(iter(slugs))
    again = submit(client, slugs[first], sent[first][0])
    assert again.status_code == 202 and again.get_json()["duplicate"] is True

    # The jobs go to the plain Redis of RQ_REDIS_URL; the cluster has no RQ keys.
    job = enqueue("survey_engine.jobs.recount_job", DEMO_SLUG)
    assert redis_client.exists(f"rq:job:{job.id}")
    assert not cluster.client().keys("rq:*")

    run_worker(cluster_app, burst=True)  # the drain over every shard, then the jobs

    for survey_id in slugs:
        assert stored(survey_id) == Counter({sid: 1 for sid in sent[survey_id]})
        assert cluster.node(masters[survey_id]).xlen(stream_key(survey_id)) == 0
        assert cluster.client().xlen(dead_key(survey_id)) == 0
    assert_tallies_equal_recount()
    assert job.id in FinishedJobRegistry("default", connection=redis_client).get_job_ids()
    recount = Result.fetch_latest(job).return_value  # type: ignore[union-attr]
    assert (recount.responses, recount.differences) == (len(sent[first]), [])


@pytest.fixture
def waiting_app(database_url, redis_client, cluster, tmp_path):
    """As recommended with replicas: acknowledged once a replica has it (WAIT 1)."""
    yield from seeded_app(
        database_url,
        **cluster_settings(cluster, REDIS_WAIT_REPLICAS=1),
        EXPORT_DIR=str(tmp_path / "exports"),
    )


def test_wait_acknowledges_once_the_replica_has_the_entry(waiting_app, cluster):
    app = waiting_app
    survey_id = find_survey(DEMO_SLUG).id
    master = cluster.master_of(stream_key(survey_id))
    (replica,) = cluster.replicas_of(master)
    assert submit(app.test_client(), DEMO_SLUG).status_code == 202
    # WAIT returned 1: the replica holds the entry at the moment of the 202.
    assert cluster.read_replica(replica).xlen(stream_key(survey_id)) == 1
    assert stored(survey_id) == Counter()


def test_with_fewer_replicas_than_asked_the_submission_is_also_stored_and_counted_once(
    database_url, redis_client, cluster, tmp_path
):
    for app in seeded_app(
        database_url,
        # each master has one replica
        **cluster_settings(cluster, REDIS_WAIT_REPLICAS=2, REDIS_WAIT_TIMEOUT_MS=50),
        EXPORT_DIR=str(tmp_path / "exports"),
    ):
        survey_id = find_survey(DEMO_SLUG).id
        submission_id = new_id()
        assert submit(app.test_client(), DEMO_SLUG, submission_id).status_code == 202
        # Stored at once (a failover could lose the stream's only copy) ...
        assert stored(survey_id) == Counter({submission_id: 1})
        counts = cluster.client().hgetall(counters_key(survey_id))
        assert counts[b"unreplicated"] == b"1"
        assert cluster.client().xlen(stream_key(survey_id)) == 1
        # Meanwhile the shard's next WAITs are short: a master with no replica (just
        # promoted) must not hold every submission for the whole timeout.
        buffer = app.extensions["stream_buffer"]
        node = node_client(buffer.client, stream_key(survey_id))
        assert buffer._wait_ms(node, time.monotonic()) == SHORT_WAIT_MS < 50
        # ... and the drain, meeting it in the stream, stores it no second time.
        run_worker(app, burst=True, jobs=False)
        assert stored(survey_id) == Counter({submission_id: 1})
        assert cluster.client().xlen(stream_key(survey_id)) == 0
        assert_tallies_equal_recount()


class Phones:
    """Three phones sending to the demo until the block ends; each retries with the
    same submission_id until it has a 202, as the page does."""

    def __init__(self, app) -> None:
        self.app = app
        self.acknowledged: list[str] = []
        self.failures: Counter[int] = Counter()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._phone) for _ in range(3)]

    def __enter__(self) -> Phones:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def _phone(self) -> None:
        client = self.app.test_client()
        with self.app.app_context():
            while not self.stop.is_set():
                submission_id = new_id()
                for _ in range(50):
                    status = submit(client, DEMO_SLUG, submission_id).status_code
                    if status == 202:
                        self.acknowledged.append(submission_id)
                        break
                    self.failures[status] += 1
                    self.stop.wait(0.1)

    def until(self, n: int) -> int:
        """Wait (at most 2 minutes) until n submissions are acknowledged."""
        deadline = time.monotonic() + 120
        while len(self.acknowledged) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return len(self.acknowledged)


def test_a_master_killed_mid_campaign_loses_and_doubles_nothing(waiting_app, cluster):
    """Phones keep sending while the survey's master dies and its replica takes over."""
    app = waiting_app
    survey_id = find_survey(DEMO_SLUG).id
    old_master = cluster.master_of(stream_key(survey_id))
    with Phones(app) as phones:
        phones.until(10)
        cluster.kill(old_master)
        at_kill = len(phones.acknowledged)
        new_master = cluster.wait_for_new_master(stream_key(survey_id), old_master)
        phones.until(len(phones.acknowledged) + 10)  # answered after the failover
    acknowledged, failures = phones.acknowledged, phones.failures
    # The buffer is in use again after the failover, not bypassed.
    in_stream = cluster.node(new_master).xlen(stream_key(survey_id))
    last = new_id()
    assert submit(app.test_client(), DEMO_SLUG, last).status_code == 202
    assert cluster.node(new_master).xlen(stream_key(survey_id)) == in_stream + 1
    acknowledged.append(last)

    run_worker(app, burst=True, jobs=False)

    assert at_kill >= 10 and len(acknowledged) >= at_kill + 10 and not failures, failures
    assert stored(survey_id) == Counter({sid: 1 for sid in acknowledged})
    assert cluster.client().xlen(dead_key(survey_id)) == 0
    assert_tallies_equal_recount()


# -- settings ------------------------------------------------------------------------


def test_a_cluster_without_a_jobs_redis_is_refused_at_startup(database_url):
    with pytest.raises(ConfigError, match="RQ_REDIS_URL must be set"):
        make_app(database_url, REDIS_URL="redis://127.0.0.1:7000", REDIS_CLUSTER=True)
    with pytest.raises(ConfigError, match="RQ does not support"):
        make_app(
            database_url,
            REDIS_URL="redis+cluster://127.0.0.1:7000",
            RQ_REDIS_URL="redis+cluster://127.0.0.1:7001",
        )


@pytest.mark.parametrize(
    "url, error",
    [
        ("http://127.0.0.1:6379", "starts with redis://"),
        ("redis://127.0.0.1:6379,127.0.0.1:6380", "several hosts"),
        ("redis+sentinel://127.0.0.1:26379", "names the master's service"),
        ("redis+cluster://127.0.0.1:7000/3", "only database 0"),
        ("redis://127.0.0.1:x/0", "bad port"),
        ("redis://127.0.0.1:6379/zero", "bad database"),
    ],
)
def test_a_bad_redis_url_is_refused_with_what_is_wrong(url, error):
    with pytest.raises(ConfigError, match=error):
        parse(url)


def test_the_url_forms_an_operator_writes():
    sentinel = parse("redis+sentinel://:s%40cret@10.0.0.1:26379,10.0.0.2:26379/khao-sat/2")
    assert sentinel.hosts == (("10.0.0.1", 26379), ("10.0.0.2", 26379))
    assert (sentinel.service, sentinel.db, sentinel.password) == ("khao-sat", 2, "s@cret")
    assert parse("redis://10.0.0.5:7000", cluster=True).is_cluster
    assert parse("redis+cluster://10.0.0.5:7000,10.0.0.6:7000").hosts[1] == ("10.0.0.6", 7000)


def test_a_dead_cluster_falls_back_to_the_database(cluster_app, cluster, database_url):
    """Nothing is refused while every node is down, on a running node and on a node
    that starts during the outage (a cluster client reads the topology when made)."""
    assert submit(cluster_app.test_client(), DEMO_SLUG).status_code == 202
    for port in cluster.ports:
        cluster.kill(port)
    submission_id = new_id()
    assert submit(cluster_app.test_client(), DEMO_SLUG, submission_id).status_code == 202
    survey_id = find_survey(DEMO_SLUG).id
    assert stored(survey_id) == Counter({submission_id: 1})
    health = cluster_app.test_client().get("/healthz")
    assert health.status_code == 200 and health.get_json()["queue"] == "unreachable"

    started_now = make_app(database_url, **cluster_settings(cluster))
    with started_now.app_context():
        later = new_id()
        assert submit(started_now.test_client(), DEMO_SLUG, later).status_code == 202
        assert stored(survey_id) == Counter({submission_id: 1, later: 1})
        assert started_now.test_client().get("/healthz").get_json()["queue"] == "unreachable"
