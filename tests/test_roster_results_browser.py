"""An analyst reads a roster's results in real Chromium, on a phone and a desk: a
household member's sex is counted over the members (the page says so), the counts
are the stored rows'; no axe-core WCAG 2.1 AA violation, no sideways scroll.
Screenshots: test-artifacts/results-roster-*.png."""

from __future__ import annotations

import json
import os
import urllib.request
import uuid
from collections import Counter

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.live_server import _LOCAL, CHROMIUM, CHROMIUM_ARGS, demo_site
from tests.roster_survey import HOUSEHOLD_SLUG, household_answers, household_definition
from tests.test_results_browser import (
    ANALYST,
    ARTIFACTS,
    DESK,
    PASSWORD,
    PHONE,
    check_page,
    row_count,
    sign_in,
    stored_answers,
)
from tests.test_staff_pages_browser import AXE

pytestmark = pytest.mark.browser

HOUSEHOLDS = [
    household_answers(),
    {
        **household_answers(),
        "size": "2",
        "members": [
            {"member_name": '=HYPERLINK("http://x","y")', "sex": "male", "age": "30"},
            {"member_name": "Lâm", "sex": "male", "age": "8", "in_school": "no"},
        ],
    },
]


def submit(base: str, answers: dict) -> None:
    body = json.dumps({"submission_id": str(uuid.uuid4()), "answers": answers}).encode()
    request = urllib.request.Request(
        f"{base}/api/v1/surveys/{HOUSEHOLD_SLUG}/responses",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    with _LOCAL.open(request, timeout=10) as reply:
        assert reply.status == 202


@pytest.fixture
def server(tmp_path):
    definition = tmp_path / "ho-gia-dinh.json"
    definition.write_text(json.dumps(household_definition()), "utf-8")
    with demo_site(tmp_path, f"survey_engine_roster_{os.getpid()}") as site:
        site.cli("import", str(definition), "--publish")
        for answers in HOUSEHOLDS:
            submit(site.base, answers)
        site.cli("create-user", ANALYST, "--role", "analyst", stdin=PASSWORD)
        site.cli("share", ANALYST, HOUSEHOLD_SLUG)
        yield site.base, site.database_url


@pytest.mark.parametrize(("width", "context"), [(390, PHONE), (1280, DESK)])
def test_a_member_s_sex_is_counted_over_the_members(server, width, context):
    base, url = server
    rows = [row for a in stored_answers(url) for row in a["members"]]
    sexes = Counter(row["sex"] for row in rows)
    assert AXE.exists(), "axe-core is missing: `make test` installs it with npm ci"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(
            **{**context, "viewport": {"width": width, "height": 900}, "locale": "vi-VN"}
        ).new_page()
        sign_in(page, base)
        page.goto(f"{base}/admin/surveys/{HOUSEHOLD_SLUG}/results")
        expect(page.locator("#response-count")).to_have_text("2")
        assert row_count(page, "sex", "Nữ") == sexes["female"]
        assert row_count(page, "sex", "Nam") == sexes["male"]
        note = page.locator("#q-sex .roster-rows")
        expect(note).to_contain_text(f"{len(rows)} dòng trong 2 phiếu")
        expect(page.locator("#q-members .roster-rows")).to_contain_text(f"{len(rows)} dòng")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"results-roster-{width}.png"), full_page=True)
        check_page(page, width)
        browser.close()
