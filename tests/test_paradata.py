"""Paradata: what a response keeps of how it was given, and its erasure after the
survey's retention (docs/privacy.md). Real requests through the form and the API, the
Redis buffer and the drain, the purge as the workers and the command line run it."""

from __future__ import annotations

import copy
import hashlib
import hmac
import re
import time
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from itsdangerous import TimestampSigner
from rq import Queue

from survey_engine.catalog import find_survey, save_definition, set_status
from survey_engine.cli import cli
from survey_engine.extensions import db
from survey_engine.intake import retention
from survey_engine.intake.respondent import device_hash, network_key, network_prefix
from survey_engine.jobs import PURGE_CLAIM_KEY, purge_paradata_hourly
from survey_engine.models import (
    PARADATA_COLUMNS,
    AuditEvent,
    DailySecret,
    Survey,
    SurveyStatus,
)
from tests.conftest import (
    DEMO_SLUG,
    demo_definition,
    new_id,
    stored_responses,
    valid_answers,
)
from tests.test_buffer import drainer_for
from workers.main import JobWorker

ANDROID_CHROME = (
    "Mozilla/5.0 (Linux; Android 13; SM-A536E) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.144 Mobile Safari/537.36"
)
ZALO_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 Zalo iOS/23.10.01 ZaloTheme/light ZaloLanguage/vi"
)
ADDRESS = "203.0.113.77"  # a documentation address


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden field {name}"
    return found.group(1)


def started_ago(app, seconds: int) -> str:
    """The page's signed first-view time, as a page shown `seconds` ago carried it."""

    class Earlier(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - seconds

    return Earlier(app.config["SECRET_KEY"], salt="started-at").sign("s").decode()


def open_page(client, slug: str = DEMO_SLUG, agent: str = ANDROID_CHROME) -> dict:
    page = client.get(
        f"/s/{slug}", headers={"User-Agent": agent}, environ_base={"REMOTE_ADDR": ADDRESS}
    )
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    return {name: hidden(html, name) for name in ("device_token", "started", "pages")}


def post_form(client, fields: dict, slug: str = DEMO_SLUG, agent: str = ANDROID_CHROME):
    return client.post(
        f"/s/{slug}",
        data={**valid_answers(), "submission_id": new_id(), **fields},
        headers={"User-Agent": agent},
        environ_base={"REMOTE_ADDR": ADDRESS},
    )


def expected_network_key(address: str, day: date | None = None) -> str:
    day = day or datetime.now(UTC).date()
    secret = db.session.scalar(sa.select(DailySecret.secret).where(DailySecret.day == day))
    prefix = network_prefix(address)
    return hmac.new(secret.encode(), prefix.encode(), hashlib.sha256).hexdigest()


def variant(slug: str, **settings) -> Survey:
    """The demo survey again at `slug`, published with these settings."""
    data = copy.deepcopy(demo_definition())
    data["slug"] = slug
    data["settings"] = {**data["settings"], **settings}
    return save_definition(data, publish=True)


def paradata_of(response) -> dict:
    return {name: getattr(response, name) for name in PARADATA_COLUMNS}


# -- what is stored --------------------------------------------------------------------


def test_a_form_post_stores_each_paradata_field(app, client):
    fields = open_page(client)
    assert fields["pages"] == ""  # the page's script fills it in
    fields["started"] = started_ago(app, 125)
    before = datetime.now(UTC)
    response = post_form(client, {**fields, "pages": "2"})
    assert response.status_code == 303

    (stored,) = stored_responses()
    assert stored.device_class == "phone"
    assert stored.browser == "Chrome"
    assert stored.pages_visited == 2
    assert 124 <= stored.duration_seconds <= 127
    started = stored.started_at.replace(tzinfo=UTC)
    assert before - timedelta(seconds=127) <= started <= before - timedelta(seconds=124)
    assert stored.device_hash == device_hash(fields["device_token"])
    assert len(stored.device_hash) == 64
    assert stored.network_key == expected_network_key(ADDRESS)
    # Nothing of the address or the header itself is kept.
    row = str({column: getattr(stored, column) for column in stored.__table__.columns.keys()})
    assert ADDRESS not in row and "203.0.113" not in row and "SM-A536E" not in row


@pytest.mark.parametrize(
    ("pages", "kept"),
    [
        ("1", 1),
        ("3", 3),
        ("4", 3),
        ("999999", 3),
        ("0", 0),
        ("", None),
        ("-1", None),
        ("2.5", None),
        ("٣", None),
        ("1" * 50, None),
    ],
)
def test_pages_visited_is_clamped_to_the_questionnaire(client, pages, kept):
    fields = open_page(client)
    assert post_form(client, {**fields, "pages": pages}).status_code == 303
    assert stored_responses()[-1].pages_visited == kept


def test_a_started_time_that_is_forged_too_old_or_missing_gives_no_duration(app, client):
    fields = open_page(client, agent=ZALO_IPHONE)
    for started in ("", "s.forged.value", started_ago(app, 8 * 24 * 3600)):
        post_form(client, {**fields, "started": started}, agent=ZALO_IPHONE)
    for stored in stored_responses():
        assert stored.started_at is None and stored.duration_seconds is None
        assert (stored.device_class, stored.browser) == ("phone", "Zalo")


def test_the_api_stores_device_class_browser_and_network(client):
    response = client.post(
        f"/api/v1/surveys/{DEMO_SLUG}/responses",
        json={"submission_id": new_id(), "answers": valid_answers()},
        headers={"User-Agent": "python-requests/2.31.0"},
        environ_base={"REMOTE_ADDR": ADDRESS},
    )
    assert response.status_code == 202
    (stored,) = stored_responses()
    assert (stored.device_class, stored.browser) == ("bot", "Python Requests")
    assert stored.network_key == expected_network_key(ADDRESS)
    # No page: no first view, no pages counted, no device token sent.
    assert stored.started_at is stored.duration_seconds is stored.pages_visited is None
    assert stored.device_hash is None


def test_through_redis_and_the_drain_the_paradata_arrives_whole(buffered_app):
    client = buffered_app.test_client()
    fields = open_page(client)
    fields["started"] = started_ago(buffered_app, 60)
    assert post_form(client, {**fields, "pages": "3"}).status_code == 303
    assert drainer_for(buffered_app).drain_once() == 1
    (stored,) = stored_responses()
    assert (stored.device_class, stored.browser, stored.pages_visited) == ("phone", "Chrome", 3)
    assert 59 <= stored.duration_seconds <= 62
    assert stored.started_at is not None
    assert stored.device_hash == device_hash(fields["device_token"])
    assert stored.network_key == expected_network_key(ADDRESS)


@pytest.mark.parametrize("access", ["open", "device"])
def test_an_anonymous_survey_keeps_no_paradata(app, client, access):
    variant("an-danh", anonymous=True, access=access)
    fields = open_page(client, "an-danh")
    fields["started"] = started_ago(app, 90)
    assert post_form(client, {**fields, "pages": "3"}, slug="an-danh").status_code == 303
    api = client.post(
        "/api/v1/surveys/an-danh/responses",
        json={"submission_id": new_id(), "answers": valid_answers()},
        headers={"User-Agent": ANDROID_CHROME},
        environ_base={"REMOTE_ADDR": ADDRESS},
    )
    assert api.status_code == 202
    stored = stored_responses("an-danh")
    assert len(stored) == 2
    secrets_of_the_browser = (device_hash(fields["device_token"]), expected_network_key(ADDRESS))
    for response in stored:
        assert set(paradata_of(response).values()) == {None}
        row = str({name: getattr(response, name) for name in response.__table__.columns.keys()})
        assert not any(value in row for value in secrets_of_the_browser)
        assert "Chrome" not in row


# -- the network key's daily secret ------------------------------------------------------


def test_the_same_network_has_the_same_key_within_a_day_and_another_the_next(app):
    today = datetime.now(UTC).date()
    tomorrow = today + timedelta(days=1)
    same = network_key("203.0.113.7", today)
    assert same == network_key("203.0.113.250", today)  # one /24
    assert network_key("::ffff:203.0.113.9", today) == same  # IPv4 in IPv6 clothing
    assert network_key("203.0.114.7", today) != same
    assert network_key("203.0.113.7", tomorrow) != same  # a new secret each day
    assert network_key("203.0.113.7", today) == same  # and today's stays
    # a digest, never the address: hex digits alone cannot spell "203.0.113" (a bare
    # "203" can turn up in any digest by chance, so that is not what is checked)
    assert re.fullmatch("[0-9a-f]{64}", same)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DailySecret)) == 2


def test_a_new_day_s_secret_deletes_those_before_yesterday_even_without_workers(app):
    today = datetime.now(UTC).date()
    for back in range(2, 6):
        db.session.add(DailySecret(day=today - timedelta(days=back), secret=f"s{back}"))
    db.session.commit()
    network_key("203.0.113.7", today)  # the first request of the day in this process
    kept = db.session.scalars(sa.select(DailySecret.day)).all()
    assert kept == [today]


def test_ipv6_is_grouped_by_its_64(app):
    today = datetime.now(UTC).date()
    one = network_key("2001:db8:aa:bb::1", today)
    assert network_key("2001:db8:aa:bb:ffff:1:2:3", today) == one
    assert network_key("2001:db8:aa:bc::1", today) != one
    assert network_key("not an address", today) is None
    assert network_prefix("2001:db8:aa:bb:ffff:1:2:3") == "2001:db8:aa:bb::/64"


# -- the retention purge -----------------------------------------------------------------


def answered(client, slug: str, count: int) -> None:
    fields = open_page(client, slug)
    for _ in range(count):
        assert post_form(client, {**fields, "pages": "3"}, slug=slug).status_code == 303


def closed_days_ago(slug: str, days: float) -> Survey:
    survey = find_survey(slug)
    set_status(survey, SurveyStatus.CLOSED)
    survey.closed_at = datetime.now(UTC) - timedelta(days=days)
    db.session.commit()
    return survey


def purge_events() -> list[AuditEvent]:
    return list(
        db.session.scalars(
            sa.select(AuditEvent)
            .where(AuditEvent.action == "paradata_purged")
            .order_by(AuditEvent.id)
        )
    )


def test_after_the_retention_the_paradata_is_erased_and_the_audit_log_says_so(app, client):
    variant("het-han", retention_days=30)
    variant("con-han", retention_days=30)
    answered(client, "het-han", 5)
    answered(client, "con-han", 2)
    closed_days_ago("het-han", 31)  # retention + 1 day
    closed_days_ago("con-han", 29)  # still within it
    answers_before = [r.answers for r in stored_responses("het-han")]
    assert all(r.device_class == "phone" for r in stored_responses("het-han"))

    done = retention.purge(actor_name=retention.WORKERS, batch=2)

    assert [(p.slug, p.responses, p.retention_days) for p in done] == [("het-han", 5, 30)]
    for response in stored_responses("het-han"):
        assert set(paradata_of(response).values()) == {None}
    assert [r.answers for r in stored_responses("het-han")] == answers_before  # answers stay
    for response in stored_responses("con-han"):  # untouched
        assert response.device_class == "phone" and response.network_key is not None
        assert response.started_at is not None and response.pages_visited == 3
    (event,) = purge_events()
    assert event.survey_slug == "het-han" and event.actor == retention.WORKERS
    assert event.detail["responses"] == 5 and event.detail["retention_days"] == 30
    closed = datetime.fromisoformat(event.detail["closed_at"])
    assert abs(closed - (datetime.now(UTC) - timedelta(days=31))) < timedelta(minutes=1)
    assert datetime.now(UTC) - event.at.replace(tzinfo=UTC) < timedelta(minutes=1)
    survey = find_survey("het-han")
    assert survey.paradata_purged_upto == stored_responses("het-han")[-1].id

    # A second run finds nothing new: no scan, no second entry.
    assert retention.purge() == []
    assert len(purge_events()) == 1


def test_the_default_retention_is_90_days_and_closes_at_counts_as_closing(app, client):
    answered(client, DEMO_SLUG, 1)
    closed_days_ago(DEMO_SLUG, 89)
    assert retention.purge() == []
    closed_days_ago(DEMO_SLUG, 91)
    assert [p.responses for p in retention.purge()] == [1]

    long_ago = (datetime.now(UTC) - timedelta(days=8)).isoformat(timespec="seconds")
    variant("tu-dong-dong", retention_days=7)
    answered(client, "tu-dong-dong", 2)
    data = copy.deepcopy(find_survey("tu-dong-dong").published_version().definition)
    data["settings"]["closes_at"] = long_ago  # still "published", but closed by its date
    save_definition(data, publish=True)
    assert [(p.slug, p.responses) for p in retention.purge()] == [("tu-dong-dong", 2)]


def test_reopening_a_survey_stops_its_retention_clock(app, client):
    variant("mo-lai", retention_days=1)
    answered(client, "mo-lai", 1)
    survey = closed_days_ago("mo-lai", 5)
    set_status(survey, SurveyStatus.PUBLISHED)
    assert survey.closed_at is None
    assert retention.purge() == []
    assert stored_responses("mo-lai")[0].device_class == "phone"


def test_the_purge_deletes_the_daily_secrets_before_yesterday(app):
    today = datetime.now(UTC).date()
    for back in range(5):
        db.session.add(DailySecret(day=today - timedelta(days=back), secret=f"s{back}"))
    db.session.commit()
    retention.purge()
    kept = db.session.scalars(sa.select(DailySecret.day).order_by(DailySecret.day)).all()
    assert kept == [today - timedelta(days=1), today]


def test_the_command_line_purges_and_dry_runs(app, client):
    variant("dong-cu", retention_days=10)
    answered(client, "dong-cu", 3)
    closed_days_ago("dong-cu", 11)
    runner = app.test_cli_runner()
    dry = runner.invoke(cli, ["purge-paradata", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "dong-cu: would erase the paradata of 3 responses" in dry.output
    assert stored_responses("dong-cu")[0].device_class == "phone" and purge_events() == []
    real = runner.invoke(cli, ["purge-paradata"])
    assert real.exit_code == 0, real.output
    assert "dong-cu: erased the paradata of 3 responses" in real.output
    assert stored_responses("dong-cu")[0].device_class is None
    (event,) = purge_events()
    assert event.actor == "command line" and event.detail["responses"] == 3
    again = runner.invoke(cli, ["purge-paradata"])
    assert "no survey's paradata is due for erasing" in again.output


def test_the_workers_purge_once_an_hour_whoever_comes_first(app, client, redis_client):
    variant("moi-gio", retention_days=1)
    answered(client, "moi-gio", 1)
    closed_days_ago("moi-gio", 2)
    first = purge_paradata_hourly(redis_client)
    assert [p.slug for p in first or []] == ["moi-gio"]
    assert purge_paradata_hourly(redis_client) is None  # another worker, the same hour
    assert 3500 < redis_client.ttl(PURGE_CLAIM_KEY) <= 3600
    (event,) = purge_events()
    assert event.actor == retention.WORKERS


def test_the_rq_worker_s_maintenance_tick_runs_the_purge(app, client, redis_client):
    variant("bao-tri", retention_days=3)
    answered(client, "bao-tri", 2)
    closed_days_ago("bao-tri", 4)
    worker = JobWorker(app, [Queue("default", connection=redis_client)], connection=redis_client)
    worker.run_maintenance_tasks()
    assert all(r.device_class is None for r in stored_responses("bao-tri"))
    (event,) = purge_events()
    assert (event.survey_slug, event.detail["responses"]) == ("bao-tri", 2)
    assert redis_client.exists(PURGE_CLAIM_KEY)
