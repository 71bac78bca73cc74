"""Circuit breakers (intake/breakers.py) and the proof of work (intake/proof_of_work.py).

The windows are driven by a clock the test moves, never by sleeping. Each runs on
real Redis and on the in-process fallback, which must agree.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import Counter

import pytest
import redis

from survey_engine.config import Config, ConfigError, check_settings
from survey_engine.intake import breakers, counters, proof_of_work
from survey_engine.intake.breakers import Breakers, Verdict, windows_for
from survey_engine.intake.drain import Drainer
from survey_engine.intake.proof_of_work import Check, issue, verify
from tests.conftest import (
    DEMO_SLUG,
    TEST_REDIS_URL,
    new_id,
    seeded_app,
    stored_responses,
    valid_answers,
)
from tests.test_public_form import form_data

T0 = 1_800_000_000.0  # a whole minute and a whole 10 minutes: buckets start here
LIMITS = {
    "LIMIT_SURVEY_PER_MINUTE": 6000,
    "LIMIT_NETWORK_PER_MINUTE": 600,
    "LIMIT_DEVICE_PER_10_MINUTES": 5,
}


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["redis", "in-process"])
def make_breakers(request):
    """Breakers on real Redis (db of TEST_REDIS_URL), or with no Redis at all."""
    if request.param == "redis":
        client = request.getfixturevalue("redis_client")
        return lambda clock: Breakers(client, clock)
    return lambda clock: Breakers(None, clock)


def network_windows(limit: int, network: str = "n1") -> list:
    config = {**LIMITS, "LIMIT_NETWORK_PER_MINUTE": limit}
    return [w for w in windows_for(7, network, None, config) if ":network:" in w.key]


def hits(b: Breakers, windows: list, times: int) -> list[Verdict]:
    return [b.hit(windows) for _ in range(times)]


def test_the_window_allows_the_limit_and_stops_one_more(make_breakers):
    clock = Clock(T0 + 1)
    b = make_breakers(clock)
    windows = network_windows(10)
    assert not any(v.over for v in hits(b, windows, 10))
    over = b.hit(windows)
    assert over.over and over.which == "network"
    # Nothing over the limit is counted: the 12th is over for the same reason.
    assert 1 <= over.retry_after <= 120
    assert b.hit(windows) == over


def test_the_window_slides(make_breakers):
    """Two buckets, the previous weighted by how much of it the window still covers."""
    clock = Clock(T0 + 1)
    b = make_breakers(clock)
    windows = network_windows(10)
    hits(b, windows, 10)
    clock.now = T0 + 59
    assert b.hit(windows).over  # still the same minute
    # Half way into the next minute, the full previous one weighs 5: five more fit.
    clock.now = T0 + 90
    assert [v.over for v in hits(b, windows, 6)] == [False] * 5 + [True]
    # The previous bucket's weight falls to 4 by T0 + 96: what Retry-After said.
    assert b.hit(windows) == Verdict(True, "network", 6)
    clock.now = T0 + 95.5
    assert b.hit(windows).over
    clock.now = T0 + 96
    assert not b.hit(windows).over
    # Two minutes on, nothing of it is seen any more.
    clock.now = T0 + 240
    assert not any(v.over for v in hits(b, windows, 10))


def test_the_wait_when_the_current_bucket_is_full(make_breakers):
    clock = Clock(T0 + 30)
    b = make_breakers(clock)
    windows = network_windows(4)
    hits(b, windows, 4)
    # 30 s to the next minute, then 4 * (1 - f) <= 3 from f = 1/4 of it: 15 s more.
    assert b.hit(windows) == Verdict(True, "network", 45)
    clock.now = T0 + 74.9
    assert b.hit(windows).over
    clock.now = T0 + 75
    assert not b.hit(windows).over


def test_each_scope_is_counted_apart(make_breakers):
    clock = Clock(T0 + 1)
    b = make_breakers(clock)
    config = {**LIMITS, "LIMIT_SURVEY_PER_MINUTE": 8}
    assert not any(b.hit(windows_for(7, "n1", f"d{i}", config)).over for i in range(8))
    assert b.hit(windows_for(7, "n2", "d99", config)) == Verdict(True, "survey", 67)
    # Another survey has windows of its own.
    assert not b.hit(windows_for(8, "n1", "d0", config)).over


def test_a_limit_of_zero_or_a_missing_key_checks_nothing():
    assert [w.key.split(":")[3] for w in windows_for(7, None, None, LIMITS)] == ["survey"]
    off = {**LIMITS, "LIMIT_SURVEY_PER_MINUTE": 0, "LIMIT_NETWORK_PER_MINUTE": 0}
    assert [w.key.split(":")[3] for w in windows_for(7, "n", "d", off)] == ["device"]
    assert Breakers(None).hit([]) == Verdict(False)


def test_a_solved_proof_of_work_counts_even_when_over(make_breakers):
    clock = Clock(T0 + 1)
    b = make_breakers(clock)
    windows = network_windows(3)
    hits(b, windows, 3)
    assert b.hit(windows, force=True).over  # let through by the caller, and counted:
    # 4 in the previous minute weigh 2 at T0 + 90 (3 would have let one in at T0 + 80).
    clock.now = T0 + 85
    assert b.hit(windows).over
    clock.now = T0 + 90
    assert not b.hit(windows).over


def test_carrier_nat_300_devices_behind_one_address_are_never_over(make_breakers):
    """The defaults: a commune behind one address, each answering once in two minutes."""
    clock = Clock(T0 + 17)
    b = make_breakers(clock)
    config = check_defaults()
    verdicts = []
    for i in range(300):
        clock.now = T0 + 17 + i * 0.4
        device = hashlib.sha256(f"phone {i}".encode()).hexdigest()
        verdicts.append(b.hit(windows_for(7, "carrier-nat", device, config)))
    assert not any(v.over for v in verdicts)


def test_one_device_50_times_is_over_after_its_limit(make_breakers):
    clock = Clock(T0 + 5)
    b = make_breakers(clock)
    config = check_defaults()
    verdicts = []
    for i in range(50):
        clock.now = T0 + 5 + i * 3
        verdicts.append(b.hit(windows_for(7, "home", "one-phone", config)))
    assert [v.over for v in verdicts] == [False] * 5 + [True] * 45
    assert {v.which for v in verdicts[5:]} == {"device"}


def test_redis_down_falls_back_to_this_process():
    """A Redis that does not answer never holds a citizen up: the process counts."""
    dead = redis.Redis(host="127.0.0.1", port=7399, socket_connect_timeout=0.2)
    b = Breakers(dead, Clock(T0 + 1))
    windows = network_windows(3)
    assert [v.over for v in hits(b, windows, 4)] == [False, False, False, True]
    # It is not asked again for a few seconds (a hanging one would cost each its timeout).
    assert b._redis_after > time.monotonic() + breakers.REDIS_RETRY_SECONDS - 1


def check_defaults() -> dict:
    config = vars(Config("/tmp"))
    check_settings(config)
    return config


def test_settings_are_checked_at_startup():
    config = check_defaults()
    assert (config["LIMIT_NETWORK_PER_MINUTE"], config["LIMIT_DEVICE_PER_10_MINUTES"]) == (600, 5)
    assert (config["LIMIT_SURVEY_PER_MINUTE"], config["POW_DIFFICULTY_BITS"]) == (6000, 18)
    for name, bad in (
        ("LIMIT_NETWORK_PER_MINUTE", "-1"),
        ("LIMIT_DEVICE_PER_10_MINUTES", "five"),
        ("POW_DIFFICULTY_BITS", "0"),
        ("POW_DIFFICULTY_BITS", "40"),
    ):
        with pytest.raises(ConfigError, match=name):
            check_settings({**vars(Config("/tmp")), name: bad})


# --- the proof of work ----------------------------------------------------------------


def solve(challenge: str, bits: int) -> str:
    counter = 0
    while not proof_of_work.solves(challenge, str(counter), bits):
        counter += 1
    return str(counter)


def wrong_counter(challenge: str, bits: int) -> str:
    counter = 0
    while proof_of_work.solves(challenge, str(counter), bits):
        counter += 1
    return str(counter)


@pytest.fixture(params=["redis", "in-process"])
def pow_app(request):
    """An app whose used nonces go to Redis, or stay in the process."""
    name = "buffered_app" if request.param == "redis" else "app"
    return request.getfixturevalue(name)


def test_a_solution_is_accepted_once(pow_app):
    challenge = issue(7, 10)
    counter = solve(challenge, 10)
    digest = hashlib.sha256(f"{challenge}:{counter}".encode()).digest()
    assert int.from_bytes(digest[:2], "big") >> 6 == 0  # ten zero bits
    assert verify(7, challenge, counter) is Check.SOLVED
    assert verify(7, challenge, counter) is Check.USED


def test_wrong_forged_foreign_and_expired_solutions_are_refused(pow_app):
    challenge = issue(7, 10)
    counter = solve(challenge, 10)
    assert verify(7, challenge, wrong_counter(challenge, 10)) is Check.WRONG
    assert verify(7, challenge, "12a") is Check.WRONG
    assert verify(7, challenge, "1" * 21) is Check.WRONG
    assert verify(8, challenge, counter) is Check.BAD  # issued for another survey
    signed, signature = challenge.rsplit(".", 1)
    forged = signed + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    assert verify(7, forged, solve(forged, 10)) is Check.BAD
    assert verify(7, "not a challenge", "1") is Check.BAD
    assert verify(7, "x" * 1000, "1") is Check.BAD
    # A challenge with easier terms cannot be made up: the difficulty is signed.
    assert verify(7, challenge, counter, now=time.time() + 601) is Check.EXPIRED
    # Refusing it did not use it up.
    assert verify(7, challenge, counter) is Check.SOLVED


def test_the_leading_zero_bits():
    assert proof_of_work.leading_zero_bits(bytes([0, 0, 0x10]) + bytes(29)) == 19
    assert proof_of_work.leading_zero_bits(bytes([0x80]) + bytes(31)) == 0
    assert proof_of_work.leading_zero_bits(bytes(32)) == 256


# --- at the door: the API and the questionnaire's POST ---------------------------------

API = f"/api/v1/surveys/{DEMO_SLUG}/responses"
FORM = f"/s/{DEMO_SLUG}"


@pytest.fixture(params=["redis", "inline"])
def low_limit_app(request, database_url, tmp_path):
    """Three a minute per network, four bits of proof of work; Redis or inline."""
    config = {"LIMIT_NETWORK_PER_MINUTE": 3, "POW_DIFFICULTY_BITS": 4}
    if request.param == "redis":
        request.getfixturevalue("redis_client")
        config |= {"REDIS_URL": TEST_REDIS_URL, "DRAIN_CLAIM_IDLE_MS": 0}
    counters.local_counts.clear()  # the process's counters: another test's app counted there
    yield from seeded_app(database_url, EXPORT_DIR=str(tmp_path / "exports"), **config)


def stored_count(app) -> int:
    if app.config["REDIS_URL"]:
        drain_once(app)
    return len(stored_responses())


def drain_once(app) -> None:
    Drainer(app, redis.Redis.from_url(TEST_REDIS_URL), name="test-breakers").drain_once()


def test_the_api_answers_429_with_retry_after_over_the_limit(low_limit_app):
    client = low_limit_app.test_client()
    sent = [
        client.post(API, json={"submission_id": new_id(), "answers": valid_answers()})
        for _ in range(4)
    ]
    assert [r.status_code for r in sent] == [202, 202, 202, 429]
    over = sent[-1]
    wait = int(over.headers["Retry-After"])
    assert 1 <= wait <= 120
    assert over.get_json() == {
        "error": "too many submissions (network limit); "
        f"send the same request again in {wait} seconds",
        "limit": "network",
        "retry_after": wait,
    }
    # Another network is not held up by this one.
    other = client.post(
        API,
        json={"submission_id": new_id(), "answers": valid_answers()},
        environ_base={"REMOTE_ADDR": "198.51.100.7"},
    )
    assert other.status_code == 202
    assert stored_count(low_limit_app) == 4


def challenge_in(html: str) -> tuple[str, int]:
    match = re.search(r'name="pow_challenge" value="([^"]+)" data-bits="(\d+)"', html)
    assert match, "no challenge in the page"
    return match[1], int(match[2])


def test_the_page_with_its_script_gets_a_proof_of_work_and_passes_with_it(low_limit_app):
    client = low_limit_app.test_client()
    for _ in range(3):
        assert client.post(FORM, data=form_data(js="1")).status_code == 303
    submission_id = new_id()
    data = form_data(submission_id, js="1", comment="Lần thứ tư")
    over = client.post(FORM, data=data)
    assert over.status_code == 429 and 1 <= int(over.headers["Retry-After"]) <= 120
    html = over.get_data(as_text=True)
    # The same form: every answer and the same submission_id, and the challenge.
    assert f'name="submission_id" value="{submission_id}"' in html
    assert "Lần thứ tư" in html
    challenge, bits = challenge_in(html)
    assert bits == 4
    counter = solve(challenge, bits)
    solved = {**data, "pow_challenge": challenge, "pow_counter": counter}
    assert client.post(FORM, data=solved).status_code == 303
    assert stored_count(low_limit_app) == 4
    # The same solution again (another submission) is used up: a new challenge.
    again = client.post(FORM, data={**solved, "submission_id": new_id()})
    assert again.status_code == 429 and challenge_in(again.get_data(as_text=True))[0] != challenge
    # A wrong one neither.
    wrong = {**data, "submission_id": new_id(), "pow_challenge": challenge}
    wrong["pow_counter"] = wrong_counter(challenge, bits)
    assert client.post(FORM, data=wrong).status_code == 429
    assert stored_count(low_limit_app) == 4
    metrics = client.get("/metrics").get_data(as_text=True)
    survey = f'survey="{DEMO_SLUG}"'
    assert f'survey_engine_limited_total{{{survey},which="network"}} 4' in metrics
    assert f'survey_engine_challenges_total{{{survey},outcome="issued"}} 3' in metrics
    assert f'survey_engine_challenges_total{{{survey},outcome="solved"}} 1' in metrics
    assert f'survey_engine_challenges_total{{{survey},outcome="refused"}} 2' in metrics


def test_the_page_without_script_is_stored_over_the_limit_with_a_flag(low_limit_app):
    # Five phones (each its own client, each its own words: the same phone or the same
    # answers five times from one network would be flagged duplicates too) from one
    # network over its limit of 3.
    replies = [
        low_limit_app.test_client().post(FORM, data=form_data(comment=f"Ý kiến {i}")).status_code
        for i in range(5)
    ]
    client = low_limit_app.test_client()
    assert replies == [303] * 5  # never turned away
    assert stored_count(low_limit_app) == 5
    stored = stored_responses()  # (the drain stores a batch in its own order)
    flagged = [r for r in stored if r.status == "flagged"]
    assert sorted(r.status for r in stored) == ["flagged"] * 2 + ["unreviewed"] * 3
    assert [r.flags for r in flagged] == [
        [
            {
                "flag": "over_limit",
                "reason": "more than 3 answers a minute from this network; "
                "sent without the page's script",
            }
        ]
    ] * 2
    assert stored[0].network_key and {r.network_key for r in stored} == {stored[0].network_key}
    metrics = client.get("/metrics").get_data(as_text=True)
    assert f'survey_engine_over_limit_stored_total{{survey="{DEMO_SLUG}"}} 2' in metrics


def hidden_fields(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))


def test_300_phones_behind_one_address_answer_with_the_defaults_unchallenged(buffered_app):
    """Carrier NAT through the web tier: each phone opens the page (its own device
    token), answers once with its script running; none is challenged or flagged.
    (They answer within a second of opening the page, where 0 s and 1 s would make
    "speeders" of each other by chance: the speeder check, a matter of real reading
    times, is left to tests/test_quality.py and tests/test_stuffing.py.)"""
    buffered_app.config["QUALITY_SPEEDER_MIN_COMPARED"] = 1_000
    replies = []
    for i in range(300):
        phone = buffered_app.test_client()
        page = hidden_fields(phone.get(FORM).get_data(as_text=True))
        data = form_data(page["submission_id"], js="1", comment=f"Ý kiến số {i}")
        replies.append(phone.post(FORM, data={**page, **data}).status_code)
    assert replies == [303] * 300
    drain_once(buffered_app)
    stored = stored_responses()
    assert len(stored) == 300
    assert len({r.device_hash for r in stored}) == 300
    assert len({r.network_key for r in stored}) == 1
    assert {r.status for r in stored} == {"unreviewed"}


@pytest.mark.parametrize("script", [False, True], ids=["no-js", "js"])
def test_one_phone_50_times_is_over_its_limit_after_5(buffered_app, script):
    phone = buffered_app.test_client()
    page = hidden_fields(phone.get(FORM).get_data(as_text=True))
    extra = {"js": "1"} if script else {}
    replies = [
        phone.post(FORM, data={**page, **form_data(new_id(), **extra)}).status_code
        for _ in range(50)
    ]
    drain_once(buffered_app)
    stored = stored_responses()
    if script:  # challenged: nothing more stored until a proof of work comes
        assert replies == [303] * 5 + [429] * 45
        assert len(stored) == 5
    else:  # stored, and flagged for staff
        assert replies == [303] * 50
        # (other flags, such as the quality checks' duplicates, may join it)
        over = [[f["reason"] for f in r.flags if f["flag"] == "over_limit"] for r in stored]
        flags = Counter(reasons[0] if reasons else None for reasons in over)
        assert flags == {
            None: 5,
            "more than 5 answers in 10 minutes from this browser; "
            "sent without the page's script": 45,
        }
