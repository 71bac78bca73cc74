"""Ballot stuffing against the real web tier: gunicorn, Redis, the drain worker.

One script on one phone (one device token, one network) sends thousands of answers:
in one-per-device mode exactly one is stored; in open mode the stuffing is slowed
down (429) and whatever gets through is flagged, so the "excluding flagged" view
shows the honest count. And the other side of the coin: 300 different phones behind
one carrier-NAT address, each answering once at a human pace, are all stored, none
flagged, none challenged.

All traffic comes from 127.0.0.1, so every request shares one network key: exactly
the carrier-NAT case. Like the fault tests these start real processes and run on
PostgreSQL only (`make test`'s PostgreSQL pass).
"""

from __future__ import annotations

import http.client
import random
import re
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import flask_migrate
import pytest
import sqlalchemy as sa

from survey_engine import MIGRATIONS_DIR, create_app
from survey_engine.catalog import save_definition
from survey_engine.extensions import db
from survey_engine.models import Role
from survey_engine.staff.accounts import create_user, find_user
from tests.conftest import DEMO_SLUG, demo_definition
from tests.test_faults import (  # noqa: F401  (fixtures)
    ANSWER_VARIANTS,
    API,
    backlog,
    call,
    environment,
    make_database,
    private_redis,
    processes,
    start_web,
    start_worker,
    wait_for,
)
from tests.test_results_agreement import dashboard_figures
from tests.test_staff import PASSWORD, login

FORM = f"/s/{DEMO_SLUG}"
SECRET_KEY = "stuffing-test-secret"


def publish_with(database, **settings) -> None:
    """Publish the demo again with these settings (a new version)."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": database.url, "REDIS_URL": None})
    with app.app_context():
        flask_migrate.upgrade(directory=MIGRATIONS_DIR)
        definition = demo_definition()
        definition["settings"] = {**(definition.get("settings") or {}), **settings}
        save_definition(definition, publish=True)
        db.session.remove()
        db.engine.dispose()


@dataclass
class Phone:
    """One browser: its cookies, the page it was given, what it got back."""

    port: int
    cookies: dict[str, str] = field(default_factory=dict)
    page_fields: dict[str, str] = field(default_factory=dict)

    def _request(self, method: str, path: str, body: str | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"User-Agent": "Mozilla/5.0 (Linux; Android 14; SM-A155F) Chrome/131.0 Mobile"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=headers)
            reply = conn.getresponse()
            text = reply.read().decode("utf-8", errors="replace")
            for name, value in reply.getheaders():
                if name.lower() == "set-cookie":
                    key, _, rest = value.partition("=")
                    self.cookies[key] = rest.split(";", 1)[0]
            return reply.status, text
        finally:
            conn.close()

    def open_page(self) -> int:
        status, html = self._request("GET", FORM)
        self.page_fields = dict(
            re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html)
        )
        return status

    def send(self, answers: dict, new_id: bool = True) -> int:
        fields = dict(self.page_fields)
        if new_id:
            fields["submission_id"] = str(uuid.uuid4())
        body = urllib.parse.urlencode({**fields, **answers}, doseq=True)
        return self._request("POST", FORM, body)[0]


def stored(database) -> list[dict]:
    with database.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT status, flags, device_hash, network_key FROM responses")
        ).mappings()
        return [dict(row) for row in rows]


def drained(database, redis_client, expected: int) -> None:
    wait_for(
        lambda: (
            backlog(redis_client, database.survey_id) == 0 and len(stored(database)) >= expected
        ),
        120,
        f"{expected} responses stored",
    )
    time.sleep(1)  # a last batch in flight


def start_tier(processes, private_redis, database, **settings):
    env = environment(
        database.url,
        private_redis.url,
        SECRET_KEY=SECRET_KEY,
        # The product's defaults: the breakers as a province would run them.
        LIMIT_NETWORK_PER_MINUTE=600,
        LIMIT_SURVEY_PER_MINUTE=6000,
        SURVEY_CACHE_SECONDS=1,
        DRAIN_CLAIM_IDLE_MS=1000,
        **settings,
    )
    web = start_web(processes, "web", env, workers=2)
    start_worker(processes, "worker", env)
    return web


@pytest.mark.faults
def test_one_device_stuffing_5000_stores_exactly_one(
    processes, private_redis, make_database
) -> None:
    database = make_database("stuff_device")
    publish_with(database, access="device")
    web = start_tier(processes, private_redis, database)
    phone = Phone(web.port)
    assert phone.open_page() == 200
    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def stuff(i: int) -> None:
        status = phone.send(ANSWER_VARIANTS[i % len(ANSWER_VARIANTS)])
        with lock:
            statuses[status] += 1

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(stuff, range(5000)))
    drained(database, private_redis.client(), 1)
    rows = stored(database)
    assert len(rows) == 1, statuses
    assert statuses[303] == 1
    assert statuses[409] + statuses[429] == 4999, statuses
    # The same phone, opening the survey again, is told it has answered.
    status, html = phone._request("GET", FORM)
    assert status == 409 and "đã trả lời" in html


@pytest.mark.faults
def test_300_phones_behind_one_nat_address_are_all_stored_unflagged(
    processes, private_redis, make_database
) -> None:
    database = make_database("stuff_nat")
    publish_with(database, access="device")
    web = start_tier(processes, private_redis, database)
    rng = random.Random(12)
    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def citizen(i: int) -> None:
        phone = Phone(web.port)
        assert phone.open_page() == 200
        time.sleep(rng.uniform(3, 8))  # reading and answering
        answers = dict(ANSWER_VARIANTS[i % len(ANSWER_VARIANTS)])
        answers["children"] = str(1 + i % 5)
        answers["comment"] = f"Ý kiến số {i}"
        status = phone.send(answers, new_id=False)
        with lock:
            statuses[status] += 1

    with ThreadPoolExecutor(40) as pool:
        list(pool.map(citizen, range(300)))
    assert statuses == Counter({303: 300}), statuses  # none refused, none challenged
    drained(database, private_redis.client(), 300)
    rows = stored(database)
    assert len(rows) == 300
    assert len({row["device_hash"] for row in rows}) == 300
    assert len({row["network_key"] for row in rows}) == 1  # one NAT address
    flagged = [row["flags"] for row in rows if row["flags"]]
    assert not flagged, flagged[:3]
    assert {row["status"] for row in rows} == {"unreviewed"}


def dashboard_responses(database, query: str) -> int:
    """The results dashboard's response count, as an admin sees it (the page itself)."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": database.url, "REDIS_URL": None, "TESTING": True})
    with app.app_context():
        if find_user("stuffing-admin@example.org") is None:
            create_user("stuffing-admin@example.org", PASSWORD, Role.ADMIN)
        client = app.test_client()
        assert login(client, "stuffing-admin@example.org").status_code == 302
        count = dashboard_figures(client, query).responses
        db.session.remove()
        db.engine.dispose()
    return count


@pytest.mark.faults
def test_open_mode_stuffing_is_slowed_down_and_every_stored_one_flagged(
    processes, private_redis, make_database
) -> None:
    """20 honest phones answer once; then one script on one phone (one device token,
    one network) sends 4,000 answers to the API and 1,000 through the form without
    the page's script. The API's are refused with 429 beyond the per-device limit;
    the form's are stored (never silently lost) but each with a flag; the dashboard's
    "excluding flagged" view shows the 20 honest answers."""
    database = make_database("stuff_open")
    web = start_tier(processes, private_redis, database)
    rng = random.Random(20)
    pauses = [rng.uniform(3, 8) for _ in range(20)]  # reading and answering

    def honest(i: int) -> int:
        phone = Phone(web.port)
        assert phone.open_page() == 200
        time.sleep(pauses[i])
        answers = {**ANSWER_VARIANTS[i % len(ANSWER_VARIANTS)], "comment": f"Ý kiến {i}"}
        return phone.send(answers, new_id=False)

    with ThreadPoolExecutor(20) as pool:
        assert list(pool.map(honest, range(20))) == [303] * 20
    drained(database, private_redis.client(), 20)

    script = Phone(web.port)
    assert script.open_page() == 200
    token = script.page_fields["device_token"]
    statuses: Counter[tuple[str, int]] = Counter()
    lock = threading.Lock()

    def stuff(i: int) -> None:
        answers = ANSWER_VARIANTS[i % len(ANSWER_VARIANTS)]
        if i % 5:
            body = {"submission_id": str(uuid.uuid4()), "answers": answers, "device_token": token}
            status = call(web.port, "POST", API, body)[0]
            kind = "api"
        else:
            status = script.send(answers)
            kind = "form"
        with lock:
            statuses[(kind, status)] += 1

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(stuff, range(5000)))
    api_accepted = statuses[("api", 202)]
    print("stuffing replies:", dict(statuses))
    assert statuses[("api", 429)] >= 4000 - 10, statuses  # the device's limit: 5 in 10 min
    assert statuses[("form", 303)] == 1000, statuses  # without a script: stored, flagged
    drained(database, private_redis.client(), 20 + 1000 + api_accepted)
    rows = stored(database)
    assert len(rows) == 20 + 1000 + api_accepted
    script_device = Counter(row["device_hash"] for row in rows).most_common(1)[0][0]
    stuffed = [row for row in rows if row["device_hash"] == script_device]
    assert len(stuffed) == 1000 + api_accepted
    assert all(row["status"] == "flagged" for row in stuffed)
    for row in stuffed:
        names = {flag["flag"] for flag in row["flags"]}
        assert names & {"duplicate", "burst"}, row["flags"]
    honest = [row for row in rows if row not in stuffed]
    assert len(honest) == 20 and not any(row["flags"] for row in honest)

    assert dashboard_responses(database, "include=unflagged") == 20
    assert dashboard_responses(database, "") == len(rows)  # flagged still counted by default
