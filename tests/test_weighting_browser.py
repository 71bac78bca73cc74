"""An editor weights the demo on a phone in real Chromium: uploads the census margins on
the weighting page, reads how the raking went, then finds the weighted share beside
the unweighted one on the results page. No axe-core WCAG 2.1 AA violation, no sideways
scroll at 360 px. Screenshots: test-artifacts/weighting-*.png.
"""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.conftest import DEMO_SLUG
from tests.live_server import CHROMIUM, CHROMIUM_ARGS, demo_site
from tests.test_results_browser import ARTIFACTS, DESK, PHONE, check_page

pytestmark = pytest.mark.browser

EDITOR, PASSWORD = "bien-tap@example.org", "mat khau dai du 10"
MARGINS = (
    "variable,category,share\nrole,parent,55%\nrole,pupil,20%\nrole,teacher,15%\nrole,other,10%\n"
)


@pytest.fixture
def server(tmp_path):
    with demo_site(tmp_path, f"survey_engine_weighting_{os.getpid()}") as site:
        site.cli("fake-responses", DEMO_SLUG, "--count", "300", "--seed", "4")
        site.cli("create-user", EDITOR, "--role", "editor", stdin=PASSWORD)
        site.cli("share", EDITOR, DEMO_SLUG)
        yield site.base


def test_an_editor_weights_the_survey_and_reads_the_weighted_shares(server, tmp_path):
    margins = tmp_path / "dan-so.csv"
    margins.write_text(MARGINS, encoding="utf-8")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for name, context, width in (("phone", PHONE, 360), ("1280", DESK, 1280)):
            page = browser.new_context(**context).new_page()
            page.goto(f"{server}/admin/login")
            page.fill("#email", EDITOR)
            page.fill("#password", PASSWORD)
            page.locator("form button[type=submit]").click()
            page.wait_for_url(f"{server}/admin/")
            page.goto(f"{server}/admin/surveys/{DEMO_SLUG}/weights")
            page.set_input_files("#margins", str(margins))
            page.locator("#compute-weights").click()
            expect(page.locator("#weighted-responses")).to_have_text("300")
            expect(page.locator("#weighting-convergence")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / f"weighting-{name}.png"), full_page=True)
            check_page(page, width)
            page.goto(f"{server}/admin/surveys/{DEMO_SLUG}/results")
            expect(page.locator("#weighted-by")).to_be_visible()
            parent = page.locator("#q-role tr[data-choice=parent]")
            assert float(parent.get_attribute("data-weighted")) == pytest.approx(0.55, abs=1e-6)
            page.locator("#q-role").screenshot(
                path=str(ARTIFACTS / f"weighting-results-{name}.png")
            )
            check_page(page, width)
        browser.close()
