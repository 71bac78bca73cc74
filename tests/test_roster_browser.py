"""A citizen fills a household's members in real headless Chromium, at 390 px and
1280 px: the rows follow the household's size, a row's mistake is told at its input
and in the summary, rows are added and removed in place; and the same without
JavaScript (the roster's buttons send the form and the page comes back with every
answer). axe-clean; screenshots go to test-artifacts/."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from tests.live_server import demo_site
from tests.roster_survey import HOUSEHOLD_SLUG, household_definition
from tests.test_accessibility import violations
from tests.test_geopoint_browser import browser  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
SIZES = {
    "390": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
    "1280": {"viewport": {"width": 1280, "height": 900}},
}
# The same household, sized by the citizen: 1 to 4 members added and removed.
FREE_SLUG = "ho-gia-dinh-tu-them"


def free_definition() -> dict:
    data = household_definition()
    data["slug"] = FREE_SLUG
    roster = data["pages"][1]["questions"][0]
    del roster["count"]
    roster.update(min_count=1, max_count=4)
    return data


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("roster")
    with demo_site(folder, f"survey_engine_roster_browser_{os.getpid()}") as served:
        for data in (household_definition(), free_definition()):
            path = folder / f"{data['slug']}.json"
            path.write_text(json.dumps(data))
            served.cli("import", str(path), "--publish")
        yield served


def page_for(browser, site, size: str, javascript: bool = True) -> Page:
    context = browser.new_context(
        **SIZES[size], locale="vi-VN", bypass_csp=True, base_url=site.base
    )
    context.set_default_timeout(15_000)
    if not javascript:
        context.route("**/static/*.js*", lambda route: route.abort())
    return context.new_page()


def members(database_url: str, slug: str) -> list[list[dict]]:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT r.answers FROM responses r JOIN surveys s ON s.id = r.survey_id"
                    " WHERE s.slug = :slug ORDER BY r.id"
                ),
                {"slug": slug},
            ).all()
    finally:
        engine.dispose()
    answers = [r[0] if isinstance(r[0], dict) else json.loads(r[0]) for r in rows]
    return [a.get("members") for a in answers]


def row(page: Page, number: int):
    return page.locator(f'[id="q-members.{number}"]')


def fill_member(page: Page, number: int, name: str, sex: str, age: str) -> None:
    member = row(page, number)
    member.get_by_label("Tên").fill(name)
    member.get_by_label(sex, exact=True).check()
    member.get_by_label("Tuổi").fill(age)


def household_page(browser, site, size: str, slug: str) -> Page:
    """The members' page (with the script): a household of 2 in Đà Lạt answered first."""
    page = page_for(browser, site, size)
    page.goto(f"/s/{slug}")
    page.get_by_label("Đà Lạt").check()
    page.get_by_label("Hộ có bao nhiêu người?").fill("2")
    page.get_by_role("button", name="Tiếp").click()
    return page


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


@pytest.mark.parametrize("size", ["390", "1280"])
def test_the_rows_follow_the_household_s_size_and_a_row_s_mistake_is_told(site, browser, size):
    page = household_page(browser, site, size, HOUSEHOLD_SLUG)
    expect(page.locator(".roster-rows > .roster-row")).to_have_count(2)
    expect(row(page, 2).locator(".roster-row-title")).to_have_text("Thành viên 2")
    fill_member(page, 1, "Nguyễn Thị Lan", "Nữ", "41")
    fill_member(page, 2, "Trần Văn Minh", "Nam", "200")
    # in_school is asked from 5 to 18, of this row's member, named in its label
    expect(row(page, 1).get_by_text("có đi học không?")).to_be_hidden()
    page.get_by_role("button", name="Gửi").click()
    summary = page.locator("#error-summary")
    expect(summary).to_contain_text("Thành viên 2: Tuổi")
    expect(page.locator('[id="q-members.2.age-error"]')).to_have_text("Số lớn nhất là 120.")
    assert violations(page) == []
    shot(page, f"roster-row-error-{size}.png")
    summary.get_by_role("link").first.click()
    expect(row(page, 2).get_by_label("Tuổi")).to_be_focused()
    row(page, 2).get_by_label("Tuổi").fill("12")
    expect(
        row(page, 2).locator(".q-label", has_text="Trần Văn Minh có đi học không?")
    ).to_be_visible()
    row(page, 2).get_by_label("Có", exact=True).check()
    # Back to the size: a third row follows it, the first two keep their answers.
    page.get_by_role("button", name="Quay lại").click()
    page.get_by_label("Hộ có bao nhiêu người?").fill("3")
    page.get_by_role("button", name="Tiếp").click()
    expect(page.locator(".roster-rows > .roster-row")).to_have_count(3)
    expect(row(page, 2).get_by_label("Tên")).to_have_value("Trần Văn Minh")
    fill_member(page, 3, "K'Sor H'Hen", "Nữ", "3")
    assert violations(page) == []
    shot(page, f"roster-three-rows-{size}.png")
    page.get_by_role("button", name="Gửi").click()
    page.wait_for_url("**/thanks**")
    assert members(site.database_url, HOUSEHOLD_SLUG)[-1] == [
        {"member_name": "Nguyễn Thị Lan", "sex": "female", "age": 41},
        {"member_name": "Trần Văn Minh", "sex": "male", "age": 12, "in_school": "yes"},
        {"member_name": "K'Sor H'Hen", "sex": "female", "age": 3},
    ]


@pytest.mark.parametrize("size", ["390", "1280"])
def test_members_are_added_and_removed_in_place(site, browser, size):
    page = household_page(browser, site, size, FREE_SLUG)
    expect(page.locator(".roster-rows > .roster-row")).to_have_count(1)
    remove_first = page.get_by_role("button", name="Xóa thành viên 1")
    expect(remove_first).to_be_hidden()  # min_count 1
    fill_member(page, 1, "A", "Nữ", "30")
    add = page.get_by_role("button", name="Thêm thành viên")
    add.click()
    expect(row(page, 2).get_by_label("Tên")).to_be_focused()
    fill_member(page, 2, "B", "Nam", "31")
    expect(remove_first).to_be_visible()
    add.click()
    fill_member(page, 3, "C", "Nữ", "7")
    add.click()
    expect(add).to_be_hidden()  # max 4
    fill_member(page, 4, "D", "Nam", "60")
    page.get_by_role("button", name="Xóa thành viên 2").click()
    expect(page.locator(".roster-rows > .roster-row")).to_have_count(3)
    expect(row(page, 2).locator(".roster-row-title")).to_have_text("Thành viên 2")
    expect(row(page, 2).get_by_label("Tên")).to_have_value("C")  # row 3 moved up
    expect(add).to_be_visible()
    assert violations(page) == []
    shot(page, f"roster-added-removed-{size}.png")
    # Kept on the phone: the page opened again has the three rows and their answers.
    page.reload()
    expect(page.locator(".roster-rows > .roster-row")).to_have_count(3)
    expect(row(page, 3).get_by_label("Tên")).to_have_value("D")
    expect(row(page, 3).get_by_label("Nam", exact=True)).to_be_checked()
    page.get_by_role("button", name="Gửi").click()
    page.wait_for_url("**/thanks**")
    assert [m["member_name"] for m in members(site.database_url, FREE_SLUG)[-1]] == [
        "A",
        "C",
        "D",
    ]


@pytest.mark.parametrize("size", ["390", "1280"])
def test_without_javascript_the_roster_s_buttons_draw_the_page_again(site, browser, size):
    page = page_for(browser, site, size, javascript=False)
    page.goto(f"/s/{HOUSEHOLD_SLUG}")
    expect(page.locator(".roster-rows > .roster-row")).to_have_count(0)
    page.get_by_label("Đà Lạt").check()
    page.get_by_label("Hộ có bao nhiêu người?").fill("2")
    page.get_by_role("button", name="Hiện các thành viên cần điền").click()
    expect(page.locator(".roster-rows > .roster-row")).to_have_count(2)
    expect(page.get_by_label("Hộ có bao nhiêu người?")).to_have_value("2")
    fill_member(page, 1, "Nguyễn Thị Lan", "Nữ", "41")
    fill_member(page, 2, "Trần Văn Minh", "Nam", "-1")
    page.get_by_role("button", name="Gửi").click()
    summary = page.locator("#error-summary")
    expect(summary).to_contain_text("Thành viên 2: Tuổi")
    assert violations(page) == []
    shot(page, f"roster-nojs-error-{size}.png")
    summary.get_by_role("link").first.click()
    expect(row(page, 2).get_by_label("Tuổi")).to_be_focused()
    row(page, 2).get_by_label("Tuổi").fill("12")
    page.get_by_role("button", name="Gửi").click()
    page.wait_for_url("**/thanks**")
    assert members(site.database_url, HOUSEHOLD_SLUG)[-1][1]["age"] == 12

    page.goto(f"/s/{FREE_SLUG}")
    page.get_by_label("Bảo Lộc").check()
    page.get_by_label("Hộ có bao nhiêu người?").fill("2")
    fill_member(page, 1, "A", "Nữ", "30")
    page.get_by_role("button", name="Thêm thành viên").click()
    expect(page.locator(".roster-rows > .roster-row")).to_have_count(2)
    expect(row(page, 1).get_by_label("Tên")).to_have_value("A")
    fill_member(page, 2, "B", "Nam", "31")
    page.get_by_role("button", name="Thêm thành viên").click()
    fill_member(page, 3, "C", "Nữ", "7")
    page.get_by_role("button", name="Xóa thành viên 1").click()
    expect(page.locator(".roster-rows > .roster-row")).to_have_count(2)
    expect(row(page, 1).get_by_label("Tên")).to_have_value("B")
    assert violations(page) == []
    shot(page, f"roster-nojs-rows-{size}.png")
    page.get_by_role("button", name="Gửi").click()
    page.wait_for_url("**/thanks**")
    assert [m["member_name"] for m in members(site.database_url, FREE_SLUG)[-1]] == ["B", "C"]
