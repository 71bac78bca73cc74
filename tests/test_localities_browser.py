"""The locality block in Chromium: an editor adds "where do you live?" for two provinces
in the builder, publishes, and a citizen on a 390 px phone answers it: the commune list
follows the province; without JavaScript the same form works with grouped lists."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import sqlalchemy as sa
import vietnam_provinces as vp
from playwright.sync_api import Page, expect, sync_playwright

from tests.live_server import CHROMIUM, CHROMIUM_ARGS, demo_site
from tests.test_results_browser import check_page
from tests.test_staff_pages_browser import AXE

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
SLUG = "noi-song"
EDITOR, PASSWORD = "bien-tap@example.org", "mat khau dai du 10"
LAM_DONG, KHANH_HOA = "68", "56"
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "locale": "vi-VN",
    "bypass_csp": True,
}
DESK = {"viewport": {"width": 1280, "height": 900}, "locale": "vi-VN", "bypass_csp": True}


@pytest.fixture
def server(tmp_path):
    with demo_site(tmp_path, f"survey_engine_localities_{os.getpid()}") as site:
        site.cli("create-user", EDITOR, "--role", "editor", stdin=PASSWORD)
        yield site.base, site.database_url


def wards(province: str) -> dict[str, str]:
    return {
        str(int(w.code)): w.name
        for w in vp.Ward.iter_all()
        if int(w.province_code) == int(province)
    }


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"localities-{name}.png"), full_page=True)


def sign_in(page: Page, base: str) -> None:
    page.goto(f"{base}/admin/login")
    page.fill("#email", EDITOR)
    page.fill("#password", PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(f"{base}/admin/")


def commune_options(page: Page) -> list[str]:
    return page.locator("select[name=commune] option").evaluate_all(
        "os => os.map(o => o.value).filter(v => v)"
    )


def stored_answers(url: str) -> list[dict]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = (
                conn.execute(
                    sa.text(
                        "SELECT r.answers FROM responses r JOIN surveys s ON s.id = r.survey_id "
                        "WHERE s.slug = :slug ORDER BY r.id"
                    ),
                    {"slug": SLUG},
                )
                .scalars()
                .all()
            )
    finally:
        engine.dispose()
    return [row if isinstance(row, dict) else json.loads(row) for row in rows]


def test_an_editor_adds_localities_and_a_citizen_answers_them_on_a_phone(server):
    base, url = server
    lam_dong, khanh_hoa = wards(LAM_DONG), wards(KHANH_HOA)
    da_lat = next(code for code, name in lam_dong.items() if name == "Phường Lâm Viên - Đà Lạt")
    other = next(iter(khanh_hoa))
    assert AXE.exists(), "axe-core is missing: `make test` installs it with npm ci"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        # The editor, at 1280 px: a new survey, then the block for two provinces.
        desk = browser.new_context(**DESK).new_page()
        sign_in(desk, base)
        desk.goto(f"{base}/admin/surveys/new")
        desk.fill("#new-slug", SLUG)
        desk.fill("#new-title", "Nơi bạn sống")
        desk.fill("#new-first", "Họ và tên")
        desk.get_by_role("button", name="Tạo khảo sát").click()
        expect(desk.locator("h1")).to_have_text("Nơi bạn sống")
        check_page(desk, 1280)
        desk.select_option("#locality-provinces", [f"2025:{LAM_DONG}", f"2025:{KHANH_HOA}"])
        desk.select_option("#locality-depth", "commune")
        desk.locator("#localities button[type=submit]").click()
        expect(desk.locator(".messages")).to_contain_text("province, commune")
        expect(desk.locator("#q-commune")).to_contain_text("province = ${province}")
        shot(desk, "builder-desk")
        # The same builder page on a phone.
        phone_staff = browser.new_context(**PHONE).new_page()
        sign_in(phone_staff, base)
        phone_staff.goto(f"{base}/admin/surveys/{SLUG}/edit#localities")
        check_page(phone_staff, 390)
        shot(phone_staff, "builder-phone")
        desk.goto(f"{base}/admin/surveys/{SLUG}")
        desk.locator("button", has_text="Công bố").first.click()
        expect(desk.locator("#status")).to_have_text("đã công bố")

        # A citizen at 390 px: the commune list follows the province.
        citizen = browser.new_context(**PHONE).new_page()
        citizen.goto(f"{base}/s/{SLUG}")
        citizen.select_option("select[name=province]", KHANH_HOA)
        assert sorted(commune_options(citizen)) == sorted(khanh_hoa)
        citizen.select_option("select[name=commune]", other)
        citizen.select_option("select[name=province]", LAM_DONG)
        assert sorted(commune_options(citizen)) == sorted(lam_dong)
        assert citizen.locator("select[name=commune]").input_value() == ""  # cleared
        citizen.select_option("select[name=commune]", da_lat)
        check_page(citizen, 390)
        shot(citizen, "citizen-phone")
        citizen.locator("button[type=submit]:visible").last.click()
        citizen.wait_for_url(f"**/s/{SLUG}/thanks**")

        # Without JavaScript: one form, the communes grouped by province; the server
        # refuses a commune of the other province and keeps the answers.
        plain = browser.new_context(**PHONE, java_script_enabled=False).new_page()
        plain.goto(f"{base}/s/{SLUG}")
        groups = plain.locator("select[name=commune] optgroup").evaluate_all(
            "gs => gs.map(g => g.label)"
        )
        assert sorted(groups) == ["Khánh Hòa", "Lâm Đồng"]
        assert sorted(commune_options(plain)) == sorted({**lam_dong, **khanh_hoa})
        plain.select_option("select[name=province]", KHANH_HOA)
        plain.select_option("select[name=commune]", da_lat)
        plain.locator("button[type=submit]").last.click()
        expect(plain.locator("#q-commune")).to_contain_text("Lâm Viên")
        assert plain.locator("select[name=commune]").input_value() == da_lat
        shot(plain, "no-script-error")
        plain.select_option("select[name=province]", LAM_DONG)
        plain.locator("button[type=submit]").last.click()
        plain.wait_for_url(f"**/s/{SLUG}/thanks**")
        browser.close()
    assert [{k: a[k] for k in ("province", "commune")} for a in stored_answers(url)] == [
        {"province": LAM_DONG, "commune": da_lat},
        {"province": LAM_DONG, "commune": da_lat},
    ]
