"""Webhooks end to end: 1,000 submissions through the real submit path, the Redis
buffer and the drain, delivered to a real HTTP receiver on a loopback port that first
answers 500, then times out, then is down (port closed), then recovers. Every stored
response reaches it at least once, every request's signature verifies with the
snippet of docs/webhooks.md (run as written there), a repeat is known by its event id,
and the staff pages show the attempts and replay a delivery.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sqlalchemy as sa

from survey_engine.catalog import find_survey, published
from survey_engine.config import Config, ConfigError, check_settings
from survey_engine.extensions import db
from survey_engine.intake.drain import Drainer
from survey_engine.intake.persist import persist_batch
from survey_engine.intake.submission import Submission
from survey_engine.models import (
    DeliveryStatus,
    Response,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from survey_engine.staff.accounts import create_user
from survey_engine.webhooks import delivery_log
from survey_engine.webhooks.addresses import Allowed, Refused, check_url
from survey_engine.webhooks.sending import Outgoing, Sender, send
from tests.conftest import (
    DEMO_SLUG,
    TEST_REDIS_URL,
    forget_login_user_per_request,
    new_id,
    seeded_app,
    valid_answers,
)
from tests.test_admin_surveys import post, signed_in
from tests.test_staff import PASSWORD, invoke

PORT = 5341
HOOK = f"http://127.0.0.1:{PORT}/hook"
PAGE = f"/admin/surveys/{DEMO_SLUG}/webhooks"
API = f"/api/v1/surveys/{DEMO_SLUG}/responses"
DOCS = Path(__file__).resolve().parent.parent / "docs" / "webhooks.md"
SIGNATURE = "Survey-Engine-Signature"


def documented_verify() -> Callable[[str, str, bytes], bool]:
    """The verification snippet of docs/webhooks.md, exactly as written there."""
    code = re.search(r"```python\n(.*?)```", DOCS.read_text("utf-8"), re.S).group(1)
    namespace: dict = {}
    exec(compile(code, str(DOCS), "exec"), namespace)  # noqa: S102  (our own docs)
    return namespace["verify"]


class Receiver(ThreadingHTTPServer):
    """A webhook receiver: mode "fail" answers 500, "slow" holds the answer past the
    sender's timeout, "ok" answers 204. Every request is kept (headers, body, mode)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, mode: str = "ok", requests: list | None = None, hold: float = 1.5) -> None:
        self.mode = mode
        self.hold = hold
        # Shared by a receiver and the one that replaces it on the same port.
        self.requests: list[tuple[dict[str, str], bytes, str]] = (
            [] if requests is None else requests
        )
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", PORT), _Handler)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()  # the port is closed: connections are refused

    def seen(self, mode: str | None = None) -> list[tuple[dict[str, str], bytes, str]]:
        with self.lock:
            return [r for r in self.requests if mode is None or r[2] == mode]


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:  # noqa: N802  (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        mode = self.server.mode
        with self.server.lock:
            self.server.requests.append((dict(self.headers.items()), body, mode))
        if mode == "slow":
            time.sleep(self.server.hold)
        self.send_response(500 if mode == "fail" else 204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def hooked_app(database_url, redis_client, tmp_path):
    """Production shape (Redis buffer, drain) with webhooks allowed to loopback and quick
    retries; no circuit breakers (a thousand submissions from one test client)."""
    yield from seeded_app(
        database_url,
        REDIS_URL=TEST_REDIS_URL,
        DRAIN_CLAIM_IDLE_MS=0,
        EXPORT_DIR=str(tmp_path / "exports"),
        LIMIT_NETWORK_PER_MINUTE=0,
        LIMIT_DEVICE_PER_10_MINUTES=0,
        LIMIT_SURVEY_PER_MINUTE=0,
        WEBHOOK_ALLOW_LOOPBACK=True,
        WEBHOOK_TIMEOUT_SECONDS=0.5,
        WEBHOOK_RETRY_BASE_SECONDS=0.05,
        WEBHOOK_RETRY_MAX_SECONDS=0.3,
        WEBHOOK_MAX_ATTEMPTS=1000,
        WEBHOOK_BATCH_RESPONSES=40,
    )


@pytest.fixture(autouse=True)
def _login_per_request(hooked_app):
    yield from forget_login_user_per_request(hooked_app)


def wait_until(check: Callable[[], bool], what: str, limit: float = 120.0) -> None:
    """Poll `check` (a guard against hanging, not a timing assertion)."""
    deadline = time.monotonic() + limit
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not {what} after {limit:.0f} s")
        time.sleep(0.05)


def fresh_count(statement) -> int:
    db.session.rollback()  # see what the sender's thread committed
    return db.session.scalar(statement)


def attempts_with(**where) -> int:
    conditions = [getattr(WebhookAttempt, name) == value for name, value in where.items()]
    return fresh_count(sa.select(sa.func.count()).select_from(WebhookAttempt).where(*conditions))


def pending() -> int:
    return fresh_count(
        sa.select(sa.func.count())
        .select_from(WebhookDelivery)
        .where(WebhookDelivery.status == DeliveryStatus.PENDING)
    )


def submit_and_drain(app, client, count: int) -> list[str]:
    ids = [new_id() for _ in range(count)]
    for submission_id in ids:
        reply = client.post(API, json={"submission_id": submission_id, "answers": valid_answers()})
        assert reply.status_code == 202
    drainer = Drainer(app, app.extensions["stream_buffer"].client, name="test-drainer")
    while drainer.drain_once():  # never waits for the receiver
        pass
    assert drainer.backlog() == 0
    return ids


def add_webhook(app) -> tuple:
    create_user("admin@example.org", PASSWORD, "admin")
    staff = signed_in(app, "admin@example.org")
    page = post(staff, PAGE, {"url": HOOK})
    assert page.status_code == 200
    secret = re.search(r'id="secret-\d+">([0-9a-f]{64})<', page.get_data(as_text=True)).group(1)
    return staff, secret


def test_a_thousand_responses_reach_a_receiver_that_fails_times_out_is_down_and_recovers(
    hooked_app,
) -> None:
    verify = documented_verify()
    staff, secret = add_webhook(hooked_app)
    citizen = hooked_app.test_client()
    receiver = Receiver("fail")
    sender = Sender(hooked_app, poll=0.05)
    stop = threading.Event()
    sending = threading.Thread(target=sender.run, args=(stop,), daemon=True)
    sending.start()
    submitted: list[str] = []
    try:
        submitted += submit_and_drain(hooked_app, citizen, 250)
        wait_until(lambda: attempts_with(status_code=500) >= 3, "answered 500 three times")

        receiver.mode = "slow"
        submitted += submit_and_drain(hooked_app, citizen, 250)
        wait_until(lambda: attempts_with(error="timed out") >= 2, "timed out twice")

        receiver.stop()
        submitted += submit_and_drain(hooked_app, citizen, 250)
        wait_until(lambda: attempts_with(error="connection refused") >= 2, "refused twice")

        receiver = Receiver("ok", receiver.requests)
        submitted += submit_and_drain(hooked_app, citizen, 250)
        wait_until(lambda: pending() == 0, "all delivered")

        db.session.rollback()
        stored = {str(r) for r in db.session.scalars(sa.select(Response.submission_id))}
        assert stored == set(submitted) and len(stored) == 1000
        deliveries = list(db.session.scalars(sa.select(WebhookDelivery)))
        assert {d.status for d in deliveries} == {DeliveryStatus.DELIVERED}

        # Every request signed and verified by the documented snippet, whatever its fate.
        received = receiver.seen()
        assert received and all(verify(secret, h[SIGNATURE], body) for h, body, _m in received)
        assert not verify("0" * 64, received[0][0][SIGNATURE], received[0][1])
        assert not verify(secret, received[0][0][SIGNATURE], received[0][1] + b" ")

        # A repeat has the same event id and the same body; each response is in one event.
        by_event: dict[str, bytes] = {}
        answered = [(h, b) for h, b, _m in received]
        for headers, body in answered:
            event = json.loads(body)
            assert headers["Survey-Engine-Event-Id"] == event["id"]
            assert by_event.setdefault(event["id"], body) == body
        in_events = [
            r["submission_id"] for body in by_event.values() for r in json.loads(body)["responses"]
        ]
        assert sorted(in_events) == sorted(submitted)  # all of them, each once
        assert {d.event_id for d in deliveries} == set(by_event)
        # The failed and slow phases' requests arrived, answered 500 or too late: sent
        # again, with the same event id.
        assert {m for _h, _b, m in received} == {"fail", "slow", "ok"}
        assert len(answered) > len(by_event)

        # The log: the attempts of a delivery that lived through all three failures.
        survivor = max(deliveries, key=lambda d: d.attempts)
        detail = staff.get(f"{PAGE}/deliveries/{survivor.id}").get_data(as_text=True)
        assert survivor.event_id in detail and "204" in detail
        log_page = staff.get(PAGE).get_data(as_text=True)
        assert "response.stored" in log_page
        failures = {
            a.error or str(a.status_code) for a in db.session.scalars(sa.select(WebhookAttempt))
        }
        assert {"500", "timed out", "connection refused", "204"} <= failures

        # Replay: the same event id again, signed again, one more attempt in the log.
        replayed = deliveries[0]
        before = len(receiver.seen())
        attempts_before = replayed.attempts
        reply = post(staff, f"{PAGE}/deliveries/{replayed.id}/replay")
        assert reply.status_code == 302
        wait_until(lambda: len(receiver.seen()) > before, "replayed")
        wait_until(lambda: pending() == 0, "replay recorded")
        headers, body, _mode = receiver.seen()[-1]
        assert headers["Survey-Engine-Event-Id"] == replayed.event_id
        assert body == by_event[replayed.event_id] and verify(secret, headers[SIGNATURE], body)
        db.session.refresh(replayed)
        assert replayed.attempts == attempts_before + 1

        # A status change is an event too.
        assert post(staff, f"/admin/surveys/{DEMO_SLUG}/close").status_code == 302
        wait_until(
            lambda: any(
                h["Survey-Engine-Event"] == "survey.closed" for h, _b, _m in receiver.seen()
            ),
            "the survey.closed event sent",
        )
        closed = next(
            b for h, b, _m in receiver.seen() if h["Survey-Engine-Event"] == "survey.closed"
        )
        survey = json.loads(closed)["survey"]
        assert (survey["slug"], survey["status"]) == (DEMO_SLUG, "closed")
    finally:
        stop.set()
        sending.join(timeout=10)
        receiver.stop()


def test_addresses_a_webhook_may_not_reach(hooked_app) -> None:
    """https only, and no private, link-local (metadata) or loopback address unless a
    setting allows it; checked when saved and again when sending."""
    strict = Allowed()
    for url, reason in [
        ("http://example.org/hook", "http_not_loopback"),
        ("ftp://example.org/", "scheme"),
        ("https://10.1.2.3/hook", "private"),
        ("https://192.168.1.1/", "private"),
        ("https://169.254.169.254/latest/meta-data/", "private"),
        ("https://[fd00::1]/", "private"),
        ("https://[::ffff:10.0.0.1]/", "private"),
        ("https://127.0.0.1/", "loopback"),
        ("https://localhost/", "loopback"),
        ("https://user:pw@example.org/", "malformed"),
        ("https:///nohost", "malformed"),
        ("javascript:alert(1)", "malformed"),
    ]:
        with pytest.raises(Refused) as refused:
            check_url(url, strict)
        assert refused.value.reason == reason, url
    assert check_url("https://hooks.example.org/x?y=1", strict) == "https://hooks.example.org/x?y=1"
    assert check_url("https://10.1.2.3/", Allowed(private=True)) == "https://10.1.2.3/"
    with pytest.raises(Refused):  # http:// stays loopback-only
        check_url("http://10.1.2.3/", Allowed(loopback=True, private=True))

    # Sending checks the resolved address: localhost is refused without the setting,
    # and the receiver never sees a request.
    receiver = Receiver("ok")
    try:
        outgoing = Outgoing(1, f"https://localhost:{PORT}/hook", "s", "e", "i", b"{}", 0)
        result = send(outgoing, 0.5, strict)
        assert result.status_code is None and result.error.startswith("refused: loopback")
        assert receiver.seen() == []
    finally:
        receiver.stop()

    create_user("admin@example.org", PASSWORD, "admin")
    staff = signed_in(hooked_app, "admin@example.org")
    page = post(staff, PAGE, {"url": "https://169.254.169.254/"})
    assert page.status_code == 422
    assert "https://169.254.169.254/" in page.get_data(as_text=True)


def test_endpoints_per_survey_are_limited_and_secrets_shown_renewed_removed(hooked_app) -> None:
    hooked_app.config["WEBHOOK_ENDPOINTS_PER_SURVEY"] = 2
    create_user("admin@example.org", PASSWORD, "admin")
    staff = signed_in(hooked_app, "admin@example.org")
    assert post(staff, PAGE, {"url": HOOK}).status_code == 200
    assert post(staff, PAGE, {"url": HOOK + "2"}).status_code == 200
    third = post(staff, PAGE, {"url": HOOK + "3"})
    assert third.status_code == 422 and "2" in third.get_data(as_text=True)
    page = staff.get(PAGE).get_data(as_text=True)
    assert 'id="secret-' not in page  # not shown unless asked for
    endpoint_id = int(re.search(r"/webhooks/(\d+)/secret", page).group(1))
    shown = post(staff, f"{PAGE}/{endpoint_id}/secret", {"action": "show"}).get_data(as_text=True)
    first = re.search(rf'id="secret-{endpoint_id}">([0-9a-f]{{64}})<', shown).group(1)
    renewed = post(staff, f"{PAGE}/{endpoint_id}/secret", {"action": "new"}).get_data(as_text=True)
    second = re.search(rf'id="secret-{endpoint_id}">([0-9a-f]{{64}})<', renewed).group(1)
    assert first != second
    assert post(staff, f"/admin/surveys/{DEMO_SLUG}/close").status_code == 302
    deliveries = sa.select(sa.func.count()).select_from(WebhookDelivery)
    assert fresh_count(deliveries) == 2  # survey.closed, for each endpoint
    assert post(staff, f"{PAGE}/{endpoint_id}/delete").status_code == 302
    assert fresh_count(deliveries) == 1  # its own went with it
    assert f"/webhooks/{endpoint_id}/secret" not in staff.get(PAGE).get_data(as_text=True)
    assert post(staff, f"{PAGE}/{endpoint_id}/delete").status_code == 404


def test_inline_mode_stores_the_outbox_with_the_response_and_send_webhooks_sends_it(
    database_url, tmp_path
) -> None:
    """Without Redis the web process stores each response, its outbox row in the same
    transaction; `survey-engine send-webhooks --once` sends what is due."""
    for app in seeded_app(
        database_url,
        EXPORT_DIR=str(tmp_path / "exports"),
        WEBHOOK_ALLOW_LOOPBACK=True,
        WEBHOOK_TIMEOUT_SECONDS=2,
    ):
        staff, secret = add_webhook(app)
        submission_id = new_id()
        reply = app.test_client().post(
            API, json={"submission_id": submission_id, "answers": valid_answers()}
        )
        assert reply.status_code == 202
        assert pending() == 1  # stored with the response, not sent by the request
        receiver = Receiver("ok")
        try:
            result = invoke(app, "send-webhooks", "--once")
            assert result.exit_code == 0 and "sent 1 deliveries" in result.output
            [(headers, body, _mode)] = receiver.seen()
        finally:
            receiver.stop()
        assert documented_verify()(secret, headers[SIGNATURE], body)
        [response] = json.loads(body)["responses"]
        assert response["submission_id"] == submission_id
        assert response["answers"]["district"] == "da_lat"
        assert pending() == 0


def test_excluding_a_response_in_review_is_an_event(hooked_app) -> None:
    staff, _secret = add_webhook(hooked_app)
    [submission_id] = submit_and_drain(hooked_app, hooked_app.test_client(), 1)
    response_id = db.session.scalar(sa.select(Response.id))
    reply = post(
        staff,
        f"/admin/surveys/{DEMO_SLUG}/review/{response_id}",
        {"action": "exclude", "reason": "trùng lặp"},
    )
    assert reply.status_code in (302, 303)
    db.session.rollback()
    events = {d.event: json.loads(d.body) for d in db.session.scalars(sa.select(WebhookDelivery))}
    assert [r["submission_id"] for r in events["response.stored"]["responses"]] == [submission_id]
    review = events["response.reviewed"]["review"]
    assert (review["action"], review["status"], review["count"]) == ("exclude", "excluded", 1)
    assert review["response_ids"] == [[response_id, response_id]]


def test_a_replaced_answer_is_an_event_and_stored_responses_carry_their_ids(hooked_app) -> None:
    """With editing allowed, a device's later answer excludes its earlier one: a
    receiver keeping copies is told which (response.replaced), by the ids
    response.stored gave it."""
    add_webhook(hooked_app)
    survey = find_survey(DEMO_SLUG)
    version_id = published(DEMO_SLUG).version_id

    def answer(support: str) -> Submission:
        answers = {**valid_answers(), "support": support}
        return Submission(
            survey.id, version_id, uuid.uuid4(), answers, claims=("device:d1",), replace_claims=True
        )

    first, later = answer("yes"), answer("no")
    assert not persist_batch([first]).refused
    assert not persist_batch([later]).refused
    ids = dict(db.session.execute(sa.select(Response.submission_id, Response.id)).all())
    bodies = [json.loads(d.body) for d in db.session.scalars(sa.select(WebhookDelivery))]
    stored = [r for b in bodies if b["event"] == "response.stored" for r in b["responses"]]
    assert {(r["id"], r["submission_id"]) for r in stored} == {
        (ids[s.submission_id], str(s.submission_id)) for s in (first, later)
    }
    [replaced] = [b["replaced"] for b in bodies if b["event"] == "response.replaced"]
    assert replaced == [{"id": ids[first.submission_id], "submission_id": str(first.submission_id)}]
    assert db.session.get(Response, ids[first.submission_id]).status == "excluded"


def _metrics(app) -> str:
    reply = app.test_client().get("/metrics")  # from loopback: allowed
    assert reply.status_code == 200
    return reply.get_data(as_text=True)


def outbox_metrics(app) -> dict[str, int]:
    """/metrics' webhook deliveries by status."""
    found = re.findall(
        r'^survey_engine_webhook_deliveries\{status="(\w+)"\} (\d+)$', _metrics(app), re.M
    )
    return {status: int(n) for status, n in found}


def waited(app) -> float:
    return float(
        re.search(r"^survey_engine_webhook_oldest_pending_seconds (\S+)$", _metrics(app), re.M)[1]
    )


def test_a_delivery_fails_after_its_last_attempt_and_a_replay_sends_it(hooked_app) -> None:
    hooked_app.config["WEBHOOK_MAX_ATTEMPTS"] = 3
    staff, secret = add_webhook(hooked_app)
    receiver = Receiver("fail")
    sender = Sender(hooked_app, poll=0.05)
    try:
        submit_and_drain(hooked_app, hooked_app.test_client(), 5)
        [delivery] = db.session.scalars(sa.select(WebhookDelivery)).all()
        assert outbox_metrics(hooked_app) == {"pending": 1, "delivered": 0, "failed": 0}
        assert waited(hooked_app) >= 0

        def sent_and_final() -> bool:
            sender.send_due()
            db.session.rollback()
            return db.session.get(WebhookDelivery, delivery.id).status != DeliveryStatus.PENDING

        wait_until(sent_and_final, "given up")
        db.session.refresh(delivery)
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 3)
        assert len(receiver.seen("fail")) == 3
        assert outbox_metrics(hooked_app) == {"pending": 0, "delivered": 0, "failed": 1}
        assert waited(hooked_app) == 0
        page = staff.get(f"{PAGE}/deliveries/{delivery.id}").get_data(as_text=True)
        assert page.count("500") >= 3

        receiver.mode = "ok"
        assert post(staff, f"{PAGE}/deliveries/{delivery.id}/replay").status_code == 302
        wait_until(sent_and_final, "replayed")
        db.session.refresh(delivery)
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 4)
        assert outbox_metrics(hooked_app) == {"pending": 0, "delivered": 1, "failed": 0}
        headers, body, _mode = receiver.seen("ok")[0]
        assert headers["Survey-Engine-Event-Id"] == delivery.event_id
        assert documented_verify()(secret, headers[SIGNATURE], body)
    finally:
        sender.pool.shutdown()
        receiver.stop()


def test_delivered_deliveries_are_forgotten_after_the_keep_days(hooked_app) -> None:
    """The workers' maintenance tick keeps the log from growing for ever; a waiting or
    failed delivery stays whatever its age."""
    add_webhook(hooked_app)
    assert post_close(hooked_app)
    old = datetime.now(UTC) - timedelta(days=31)
    db.session.execute(
        sa.update(WebhookDelivery).values(
            status=DeliveryStatus.DELIVERED, delivered_at=old, created_at=old
        )
    )
    db.session.add(WebhookAttempt(delivery_id=db.session.scalar(sa.select(WebhookDelivery.id))))
    waiting = WebhookDelivery(
        endpoint_id=db.session.scalar(sa.select(WebhookEndpoint.id)),
        event_id=new_id(),
        event="survey.closed",
        body="{}",
        created_at=old,
        next_attempt_at=old,
    )
    db.session.add(waiting)
    db.session.commit()
    assert delivery_log.forget_old(30) == 1
    assert [d.id for d in db.session.scalars(sa.select(WebhookDelivery))] == [waiting.id]
    assert fresh_count(sa.select(sa.func.count()).select_from(WebhookAttempt)) == 0


def post_close(app) -> bool:
    staff = signed_in(app, "admin@example.org")
    return post(staff, f"/admin/surveys/{DEMO_SLUG}/close").status_code == 302


def test_webhook_settings_are_checked_at_startup() -> None:
    config = vars(Config("/tmp"))
    check_settings(config)
    assert (config["WEBHOOK_ENDPOINTS_PER_SURVEY"], config["WEBHOOK_MAX_ATTEMPTS"]) == (5, 12)
    assert (config["WEBHOOK_ALLOW_LOOPBACK"], config["WEBHOOK_ALLOW_PRIVATE"]) == (False, False)
    for name, bad in (
        ("WEBHOOK_ENDPOINTS_PER_SURVEY", "0"),
        ("WEBHOOK_MAX_PAYLOAD_BYTES", "100"),
        ("WEBHOOK_TIMEOUT_SECONDS", "61"),
        ("WEBHOOK_TIMEOUT_SECONDS", "-1"),
        ("WEBHOOK_RETRY_BASE_SECONDS", "soon"),
    ):
        with pytest.raises(ConfigError, match=name):
            check_settings({**vars(Config("/tmp")), name: bad})
    allowed = {**vars(Config("/tmp")), "WEBHOOK_ALLOW_LOOPBACK": "1"}
    check_settings(allowed)
    assert allowed["WEBHOOK_ALLOW_LOOPBACK"] is True
