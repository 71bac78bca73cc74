"""The builder in place, in real Chromium: an editor builds a three-page survey (a Lâm
Đồng locality block, a matrix, a skip rule), reorders by keyboard, watches the preview
change as they type, undoes a change and publishes, without one full page load after
the builder opens; a citizen answers on a phone; the results break down by commune.

The same script runs with JavaScript off (today's builder: every form posts and the
page reloads); its clicks and page loads are the "before" of BENCHMARKS.md, written
to test-artifacts/builder-inplace-counts.json by each run.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import vietnam_provinces as vp
from playwright.sync_api import Browser, Locator, Page, expect

from tests.live_server import demo_site
from tests.test_breakers_browser import browser  # noqa: F401 (fixture)
from tests.test_localities_browser import EDITOR, PASSWORD, sign_in
from tests.test_results_browser import check_page
from tests.test_staff_pages_browser import AXE

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
COUNTS = ARTIFACTS / "builder-inplace-counts.json"
LAM_DONG = "68"
LAM_VIEN = next(
    str(int(w.code)) for w in vp.Ward.iter_all() if w.name == "Phường Lâm Viên - Đà Lạt"
)
SIZES = {
    1280: {"viewport": {"width": 1280, "height": 900}, "locale": "vi-VN"},
    390: {
        "viewport": {"width": 390, "height": 844},
        "is_mobile": True,
        "has_touch": True,
        "locale": "vi-VN",
    },
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("builder-inplace")
    with demo_site(tmp, f"survey_engine_inplace_{os.getpid()}") as site:
        site.cli("create-user", EDITOR, "--role", "editor", stdin=PASSWORD)
        yield site.base


@dataclass
class Editor:
    """The scripted editor: every click and field counted, every load of the main frame
    after the builder opened recorded."""

    page: Page
    script: bool
    clicks: int = 0
    fields: int = 0
    loads: list[str] = field(default_factory=list)
    counting: bool = False

    def click(self, target: Locator) -> None:
        self.clicks += 1
        target.click()

    def fill(self, selector: str, text: str) -> None:
        self.fields += 1
        self.page.fill(selector, text)

    def start_counting(self) -> None:
        main = self.page.main_frame
        self.page.on("framenavigated", lambda f: f == main and self.loads.append(f.url))
        self.counting = True


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"builder-inplace-{name}.png"), full_page=True)


def save_question(ed: Editor, name: str) -> None:
    ed.click(ed.page.locator("form.builder-form button[type=submit]"))
    expect(ed.page.locator(f"#q-{name}")).to_be_visible()
    expect(ed.page.locator("form.builder-form")).to_have_count(0)


def add_page(ed: Editor, name: str, qtype: str, qname: str, label: str) -> None:
    """The "add a page" form; the new page's question opens in its form."""
    ed.fill("#new-page-name", name)
    ed.page.select_option("#new-page-type", qtype)
    ed.fill("#new-page-qname", qname)
    ed.fill("#new-page-qlabel", label)
    ed.click(ed.page.locator("#new-page-name").locator("xpath=ancestor::form//button"))
    expect(ed.page.locator("#f-name")).to_have_value(qname)


def add_question(ed: Editor, page_name: str, qtype: str, name: str, label: str) -> None:
    """A page's "add a question" form; the new question opens in its form."""
    ed.click(ed.page.locator(f"#{page_name} details.add summary"))
    ed.page.select_option(f"#type-{page_name}", qtype)
    ed.fill(f"#qname-{page_name}", name)
    ed.fill(f"#qlabel-{page_name}", label)
    ed.click(ed.page.locator(f"#{page_name} details.add button[type=submit]"))
    expect(ed.page.locator("#f-name")).to_have_value(name)


def fill_list(ed: Editor, name: str, rows: list[tuple[str, str]]) -> None:
    ed.click(ed.page.locator("#lists a", has_text=name))
    for i, (choice, label) in enumerate(rows, start=1):
        ed.fill(f"input[name='choice-{i}-name']", choice)
        ed.fill(f"input[name='choice-{i}-label.vi']", label)
    ed.click(ed.page.get_by_role("button", name="Lưu danh sách"))
    expect(ed.page.locator("form.builder-form")).to_have_count(0)
    expect(ed.page.locator("#lists")).to_contain_text(f"{name} ({len(rows)})")


def close_editor(ed: Editor) -> None:
    """Leave a form without saving: the editor's close button, or the page's link back."""
    if ed.script:
        ed.click(ed.page.locator(".close-editor"))
    else:
        ed.click(ed.page.get_by_role("link", name="Quay lại, không lưu"))
    expect(ed.page.locator("form.builder-form")).to_have_count(0)


def order(page: Page, page_name: str) -> list[str]:
    return page.locator(f"#{page_name} .builder-question").evaluate_all(
        "items => items.map(i => i.dataset.name)"
    )


def build(ed: Editor, base: str, slug: str, width: int) -> str:
    """The whole survey, through the builder's own forms; its first question's name."""
    page = ed.page
    page.goto(f"{base}/admin/surveys/new")
    page.fill("#new-slug", slug)
    page.fill("#new-title", "Ý kiến về quy hoạch")
    page.fill("#new-first", "Họ và tên")
    page.get_by_role("button", name="Tạo khảo sát").click()
    expect(page.locator("h1")).to_have_text("Ý kiến về quy hoạch")
    ed.start_counting()  # from here on: the builder is open
    first = page.locator("#page_1 .builder-question").first.get_attribute("data-name")

    # Page 1: where do you live, in Lâm Đồng (one province: the commune only).
    page.select_option("#locality-page", "page_1")
    page.select_option("#locality-provinces", f"2025:{LAM_DONG}")
    ed.click(page.locator("#localities button[type=submit]"))
    expect(page.locator("#q-commune")).to_contain_text("communes_2025")

    # Page 2: support (its list filled in), and a matrix.
    add_page(ed, "opinion", "select_one", "support", "Bạn có đồng ý với quy hoạch?")
    ed.click(page.locator("form.builder-form input[name=required]"))
    save_question(ed, "support")
    fill_list(ed, "support", [("yes", "Có"), ("no", "Không")])
    add_question(ed, "opinion", "matrix", "ratings", "Đánh giá hạ tầng")
    ed.fill("input[name='row-1-name']", "school")
    ed.fill("input[name='row-1-label.vi']", "Trường học")
    ed.fill("input[name='row-2-name']", "road")
    ed.fill("input[name='row-2-label.vi']", "Đường sá")
    save_question(ed, "ratings")

    # Duplicated by mistake, and undone.
    ed.click(page.locator("#q-support form:has(input[value=duplicate_question]) button"))
    expect(page.locator("#f-name")).to_have_value("support_2")
    close_editor(ed)
    ed.click(page.locator("#undo"))
    expect(page.locator("#q-support_2")).to_have_count(0)
    expect(page.locator("#q-support")).to_be_visible()

    # Page 3, only for those who support: the skip rule, checked as it is typed.
    add_page(ed, "contact", "text", "comment", "Ý kiến khác")
    save_question(ed, "comment")
    ed.click(page.locator("#contact a[href$='/edit/pages/contact']"))
    ed.fill("#f-relevant", "${suport} = 'yes'")
    if ed.script:  # the server's own message, before anything is saved
        expect(page.locator("#f-relevant-check")).to_contain_text("suport")
        expect(page.locator("#f-relevant-check")).to_contain_text("support")
        shot(page, f"expression-{width}")
    ed.fill("#f-relevant", "${support} = 'yes'")
    if ed.script:
        expect(page.locator("#f-relevant-check")).to_have_class(re.compile("ok"))
    ed.click(page.get_by_role("button", name="Lưu trang"))
    expect(page.locator("#contact .logic")).to_contain_text("${support} = 'yes'")

    # The matrix first on its page: by keyboard (or today's ↑ button).
    assert order(page, "opinion") == ["support", "ratings"]
    if ed.script:
        page.locator("#q-ratings").focus()
        page.keyboard.press("Alt+ArrowUp")
        expect(page.locator("#builder-status")).to_contain_text("opinion")  # where it is now
        expect(page.locator("#q-ratings")).to_be_focused()
    else:
        ed.click(page.locator("#q-ratings form:has(input[value=question_up]) button"))
    expect(page.locator("#opinion .builder-question").first).to_have_attribute(
        "data-name", "ratings"
    )

    # The first question's text, watched in the preview as it is typed.
    ed.click(page.locator(f"#q-{first} a[href$='/edit/questions/{first}']"))
    ed.fill("textarea[name='label.vi']", "Họ và tên đầy đủ của bạn")
    if ed.script:
        if width < 600:  # on a phone the preview folds away under its title
            ed.click(page.locator("#preview-box summary"))
        label = page.frame_locator("#preview-frame").locator(f"#q-{first} .q-label")
        expect(label).to_contain_text("Họ và tên đầy đủ của bạn")  # not saved yet
    ed.click(page.get_by_role("button", name="Lưu câu hỏi"))
    expect(page.locator(f"#q-{first}")).to_contain_text("Họ và tên đầy đủ của bạn")
    if ed.script:
        preview = page.frame_locator("#preview-frame")
        expect(preview.locator(f"#q-{first} .q-label")).to_contain_text("đầy đủ")
        expect(preview.locator("#q-commune")).to_be_visible()
    shot(page, f"{'js' if ed.script else 'nojs'}-{width}")

    ed.click(page.locator("#publish"))
    if ed.script:
        expect(page.locator(".version-note")).to_contain_text("1")
        expect(page.locator("#builder-status")).not_to_be_empty()
    else:
        expect(page.locator("#status")).to_have_text("đã công bố")
    return first


def answer(browser: Browser, base: str, slug: str, first: str) -> None:
    """A citizen on a 390 px phone: Lâm Viên, supports, rates, comments."""
    context = browser.new_context(**SIZES[390])
    page = context.new_page()
    page.goto(f"{base}/s/{slug}")
    page.locator(f"#q-{first} input, #q-{first} textarea").first.fill("Nguyễn Văn A")
    page.select_option("select[name=commune]", LAM_VIEN)
    page.get_by_role("button", name="Tiếp tục").click()
    for row in ("school", "road"):
        page.locator(f"input[name='ratings[{row}]'][value='1']").check()
    page.locator("#q-support input[value='yes']").check()
    page.get_by_role("button", name="Tiếp tục").click()
    page.get_by_label("Ý kiến khác").fill("Cần công khai")
    page.get_by_role("button", name="Gửi phiếu").click()
    page.wait_for_url(f"**/s/{slug}/thanks**")
    context.close()


def record(key: str, ed: Editor) -> None:
    counts = json.loads(COUNTS.read_text("utf-8")) if COUNTS.exists() else {}
    counts[key] = {"clicks": ed.clicks, "fields": ed.fields, "page_loads": len(ed.loads)}
    ARTIFACTS.mkdir(exist_ok=True)
    COUNTS.write_text(json.dumps(counts, indent=1, sort_keys=True) + "\n", "utf-8")


@pytest.mark.parametrize("width", [1280, 390])
def test_an_editor_builds_in_place_and_a_citizen_answers(server, browser, width):
    base, slug = server, f"quy-hoach-{width}"
    context = browser.new_context(**SIZES[width])
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: m.type == "error" and problems.append(m.text))
    sign_in(page, base)
    ed = Editor(page, script=True)
    first = build(ed, base, slug, width)
    assert ed.loads == [], ed.loads  # not one full page load after the builder opened
    assert problems == []  # no script error, nothing the page's CSP refused
    record(f"in place, {width} px", ed)
    context.close()

    answer(browser, base, slug, first)

    # The dashboard breaks the answers down by commune.
    context = browser.new_context(**SIZES[width])
    page = context.new_page()
    sign_in(page, base)
    page.goto(f"{base}/admin/surveys/{slug}/results?row=commune&col=support")
    row = page.locator(f"#crosstab-count tr[data-choice='{LAM_VIEN}']")
    expect(row).to_contain_text("Lâm Viên")
    expect(row.locator("td[data-choice=yes]")).to_contain_text("1")
    shot(page, f"results-{width}")
    context.close()


def test_the_same_survey_is_built_without_javascript(server, browser):
    context = browser.new_context(**SIZES[1280], java_script_enabled=False)
    page = context.new_page()
    sign_in(page, server)
    ed = Editor(page, script=False)
    first = build(ed, server, "quy-hoach-khong-js", 1280)
    assert len(ed.loads) >= ed.clicks - 4  # today: (nearly) every click loads a page
    record("full pages (no script), 1280 px", ed)
    context.close()
    answer(browser, server, "quy-hoach-khong-js", first)


@pytest.mark.parametrize("width", [1280, 390])
def test_the_builder_is_axe_clean_empty_and_full(server, browser, width):
    assert AXE.exists(), "axe-core is missing: `make test` installs it with npm ci"
    context = browser.new_context(**SIZES[width], bypass_csp=True)  # axe is injected
    page = context.new_page()
    sign_in(page, server)
    page.goto(f"{server}/admin/surveys/new")
    page.fill("#new-slug", f"trong-{width}")
    page.fill("#new-title", "Trống")
    page.fill("#new-first", "Câu hỏi")
    page.get_by_role("button", name="Tạo khảo sát").click()
    expect(page.locator("#builder-body")).to_be_visible()
    check_page(page, width)
    shot(page, f"empty-{width}")
    page.goto(f"{server}/admin/surveys/quy-hoach-{width}/edit")
    page.locator("#q-support a[href$='/edit/questions/support']").click()
    page.fill("#f-relevant", "${nope} = 1")
    expect(page.locator("#f-relevant-check")).to_contain_text("nope")
    check_page(page, width)  # full, with an open editor and a checked expression
    shot(page, f"full-{width}")
    context.close()


def test_two_editors_are_told_and_a_question_is_dragged(server, browser):
    """Editor A drags a question onto another page; editor B, whose open form was drawn
    before that, is refused with the server's message and offered the newest version."""
    first, second = (browser.new_context(**SIZES[1280]).new_page() for _ in range(2))
    for page in (first, second):
        sign_in(page, server)
    first.goto(f"{server}/admin/surveys/new")
    first.fill("#new-slug", "hai-nguoi")
    first.fill("#new-title", "Hai người sửa")
    first.fill("#new-first", "Câu một")
    first.get_by_role("button", name="Tạo khảo sát").click()
    add = Editor(first, script=True)
    add_page(add, "p2", "text", "later", "Câu sau")
    save_question(add, "later")
    add.click(first.locator("#p2 details.add summary"))
    add.fill("#qname-p2", "last")
    add.click(first.locator("#p2 details.add button[type=submit]"))
    save_question(add, "last")  # p2 keeps a question when `later` leaves it
    second.goto(f"{server}/admin/surveys/hai-nguoi/edit")
    second.locator("#q-later a[href$='/edit/questions/later']").click()
    second.fill("textarea[name='label.vi']", "Câu sau, sửa bởi B")

    add.start_counting()
    first.locator("#q-later").drag_to(first.locator("#page_1 .builder-question").first)
    expect(first.locator("#page_1 .builder-question").first).to_have_attribute("data-name", "later")
    assert add.loads == []
    # A page moved by its button: where it went is read out.
    first.locator("#page_1 > .row form:has(input[value=page_down]) button").click()
    expect(first.locator("#builder-status")).to_contain_text("trang 2 trên 2")
    expect(first.locator("#page_1")).to_be_focused()  # last now: no ↓ to stay on
    assert add.loads == []

    second.get_by_role("button", name="Lưu câu hỏi").click()  # drawn before the drop
    expect(second.locator(".inline-editor .errors")).to_contain_text("Có người đã lưu")
    notice = second.locator(".stale-note")
    expect(notice).to_contain_text("biên tập viên khác")
    shot(second, "stale")
    notice.get_by_role("button").click()
    expect(second.locator("#page_1 .builder-question").first).to_have_attribute(
        "data-name", "later"
    )
    expect(second.locator(".builder-page[data-page]").first).to_have_id("p2")
    expect(second.locator(".inline-editor")).to_have_count(0)
    second.context.close()

    # A new choice list: its table opens under the lists, and is saved in place.
    first.fill("#new-list-name", "extra")
    first.locator("#new-list-form button").click()
    first.fill("#lists .inline-editor input[name='choice-1-name']", "a")
    first.fill("#lists .inline-editor input[name='choice-1-label.vi']", "A")
    first.get_by_role("button", name="Lưu danh sách").click()
    expect(first.locator("#lists")).to_contain_text("extra (1)")
    assert add.loads == []

    # An edit typed and not saved: leaving the page asks first.
    first.locator("#q-q1 a[href$='/edit/questions/q1']").click()
    first.fill("textarea[name='label.vi']", "Chưa lưu")
    asked: list[str] = []
    first.on("dialog", lambda dialog: (asked.append(dialog.type), dialog.dismiss()))
    first.close(run_before_unload=True)
    expect(first.locator("textarea[name='label.vi']")).to_have_value("Chưa lưu")  # stayed
    assert asked == ["beforeunload"]
    first.context.close()
