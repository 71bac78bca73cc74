"""Quality flags computed as responses are stored (intake/quality.py).

Every case runs on both real paths: the Redis-buffered app, where accept() appends to
the stream and a Drainer stores batches, and the direct database path (no Redis),
where accept() stores each submission in its own transaction. Each flag is raised,
with its reason, on a realistic case and not on its honest counterpart.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from survey_engine import create_app
from survey_engine.catalog import find_survey, published, save_definition
from survey_engine.config import ConfigError
from survey_engine.definition import Definition, clean_answers
from survey_engine.definition.fake import fake_answers
from survey_engine.definition.schema import validate_definition
from survey_engine.definition.xlsform import read_xlsform
from survey_engine.definition.xlsform_writer import write_xlsform
from survey_engine.extensions import db
from survey_engine.intake import quality
from survey_engine.intake.accept import accept
from survey_engine.intake.drain import Drainer
from survey_engine.intake.persist import persist_batch
from survey_engine.intake.submission import Outcome, Submission
from survey_engine.models import Response, ResponseStatus
from tests.conftest import (
    DEMO_SLUG,
    TEST_REDIS_URL,
    demo_definition,
    seeded_app,
    stored_responses,
    valid_answers,
)

NAT = "a" * 64  # one carrier's network key


@pytest.fixture(params=["buffered", "direct"])
def path_app(request, database_url, tmp_path) -> Iterator[Flask]:
    """The app on either path: Redis stream + drain, or straight into the database."""
    config: dict = {"EXPORT_DIR": str(tmp_path / "exports")}
    if request.param == "buffered":
        request.getfixturevalue("redis_client")
        config.update(REDIS_URL=TEST_REDIS_URL, DRAIN_CLAIM_IDLE_MS=0)
    yield from seeded_app(database_url, **config)


# -- helpers -----------------------------------------------------------------------------


def demo() -> Definition:
    survey = published(DEMO_SLUG)
    assert survey is not None
    return survey.definition


def cleaned(raw: dict) -> dict:
    answers, errors = clean_answers(demo(), raw, "vi")
    assert errors == {}
    return answers


def honest_answers(rng: random.Random) -> dict:
    """Varied answers of a real person: fake ones, with a matrix not all in one column."""
    while True:
        answers = fake_answers(demo(), rng)
        if len(set((answers.get("measures") or {"a": 1, "b": 2}).values())) > 1:
            return answers


def response(
    answers: dict | None = None,
    device: str | None = None,
    network: str | None = None,
    duration: int | None = 300,
    at: datetime | None = None,
    flags: tuple = (),
) -> Submission:
    survey = published(DEMO_SLUG)
    assert survey is not None
    return Submission(
        survey.survey_id,
        survey.version_id,
        uuid.uuid4(),
        answers if answers is not None else cleaned(valid_answers()),
        paradata={
            "duration_seconds": duration,
            "device_hash": device,
            "network_key": network,
            "started_at": None if duration is None else (at or datetime.now(UTC)),
        },
        submitted_at=at or datetime.now(UTC),
        flags=list(flags),
    )


def store(app: Flask, *submissions: Submission) -> None:
    """Through accept(), as the web does; the buffered path is drained to the end."""
    for submission in submissions:
        assert accept(submission) is Outcome.ACCEPTED
    buffer = app.extensions.get("stream_buffer")
    if buffer is not None:
        drainer = Drainer(app, buffer.client, name="quality-test")
        while drainer.drain_once():
            pass


def stored() -> dict[uuid.UUID, Response]:
    db.session.expire_all()
    return {r.submission_id: r for r in stored_responses()}


def flags_of(row: Response) -> dict[str, str]:
    return {f["flag"]: f["reason"] for f in row.flags}


def honest_crowd(n: int, rng: random.Random, seconds: float = 0.4) -> list[Submission]:
    """n different people behind one carrier's address, a response every `seconds`."""
    start = datetime.now(UTC) - timedelta(seconds=n * seconds)
    return [
        response(
            honest_answers(rng),
            device=f"device-{i:04d}",
            network=NAT,
            duration=rng.randint(180, 900),
            at=start + timedelta(seconds=i * seconds),
        )
        for i in range(n)
    ]


# -- speeder -----------------------------------------------------------------------------


def test_speeder_under_a_third_of_the_median(path_app):
    rng = random.Random(1)
    store(path_app, *(response(honest_answers(rng), duration=270 + i * 3) for i in range(30)))
    fast, careful = response(duration=41), response(duration=200)
    store(path_app, fast)
    store(path_app, careful)
    rows = stored()
    assert flags_of(rows[fast.submission_id]) == {
        "speeder": "took 41 s; a third of the median so far (312 s) is 104 s"
    }
    assert rows[fast.submission_id].status == ResponseStatus.FLAGGED
    assert rows[careful.submission_id].flags == []
    assert rows[careful.submission_id].status == ResponseStatus.UNREVIEWED


def test_no_speeder_before_enough_durations(path_app):
    store(path_app, *(response(duration=300) for _ in range(10)))
    early = response(duration=5)
    store(path_app, early)
    assert stored()[early.submission_id].flags == []


# -- straight lines and attention checks ---------------------------------------------------


def test_straight_lining_in_a_matrix(path_app):
    same = cleaned(
        {
            **valid_answers(),
            "measures": {"masks": "agree", "half_classes": "agree", "testing": "agree"},
        }
    )
    varied = cleaned(
        {
            **valid_answers(),
            "measures": {"masks": "agree", "half_classes": "neutral", "testing": "agree"},
        }
    )
    line, honest = response(same, device="d1"), response(varied, device="d2")
    store(path_app, line, honest)
    rows = stored()
    assert flags_of(rows[line.submission_id]) == {
        "straight_lining": "matrix 'measures': all 3 rows answered 'agree'"
    }
    assert rows[honest.submission_id].flags == []


def with_attention_check() -> dict:
    definition = demo_definition()
    definition["pages"][1]["questions"].insert(
        0,
        {
            "name": "check",
            "type": "select_one",
            "choices": "agreement",
            "label": {"vi": "Để kiểm tra, hãy chọn “Không đồng ý”", "en": "Choose “Disagree”"},
            "attention": "disagree",
        },
    )
    return definition


def test_attention_check_answered_otherwise(path_app):
    save_definition(with_attention_check(), publish=True)
    failed = response(cleaned({**valid_answers(), "check": "agree"}), device="d1")
    passed = response(cleaned({**valid_answers(), "check": "disagree"}), device="d2")
    store(path_app, failed, passed)
    rows = stored()
    assert flags_of(rows[failed.submission_id]) == {
        "attention": "attention check 'check': answered 'agree', expected 'disagree'"
    }
    assert rows[passed.submission_id].flags == []


def test_attention_in_the_schema_and_xlsform(tmp_path):
    definition = with_attention_check()
    assert validate_definition(definition) == []
    matrix = definition["pages"][1]["questions"][3]
    assert matrix["type"] == "matrix"
    matrix["attention"] = {"testing": "neutral"}
    assert validate_definition(definition) == []
    assert Definition(definition).by_name["check"].attention == "disagree"
    assert [q.name for q in Definition(definition).attention_checks()] == ["check", "measures"]
    write_xlsform(definition, tmp_path / "survey.xlsx")
    back = read_xlsform(tmp_path / "survey.xlsx")
    questions = {q["name"]: q for page in back["pages"] for q in page["questions"]}
    assert questions["check"]["attention"] == "disagree"
    assert questions["measures"]["attention"] == {"testing": "neutral"}

    definition["pages"][1]["questions"][0]["attention"] = "maybe"
    matrix["attention"] = {"nope": "agree"}
    definition["pages"][0]["questions"][0]["attention"] = "x"  # a hidden question
    problems = validate_definition(definition)
    assert any(
        "questions[0].attention: the expected answer is one of the choices" in p for p in problems
    )
    assert any("attention: the expected answer is {row: choice}" in p for p in problems)
    assert any("a hidden question does not take 'attention'" in p for p in problems)


def test_a_builder_edit_keeps_the_attention_check():
    from survey_engine.definition import editing

    definition = with_attention_check()
    edited = {"name": "check", "type": "select_one", "choices": "agreement", "label": "New"}
    editing.replace_question(definition, "check", edited, definition["pages"][1]["name"])
    assert definition["pages"][1]["questions"][0]["attention"] == "disagree"
    retyped = {"name": "check", "type": "text", "label": "A text now"}
    editing.replace_question(definition, "check", retyped, definition["pages"][1]["name"])
    assert "attention" not in definition["pages"][1]["questions"][0]


# -- duplicates ----------------------------------------------------------------------------


def test_the_same_device_again_flags_both_even_in_a_later_batch(path_app):
    rng = random.Random(2)
    first, other = response(honest_answers(rng), device="phone-1"), response(device="phone-2")
    store(path_app, first, other)
    assert stored()[first.submission_id].flags == []
    again = response(honest_answers(rng), device="phone-1")
    store(path_app, again)
    rows = stored()
    assert flags_of(rows[again.submission_id]) == {
        "duplicate": "the same browser (device token) answered 1 time(s) before"
    }
    assert flags_of(rows[first.submission_id]) == {
        "duplicate": "the first response of a browser (device token) that answered again later"
    }
    assert rows[first.submission_id].status == ResponseStatus.FLAGGED
    assert rows[other.submission_id].flags == []


def test_two_hundred_from_one_device_all_flagged(path_app):
    rng = random.Random(3)
    repeated = [response(honest_answers(rng), device="script", network=NAT) for _ in range(200)]
    store(path_app, *repeated)
    rows = stored()
    assert len(rows) == 200
    assert all("duplicate" in flags_of(row) for row in rows.values())
    assert {row.status for row in rows.values()} == {ResponseStatus.FLAGGED}
    # Flags never change the tallies: all 200 are counted until staff exclude them.
    assert responses_counted() == 200


def test_repeats_two_workers_stored_unseen_are_all_flagged_later(path_app):
    """Two workers storing the same token at once see nothing of each other; the next
    response of that token flags both."""
    pair = [response(device="phone-1"), response(device="phone-1")]
    store(path_app, *pair)
    db.session.execute(sa.update(Response).values(status=ResponseStatus.UNREVIEWED, flags=[]))
    db.session.commit()
    third = response(device="phone-1")
    store(path_app, third)
    rows = stored()
    assert all("duplicate" in flags_of(row) for row in rows.values())
    assert {flags_of(rows[p.submission_id])["duplicate"] for p in pair} == {
        "the first response of a browser (device token) that answered again later",
        "the same browser (device token) answered before",
    }
    assert flags_of(rows[third.submission_id])["duplicate"] == (
        "the same browser (device token) answered 2 time(s) before"
    )


def test_an_accepted_response_is_never_flagged_again(path_app):
    first = response(device="phone-1")
    store(path_app, first)
    db.session.execute(
        sa.update(Response)
        .where(Response.submission_id == first.submission_id)
        .values(status=ResponseStatus.ACCEPTED)
    )
    db.session.commit()
    again = response(device="phone-1")
    store(path_app, again)
    rows = stored()
    assert rows[first.submission_id].status == ResponseStatus.ACCEPTED
    assert rows[first.submission_id].flags == []
    assert "duplicate" in flags_of(rows[again.submission_id])


def test_identical_answers_from_one_network(path_app):
    rng = random.Random(4)
    copied = honest_answers(rng)
    copies = [response(dict(copied), device=f"browser-{i}", network=NAT) for i in range(3)]
    store(path_app, copies[0])
    store(path_app, *copies[1:])
    elsewhere = response(dict(copied), device="browser-x", network="b" * 64)
    different = response(honest_answers(rng), device="browser-y", network=NAT)
    store(path_app, elsewhere, different)
    rows = stored()
    for copy in copies:
        assert "the same answers as" in flags_of(rows[copy.submission_id])["duplicate"]
    assert flags_of(rows[copies[2].submission_id])["duplicate"] == (
        "the same answers as 2 other response(s) from the same network today"
    )
    assert rows[elsewhere.submission_id].flags == []
    assert rows[different.submission_id].flags == []


def test_common_short_answers_from_one_network_are_not_duplicates(path_app):
    """Five answers a crowd often gives alike: chance, not stuffing."""
    short = cleaned(
        {
            "consent": "OK",
            "district": "da_lat",
            "commune": "dl_p1",
            "role": "teacher",
            "support": "yes",
        }
    )
    crowd = [response(dict(short), device=f"b-{i}", network=NAT) for i in range(4)]
    store(path_app, *crowd)
    assert [r.flags for r in stored().values() if r.flags] == []


# -- bursts and carrier NAT ------------------------------------------------------------------


def test_burst_without_device_tokens(path_app):
    rng = random.Random(5)
    start = datetime.now(UTC) - timedelta(minutes=2)
    burst = [
        response(honest_answers(rng), network=NAT, at=start + timedelta(seconds=3 * i))
        for i in range(40)
    ]
    store(path_app, *burst)
    rows = stored()
    assert all("burst" in flags_of(row) for row in rows.values())
    assert flags_of(rows[burst[-1].submission_id])["burst"] == (
        "40 responses from one network within 5 minutes without a browser of their own "
        "(no device token, or one that had answered already); more than 30"
    )


def test_no_burst_when_spread_over_hours(path_app):
    rng = random.Random(6)
    start = datetime.now(UTC) - timedelta(hours=3)
    slow = [
        response(honest_answers(rng), network=NAT, at=start + timedelta(minutes=4 * i))
        for i in range(40)
    ]
    store(path_app, *slow)
    assert all(row.flags == [] for row in stored().values())


def test_three_hundred_phones_behind_one_address_none_flagged(path_app):
    """Carrier NAT: 300 people, one network key, realistic answers and speeds."""
    store(path_app, *honest_crowd(300, random.Random(7)))
    rows = stored()
    assert len(rows) == 300
    assert [flags_of(r) for r in rows.values() if r.flags] == []
    assert {row.status for row in rows.values()} == {ResponseStatus.UNREVIEWED}


def test_the_web_tiers_flags_are_kept(path_app):
    over = response(device="d1", flags=({"flag": "over_limit", "reason": "over the limit"},))
    store(path_app, over)
    row = stored()[over.submission_id]
    assert flags_of(row) == {"over_limit": "over the limit"}
    assert row.status == ResponseStatus.FLAGGED


def flagged_metric(app: Flask, flag: str) -> int:
    """survey_engine_flagged_total of the demo survey (inline mode's counters are the
    process's own: earlier tests' flags are in them too)."""
    line = f'survey_engine_flagged_total{{survey="{DEMO_SLUG}",flag="{flag}"}} '
    text = app.test_client().get("/metrics").get_data(as_text=True)
    return sum(int(x.removeprefix(line)) for x in text.splitlines() if x.startswith(line))


def test_metrics_count_flags(path_app):
    before = flagged_metric(path_app, "duplicate"), flagged_metric(path_app, "over_limit")
    store(path_app, *(response(device="one") for _ in range(3)))
    store(path_app, response(flags=({"flag": "over_limit", "reason": "over the limit"},)))
    after = flagged_metric(path_app, "duplicate"), flagged_metric(path_app, "over_limit")
    assert (after[0] - before[0], after[1] - before[1]) == (3, 1)


# -- cost ------------------------------------------------------------------------------------


@contextmanager
def counted_queries() -> Iterator[list[str]]:
    statements: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield statements
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", note)


def test_a_batch_of_500_costs_a_few_queries(app):
    rng = random.Random(8)
    crowd = honest_crowd(1500, rng, seconds=0.1)
    persist_batch(crowd[:500])
    persist_batch(crowd[500:1000])
    batch = crowd[1000:]
    batch[0] = response(device="device-0001", network=NAT)  # a repeat: one earlier row flagged
    db.session.remove()
    with counted_queries() as checking:
        started = time.perf_counter()
        checked = quality.check_batch(batch)
        seconds = time.perf_counter() - started
        db.session.rollback()
    # durations, devices, same answers, bursts, one UPDATE of the earlier ones
    assert len(checking) <= 5, checking
    assert seconds < 5
    assert checked.earlier and sum(checked.earlier.values()) >= 1
    with counted_queries() as storing:
        started = time.perf_counter()
        assert len(persist_batch(batch).inserted) == 500
        stored_in = time.perf_counter() - started
    assert len(storing) <= 14, storing
    print(
        f"\nquality check of 500: {seconds * 1000:.0f} ms, {len(checking)} queries; "
        f"persist_batch: {stored_in * 1000:.0f} ms, {len(storing)} queries"
    )


def test_a_stuffed_batch_costs_a_few_queries_too(app):
    """5,000 earlier responses of one script (no device token, one address) in the burst
    window: the next 500 still cost a few queries, and every one is flagged."""
    rng = random.Random(9)
    start = datetime.now(UTC) - timedelta(minutes=4)
    script = [
        response(honest_answers(rng), network=NAT, duration=3, at=start + timedelta(seconds=i / 25))
        for i in range(5500)
    ]
    for first in range(0, 5000, 500):
        persist_batch(script[first : first + 500])
    db.session.remove()
    with counted_queries() as checking:
        started = time.perf_counter()
        checked = quality.check_batch(script[5000:])
        seconds = time.perf_counter() - started
        db.session.rollback()
    assert len(checking) <= 5, checking
    assert all("burst" in {f["flag"] for f in s.flags} for s in checked.submissions)
    print(f"\nquality check of 500 after 5,000 stuffed: {seconds * 1000:.0f} ms")
    assert seconds < 10


# -- settings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("QUALITY_SPEEDER_FRACTION", "1"),
        ("QUALITY_SPEEDER_FRACTION", "0"),
        ("QUALITY_SPEEDER_FRACTION", "a third"),
        ("QUALITY_BURST_COUNT", "0"),
        ("QUALITY_BURST_MINUTES", "-5"),
        ("QUALITY_STRAIGHT_LINE_ROWS", "1"),
        ("QUALITY_NETWORK_LOOKBACK", "10"),
    ],
)
def test_bad_quality_settings_stop_the_start(name, value):
    with pytest.raises(ConfigError, match=name):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", name: value})


def test_quality_settings_read():
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
            "QUALITY_SPEEDER_FRACTION": "1/4",
            "QUALITY_BURST_COUNT": "50",
        }
    )
    assert app.config["QUALITY_SPEEDER_FRACTION"] == 0.25
    assert app.config["QUALITY_BURST_COUNT"] == 50


def responses_counted() -> int:
    from survey_engine.intake import tallies

    survey = find_survey(DEMO_SLUG)
    counts = tallies.stored_counts(survey.id)
    return sum(n for (_, _, q, c), n in counts.items() if (q, c) == tallies.RESPONSES)
