"""The buffer and the jobs on a Redis found through Sentinel, across a failover.

REDIS_URL=redis+sentinel://<sentinel>/khao-sat/0: the web node and the workers ask the
Sentinel for the master; when the master dies and the Sentinel promotes the replica,
they follow it. With REDIS_WAIT_REPLICAS=1 an acknowledged submission is on the replica
before the 202, so the promotion cannot lose it.
"""

from __future__ import annotations

from collections import Counter

import pytest

from survey_engine.catalog import find_survey
from survey_engine.intake.buffer import dead_key, stream_key
from tests.conftest import DEMO_SLUG, new_id, seeded_app
from tests.redis_topologies import SentinelGroup
from tests.test_buffer import assert_tallies_equal_recount
from tests.test_redis_cluster import Phones, stored, submit
from workers.main import run_worker

# Processes of their own, killed on purpose: run once, in the PostgreSQL pass.
pytestmark = pytest.mark.faults


@pytest.fixture
def sentinel_group(tmp_path):
    group = SentinelGroup(tmp_path / "sentinel")
    try:
        group.start()
        yield group
    finally:
        group.close()


@pytest.fixture
def sentinel_app(database_url, sentinel_group, tmp_path):
    yield from seeded_app(
        database_url,
        REDIS_URL=sentinel_group.url,
        REDIS_WAIT_REPLICAS=1,
        DRAIN_CLAIM_IDLE_MS=0,
        EXPORT_DIR=str(tmp_path / "exports"),
    )


def test_the_master_sentinel_names_takes_submissions_before_and_after_a_failover(
    sentinel_app, sentinel_group
):
    app, group = sentinel_app, sentinel_group
    survey_id = find_survey(DEMO_SLUG).id
    key = stream_key(survey_id)
    first = new_id()
    assert submit(app.test_client(), DEMO_SLUG, first).status_code == 202
    assert group.node(group.master).xlen(key) == 1
    assert group.node(group.replica).xlen(key) == 1  # WAIT 1: there before the 202

    with Phones(app) as phones:
        at_kill = phones.until(10)
        group.kill_master()
        group.wait_for_failover()
        phones.until(len(phones.acknowledged) + 10)
    acknowledged, failures = [first, *phones.acknowledged], phones.failures

    # The promoted replica is where submissions go now.
    in_stream = group.node(group.replica).xlen(key)
    last = new_id()
    assert submit(app.test_client(), DEMO_SLUG, last).status_code == 202
    assert group.node(group.replica).xlen(key) == in_stream + 1
    acknowledged.append(last)

    run_worker(app, burst=True)  # drain and jobs, both through the Sentinel

    assert at_kill >= 10 and not failures, failures
    assert stored(survey_id) == Counter({sid: 1 for sid in acknowledged})
    assert group.node(group.replica).xlen(key) == 0
    assert group.node(group.replica).xlen(dead_key(survey_id)) == 0
    assert_tallies_equal_recount()
