"""The circuit breakers' proof of work in a real phone-sized Chromium.

A served demo whose network limit is one a minute: the second phone from the same
address gets a 429 with a challenge, its page's script (static/pow.js, fetched only
then) solves it and sends the same answers again, and the citizen lands on the
thank-you page without doing anything. Both responses are stored.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect, sync_playwright

from survey_engine.config import database_url
from survey_engine.intake import proof_of_work
from tests.conftest import BACKEND, DEMO_SLUG, fresh_database_url, fresh_postgres_database
from tests.live_server import CHROMIUM, CHROMIUM_ARGS, demo_server
from tests.test_accessibility import _answer_visible

pytestmark = pytest.mark.browser

LIMITS = {"LIMIT_NETWORK_PER_MINUTE": "1", "POW_DIFFICULTY_BITS": "16"}
NAME = "survey_engine_breakers_browser"
POW_JS = Path(__file__).resolve().parent.parent / "survey_engine" / "static" / "pow.js"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The demo served with a low limit (the server reads it from its environment)."""
    tmp = tmp_path_factory.mktemp("breakers")
    url = fresh_database_url(tmp, NAME)
    saved = {name: os.environ.get(name) for name in LIMITS}
    os.environ.update(LIMITS)
    try:
        with demo_server(url, tmp / "serve.log") as base:
            yield base, url
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if BACKEND == "postgresql":
            fresh_postgres_database(NAME, create=False)


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def answer_and_send(browser, base: str) -> tuple[Page, list[int]]:
    """A new phone answers every page and presses Submit; the POSTs' statuses."""
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True, locale="vi-VN"
    )
    page = context.new_page()
    statuses: list[int] = []
    page.on(
        "response",
        lambda r: statuses.append(r.status) if r.request.method == "POST" else None,
    )
    page.goto(f"{base}/s/{DEMO_SLUG}")
    _answer_visible(page)
    while page.locator("button.next:visible").count():
        page.locator("button.next:visible").click()
        _answer_visible(page)
    page.locator("button.submit:visible").click()
    return page, statuses


def stored(url: str) -> int:
    engine = sa.create_engine(database_url(url))
    with engine.connect() as conn:
        count = conn.execute(sa.text("SELECT count(*) FROM responses")).scalar_one()
    engine.dispose()
    return count


def test_over_the_limit_the_page_solves_the_proof_of_work_and_lands_on_thanks(browser, site):
    base, url = site
    first, statuses = answer_and_send(browser, base)
    expect(first).to_have_url(f"{base}/s/{DEMO_SLUG}/thanks?lang=vi", timeout=15_000)
    assert statuses[0] == 303
    assert stored(url) == 1

    second, statuses = answer_and_send(browser, base)
    # (The status line says "checking" while the phone works; a quick solve may be
    # gone before anything could read it, so the replies are what is checked.)
    expect(second).to_have_url(f"{base}/s/{DEMO_SLUG}/thanks?lang=vi", timeout=60_000)
    assert statuses[:2] == [429, 303]  # challenged, then the solution accepted
    assert stored(url) == 2
    # Nothing but this server's own files was asked for.
    assert second.evaluate(
        "() => performance.getEntriesByType('resource')"
        ".every(e => e.name.startsWith(location.origin))"
    )


def test_pow_js_hashes_as_sha256_and_its_solutions_verify(browser):
    """pow.js's own SHA-256 against Python's, at every length around the block edges
    (55, 56, 63, 64 bytes...), and a solution it finds against the server's check."""
    page = browser.new_page()
    page.set_content("<p>pow.js</p>")
    page.add_script_tag(path=str(POW_JS))
    texts = ["a" * n for n in range(200)] + ["Khảo sát " * 20, "eyJzIjo3fQ.Z1Ab2w.sig:123"]
    got = page.evaluate("texts => texts.map(t => window.SurveyPow.sha256hex(t))", texts)
    assert got == [hashlib.sha256(t.encode()).hexdigest() for t in texts]
    challenge = "x" * 90  # the prefix spans a whole block and part of the next
    counter = page.evaluate("c => window.SurveyPow.solve(c, 12)", challenge)
    assert proof_of_work.solves(challenge, counter, 12)
    assert not any(proof_of_work.solves(challenge, str(n), 12) for n in range(int(counter)))
    page.close()
