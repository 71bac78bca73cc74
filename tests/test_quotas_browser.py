"""A citizen whose group is full learns it on leaving the page that names the group,
in real headless Chromium on a phone; without JavaScript the answers get the 410 page.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.conftest import DEMO_SLUG
from tests.live_server import CHROMIUM, CHROMIUM_ARGS, demo_site
from tests.test_quotas import district_role, with_quotas

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
PHONE = {
    "viewport": {"width": 360, "height": 740},
    "is_mobile": True,
    "has_touch": True,
    "locale": "vi-VN",
}
FULL_VI = "Nhóm này đã đủ số lượng"


@pytest.fixture
def site(tmp_path):
    with demo_site(tmp_path, f"survey_engine_quotas_browser_{os.getpid()}") as served:
        # Parents in Đà Lạt: no place at all; everyone else: five per group.
        definition = tmp_path / "quotas.json"
        definition.write_text(json.dumps(with_quotas(district_role(5, **{"da_lat|parent": 0}))))
        served.cli("import", str(definition), "--publish")
        yield served


@pytest.fixture
def phone(site):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:

            def make(**options) -> Page:
                context = browser.new_context(**{**PHONE, "base_url": site.base, **options})
                context.set_default_timeout(15_000)
                return context.new_page()

            yield make
        finally:
            browser.close()


def where_and_who(page: Page, role: str) -> None:
    page.get_by_label("Tôi đồng ý tham gia khảo sát").check()
    district = page.get_by_label("Bạn đang sống ở huyện/thành phố nào?")
    district.select_option(label="Thành phố Đà Lạt")
    page.get_by_label("Xã/phường/thị trấn").select_option(label="Phường 1")
    page.locator("#q-role fieldset").get_by_text(role, exact=True).click()


def test_a_full_group_is_told_before_the_rest_and_can_change_its_answer(phone) -> None:
    page = phone()
    page.goto(f"/s/{DEMO_SLUG}")
    where_and_who(page, "Phụ huynh học sinh")
    page.get_by_role("button", name="Tiếp tục", exact=True).click()
    notice = page.locator("#quota-full")
    expect(notice).to_be_visible()
    expect(notice).to_be_focused()
    expect(notice.locator("h2")).to_have_text(FULL_VI)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "quota-full-phone.png"), full_page=True)
    # Still on the first page, every answer as it was.
    expect(page.locator("section.survey-page:visible h2")).to_have_text("Thông tin chung")
    expect(page.get_by_label("Bạn đang sống ở huyện/thành phố nào?")).to_have_value("da_lat")
    expect(page.get_by_label("Xã/phường/thị trấn")).to_have_value("dl_p1")

    # A pupil of Đà Lạt has places: on to the next page, and to the thank-you page.
    page.locator("#q-role fieldset").get_by_text("Học sinh", exact=True).click()
    page.get_by_role("button", name="Tiếp tục", exact=True).click()
    expect(page.locator("section.survey-page:visible h2")).to_have_text("Ý kiến của bạn")
    expect(notice).to_have_count(0)
    page.locator("#q-support fieldset").get_by_text("Đồng ý", exact=True).click()
    page.get_by_role("button", name="Gửi phiếu").click()
    expect(page.locator("h1")).to_have_text("Cảm ơn bạn!")


def test_without_javascript_the_answers_get_the_full_page(phone) -> None:
    page = phone(java_script_enabled=False)
    page.goto(f"/s/{DEMO_SLUG}")
    where_and_who(page, "Phụ huynh học sinh")
    page.locator("#q-support fieldset").get_by_text("Đồng ý", exact=True).click()
    with page.expect_response(lambda r: r.request.method == "POST") as sent:
        page.get_by_role("button", name="Gửi phiếu").click()
    assert sent.value.status == 410
    expect(page.locator("h1")).to_have_text(FULL_VI)
