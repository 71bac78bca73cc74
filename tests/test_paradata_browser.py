"""The paradata a real phone's Chromium leaves through the served questionnaire: the
pages survey.js counted, the first view's time, the device class and browser from its
User-Agent; without JavaScript, no count of pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import sync_playwright

from tests.live_server import CHROMIUM, CHROMIUM_ARGS, demo_site
from tests.test_browser import (
    SLUG,
    expect_page,
    expect_thanks,
    next_page,
    submit_vi,
    teacher_who_says_no,
)

pytestmark = pytest.mark.browser

ANDROID_CHROME = (
    "Mozilla/5.0 (Linux; Android 13; SM-A536E) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.144 Mobile Safari/537.36"
)


def stored(database_url: str) -> list[dict]:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT started_at, submitted_at, duration_seconds, pages_visited, "
                    "device_class, browser, network_key, device_hash FROM responses ORDER BY id"
                )
            )
            return [dict(row._mapping) for row in rows]
    finally:
        engine.dispose()


def as_utc(moment) -> datetime:
    if isinstance(moment, str):  # SQLite
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def test_a_phone_s_answer_keeps_its_pages_time_device_and_browser(tmp_path):
    with (
        demo_site(tmp_path, "survey_engine_paradata_browser") as site,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        opened = []
        try:
            for javascript in (True, False):
                context = browser.new_context(
                    base_url=site.base,
                    viewport={"width": 360, "height": 740},
                    is_mobile=True,
                    has_touch=True,
                    user_agent=ANDROID_CHROME,
                    locale="vi-VN",
                    java_script_enabled=javascript,
                )
                page = context.new_page()
                opened.append(datetime.now(UTC))
                page.goto(f"/s/{SLUG}")
                if javascript:
                    expect_page(page, 1, 2, "Thông tin chung")
                    teacher_who_says_no(page)  # two of the three pages apply to a teacher
                    next_page(page, "Quay lại")  # back to page 1 and on: still two pages
                    expect_page(page, 1, 2, "Thông tin chung")
                    next_page(page)
                    submit_vi(page)
                else:
                    teacher_who_says_no_without_script(page)
                expect_thanks(page)
                context.close()
        finally:
            browser.close()
        with_script, without = stored(site.database_url)

    assert with_script["pages_visited"] == 2
    assert without["pages_visited"] is None  # nothing counted the pages
    for row, first_view in zip((with_script, without), opened, strict=True):
        assert (row["device_class"], row["browser"]) == ("phone", "Chrome")
        assert len(row["network_key"]) == 64 and len(row["device_hash"]) == 64
        started = as_utc(row["started_at"])
        assert first_view - timedelta(seconds=2) <= started <= as_utc(row["submitted_at"])
        assert 0 <= row["duration_seconds"] <= 120
    # One browser profile each: two devices.
    assert with_script["device_hash"] != without["device_hash"]


def teacher_who_says_no_without_script(page) -> None:
    """The same answers on the long form every page is part of without JavaScript."""
    page.get_by_label("Tôi đồng ý tham gia khảo sát").check()
    page.get_by_label("Bạn đang sống ở huyện/thành phố nào?").select_option("don_duong")
    page.get_by_label("Xã/phường/thị trấn").select_option("dd_ka_don")
    for question, label in (
        ("role", "Giáo viên, cán bộ quản lý"),
        ("support", "Không đồng ý"),
        ("concerns", "Đưa đón, đi lại"),
        ("follow_up", "Không"),
    ):
        page.locator(f"#q-{question} fieldset").get_by_text(label, exact=True).click()
    submit_vi(page)
