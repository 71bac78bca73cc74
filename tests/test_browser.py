"""The public questionnaire in a real phone-sized Chromium against `make run`.

These tests start the product the way a user does (`make run`), so they catch what
the Flask test client cannot: the Makefile, the CLI, static files, real form posts,
layout at 360 px, and what actually lands in the database.

With JavaScript (static/survey.js) the form shows one page at a time and checks each
page as the server would; without it, every page is one long form the server checks.
Both paths are driven here through the demo's branches, and what is stored is read
back from the database. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import subprocess
import time
import unicodedata
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Page, expect, sync_playwright

from survey_engine.config import database_url
from tests.conftest import BACKEND, fresh_database_url, fresh_postgres_database

BROWSER_DATABASE = f"survey_engine_browser_{os.getpid()}"

pytestmark = pytest.mark.browser

REPO_ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO_ROOT / "test-artifacts"
SLUG = "tro-lai-truong-hoc"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Loopback only, even if the environment names a proxy.
    "--no-proxy-server",
]
PORTS = range(5100, 5200)
START_TIMEOUT = 60.0
PHONE = {
    "viewport": {"width": 360, "height": 740},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
    "locale": "vi-VN",
}
REQUIRED_VI = "Vui lòng trả lời câu hỏi này."
TITLE_VI = "Khảo sát ý kiến về việc cho học sinh trở lại trường học"
TITLE_EN = "Survey on sending pupils back to school"

# urllib must not route loopback requests through a proxy from the environment.
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Server:
    """A running `make run`: where it answers, its database, and its output."""

    base_url: str
    database_url: str
    process: subprocess.Popen
    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text("utf-8", errors="replace")[-8000:]


def saved_answers(page: Page) -> list[str]:
    """The keys of answers kept in localStorage: all but the browser's device token
    (se:device, kept for one-per-device surveys, no answer in it)."""
    keys = page.evaluate("Object.keys(localStorage)")
    return [key for key in keys if key != "se:device"]


def _free_port(exclude: set[int]) -> int:
    """A port in 5100-5199 nobody listens on now (the range other tools leave alone)."""
    candidates = [p for p in PORTS if p not in exclude]
    random.shuffle(candidates)
    for port in candidates:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.fail(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


def _healthy(base_url: str) -> bool:
    try:
        with _LOCAL.open(f"{base_url}/healthz", timeout=2) as reply:
            return reply.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _stop(process: subprocess.Popen) -> None:
    """Stop make and the server it started: they share one process group."""
    if process.poll() is not None:
        return
    for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def _start(tmp: Path, port: int) -> tuple[Server, str | None]:
    """Run `make run` on `port`; return the server and None, or why it did not come up."""
    database = fresh_database_url(tmp, BROWSER_DATABASE)
    log_path = tmp / f"make-run-{port}.log"
    env = {
        **os.environ,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "DATABASE_URL": database,
        "PYTHONUNBUFFERED": "1",
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["make", "run"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = Server(f"http://127.0.0.1:{port}", database, process, log_path)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return server, f"`make run` exited with status {process.returncode}"
        # Our own server must say it serves this port; otherwise a stranger answers.
        if f"serving on {server.base_url}/" in server.output() and _healthy(server.base_url):
            return server, None
        time.sleep(0.25)
    return server, f"no 200 from {server.base_url}/healthz within {START_TIMEOUT:.0f} s"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`make run` on a fresh database; a port lost to a race is retried, nothing skips."""
    tmp = tmp_path_factory.mktemp("browser")
    tried: set[int] = set()
    for _attempt in range(3):
        port = _free_port(tried)
        tried.add(port)
        srv, problem = _start(tmp, port)
        if problem is None:
            break
        _stop(srv.process)
        if "Address already in use" not in srv.output():
            pytest.fail(f"{problem}; its output:\n{srv.output()}", pytrace=False)
    else:
        pytest.fail(f"{problem}; its output:\n{srv.output()}", pytrace=False)
    try:
        yield srv
    finally:
        _stop(srv.process)
        if BACKEND == "postgresql":
            fresh_postgres_database(BROWSER_DATABASE, create=False)


@pytest.fixture
def base_url(server: Server) -> str:
    """The server's address, after checking it is still alive (a crash fails, not hangs)."""
    if server.process.poll() is not None:
        pytest.fail(
            f"the server died (status {server.process.returncode}):\n{server.output()}",
            pytrace=False,
        )
    return server.base_url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's headless Chromium: downloading Playwright's own browser does not work here."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_page(browser: Browser, base_url: str) -> Iterator[Callable[..., Page]]:
    """Open a page in a fresh context: a phone in Vietnamese unless told otherwise."""
    contexts = []

    def make(**overrides: object) -> Page:
        context = browser.new_context(**{**PHONE, "base_url": base_url, **overrides})
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


# --- helpers ---------------------------------------------------------------------------


def stored_rows(database: str) -> list[dict]:
    """Every stored response, read straight from the database: what the server really kept."""
    engine = sa.create_engine(database_url(database))
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text("SELECT submission_id, answers, source FROM responses ORDER BY id")
            ).all()
    finally:
        engine.dispose()
    return [
        {
            "submission_id": str(sid).replace("-", "").lower(),
            "answers": json.loads(answers) if isinstance(answers, str) else answers,
            "source": source,
        }
        for sid, answers, source in rows
    ]


def rows_for(database: str, submission_id: str) -> list[dict]:
    wanted = submission_id.replace("-", "").lower()
    return [row for row in stored_rows(database) if row["submission_id"] == wanted]


def submission_id(page: Page) -> str:
    value = page.locator("input[name=submission_id]").input_value()
    assert re.fullmatch(r"[0-9a-f-]{36}", value), value
    return value


def assert_no_horizontal_scroll(page: Page, width: int = 360) -> None:
    """At 360 px nothing may stick out: sideways scrolling on a phone hides answers."""
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"page is {scroll_width} px wide at a {width} px viewport"


def assert_tap_targets(page: Page) -> None:
    """Every visible thing to press is at least 44 px high (the radio itself sits in its label)."""
    small = page.evaluate("""() => [...document.querySelectorAll(
        '.choice, .scale-point, .nav button, select, textarea, ' +
        'input:not([type=radio]):not([type=checkbox]):not([type=hidden])')]
      .filter(e => e.offsetParent && e.getBoundingClientRect().height < 43.5)
      .map(e => (e.id || e.className) + ' ' + e.getBoundingClientRect().height)""")
    assert small == [], small


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / name, full_page=True)


def choose(page: Page, question: str, label: str, tap: bool = False) -> None:
    """Press the visible text of a choice, as a person does (not the tiny input itself)."""
    target = page.locator(f"#q-{question} fieldset").get_by_text(label, exact=True)
    if tap:
        target.tap()
    else:
        target.click()


def rate_row(page: Page, row: str, label: str) -> None:
    """A matrix row is a group named by its label; its choices are radios."""
    page.get_by_role("group", name=row).get_by_text(label, exact=True).tap()


def next_page(page: Page, label: str = "Tiếp tục") -> None:
    page.get_by_role("button", name=label, exact=True).click()


def submit_vi(page: Page) -> None:
    page.get_by_role("button", name="Gửi phiếu").click()


def expect_page(page: Page, number: int, total: int, heading: str, lang: str = "vi") -> None:
    """One page shown, with its heading, and the progress bar saying which."""
    name = f"Trang {number}/{total}" if lang == "vi" else f"Page {number} of {total}"
    expect(page.get_by_role("progressbar", name=name)).to_be_visible()
    expect(page.locator("section.survey-page:visible")).to_have_count(1)
    expect(page.locator("section.survey-page:visible h2")).to_have_text(heading)


def expect_thanks(
    page: Page, heading: str = "Cảm ơn bạn!", lang: str = "vi", slug: str = SLUG
) -> None:
    expect(page).to_have_url(re.compile(rf"/s/{slug}/thanks(\?lang=(vi|en))?$"))
    expect(page.locator("h1")).to_have_text(heading)
    expect(page.locator("html")).to_have_attribute("lang", lang)


def about_you(page: Page, district: str, commune: str, role: str, tap: bool = False) -> None:
    """Page 1 in Vietnamese: consent, where, who."""
    page.get_by_label("Tôi đồng ý tham gia khảo sát").check()
    page.get_by_label("Bạn đang sống ở huyện/thành phố nào?").select_option(label=district)
    page.get_by_label("Xã/phường/thị trấn").select_option(label=commune)
    choose(page, "role", role, tap)


def teacher_who_says_no(page: Page) -> None:
    """The shortest path through the demo: a teacher against, no follow-up (2 pages)."""
    about_you(page, "Huyện Đơn Dương", "Xã Ka Đơn", "Giáo viên, cán bộ quản lý")
    next_page(page)
    expect_page(page, 2, 2, "Ý kiến của bạn")
    choose(page, "support", "Không đồng ý")
    choose(page, "concerns", "Đưa đón, đi lại")
    choose(page, "follow_up", "Không")


TEACHER_ANSWERS = {
    "consent": "OK",
    "district": "don_duong",
    "commune": "dd_ka_don",
    "role": "teacher",
    "support": "no",
    "concerns": ["transport"],
    "follow_up": "no",
    "concern_count": 1,
}


def only_row(database: str, sid: str) -> dict:
    """Exactly one stored response for this submission_id, from the web form."""
    rows = rows_for(database, sid)
    assert len(rows) == 1, rows
    assert rows[0]["source"] == "web"
    return rows[0]["answers"]


def is_post(request) -> bool:
    return request.method == "POST"


# --- with JavaScript: one page at a time ----------------------------------------------


def test_parent_answers_every_page(new_page: Callable[..., Page], server: Server) -> None:
    """The main path on a phone: errors before Next, cascading communes, every branch a
    parent sees, exclusive and "other" choices, the contact page; stored as given."""
    page = new_page()
    page.goto(f"/s/{SLUG}")
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    expect(page.locator("h1")).to_have_text(TITLE_VI)
    expect(page).to_have_title(TITLE_VI)
    expect_page(page, 1, 2, "Thông tin chung")
    expect(page.get_by_role("button", name="Gửi phiếu")).to_be_hidden()
    expect(page.get_by_role("button", name="Quay lại")).to_be_hidden()
    assert_no_horizontal_scroll(page)
    screenshot(page, "js-page1-phone.png")
    sid = submission_id(page)

    # Next with nothing answered: stopped, every problem listed, in the server's words.
    next_page(page)
    summary = page.get_by_role("alert")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("Vui lòng sửa 4 lỗi dưới đây để tiếp tục.")
    expect(summary.get_by_role("link")).to_have_count(4)
    expect(page.locator("#q-consent-error")).to_have_text("Cần đồng ý để tiếp tục.")  # its own
    for name, field in (("district", "f-district"), ("commune", "f-commune"), ("role", "f-role-1")):
        expect(page.locator(f"#q-{name}-error")).to_have_text(REQUIRED_VI)
        expect(summary.locator(f'li:has(a[href="#{field}"])')).to_contain_text(REQUIRED_VI)
    district = page.get_by_label("Bạn đang sống ở huyện/thành phố nào?")
    expect(district).to_have_attribute("aria-invalid", "true")
    expect(district).to_have_attribute("aria-describedby", "q-district-error")
    expect(page.locator("#q-role fieldset")).to_have_attribute("aria-describedby", "q-role-error")
    expect(page.locator("#f-role-2")).to_have_attribute("aria-invalid", "true")
    expect_page(page, 1, 2, "Thông tin chung")
    assert_no_horizontal_scroll(page)
    screenshot(page, "js-errors-phone.png")
    summary.get_by_role("link", name="Bạn là").click()
    expect(page.locator("#f-role-1")).to_be_focused()  # the link leads to the answer itself

    # The commune list follows the district; a commune of another district is cleared.
    page.get_by_label("Tôi đồng ý tham gia khảo sát").check()
    commune = page.get_by_label("Xã/phường/thị trấn")
    district.select_option(label="Thành phố Đà Lạt")
    expect(commune.locator("option")).to_have_text(
        ["— Chọn —", "Phường 1", "Phường 2", "Phường 3", "Phường 8", "Xã Xuân Trường", "Xã Tà Nung"]
    )
    expect(commune.locator("optgroup")).to_have_count(0)
    commune.select_option(label="Phường 8")
    district.select_option(label="Thành phố Bảo Lộc")
    expect(commune.locator("option")).to_have_text(
        ["— Chọn —", "Phường 1", "Phường B'Lao", "Phường Lộc Phát", "Xã Lộc Châu"]
    )
    expect(commune).to_have_value("")
    commune.select_option(label="Phường B'Lao")
    # Fixed answers lose their message at once.
    expect(page.locator("#q-district-error")).to_be_hidden()
    expect(district).not_to_have_attribute("aria-invalid", "true")
    expect(district).not_to_have_attribute("aria-describedby", "q-district-error")

    # A parent is asked about children; the levels only when there are some.
    children = page.get_by_label("Gia đình bạn có bao nhiêu con đang đi học?")
    levels = page.locator("#q-levels")
    expect(children).to_be_hidden()
    choose(page, "role", "Phụ huynh học sinh", tap=True)
    expect(page.get_by_role("alert")).to_have_count(0)  # every listed problem is fixed
    expect(children).to_be_visible()
    expect(levels).to_be_hidden()
    children.fill("11")
    next_page(page)
    expect(page.locator("#q-children-error")).to_have_text("Số lớn nhất là 10.")
    expect(levels).to_be_hidden()  # as on the server, a refused answer counts for nothing
    children.fill("2")
    expect(page.locator("#q-children-error")).to_be_hidden()
    expect(levels).to_be_visible()
    choose(page, "levels", "Tiểu học", tap=True)
    choose(page, "levels", "Trung học cơ sở", tap=True)
    children.press("Enter")  # Enter in a field means Next, not "send now"
    expect_page(page, 2, 2, "Ý kiến của bạn")
    expect(page.get_by_role("heading", name="Ý kiến của bạn")).to_be_focused()
    expect(page.get_by_role("button", name="Gửi phiếu")).to_be_visible()

    # "Other" shows its text box only when chosen; "no concerns" excludes the rest.
    other = page.get_by_label("Khác (ghi rõ)")
    expect(other).to_be_hidden()
    for label in ("Nguy cơ lây nhiễm Covid-19", "Đưa đón, đi lại", "Khác"):
        choose(page, "concerns", label, tap=True)
    expect(other).to_be_visible()
    other.fill("Thiếu giáo viên")
    choose(page, "concerns", "Không có lo ngại nào", tap=True)
    expect(page.locator("#q-concerns input:checked")).to_have_count(1)
    expect(other).to_be_hidden()
    choose(page, "concerns", "Nguy cơ lây nhiễm Covid-19", tap=True)
    expect(page.get_by_role("checkbox", name="Không có lo ngại nào")).not_to_be_checked()
    for label in ("Đưa đón, đi lại", "Khác", "Học sinh bị hổng kiến thức"):  # one too many
        choose(page, "concerns", label, tap=True)
    expect(other).to_have_value("Thiếu giáo viên")  # kept while hidden

    choose(page, "support", "Đồng ý", tap=True)
    rate_row(page, "Đeo khẩu trang trong lớp", "Đồng ý")
    rate_row(page, "Xét nghiệm định kỳ", "Bình thường")
    # Ranking: giving a position already taken swaps the two.
    for label, position in (
        ("Phòng học thông thoáng", "1"),
        ("Giãn cách trong lớp", "2"),
        ("Vệ sinh, khử khuẩn", "3"),
        ("Phụ đạo bù kiến thức", "4"),
    ):
        page.get_by_label(label, exact=True).select_option(position)
    page.get_by_label("Vệ sinh, khử khuẩn", exact=True).select_option("2")
    expect(page.get_by_label("Giãn cách trong lớp", exact=True)).to_have_value("3")
    page.get_by_label("Ngày tiêm mũi vắc-xin gần nhất").fill("2099-01-01")
    choose(page, "school_rating", "4", tap=True)
    choose(page, "recommend", "9", tap=True)
    choose(page, "follow_up", "Có", tap=True)
    expect_page(page, 2, 3, "Ý kiến của bạn")  # the contact page now follows
    expect(page.get_by_role("button", name="Gửi phiếu")).to_be_hidden()
    assert_no_horizontal_scroll(page)
    assert_tap_targets(page)
    screenshot(page, "js-page2-phone.png")

    next_page(page)
    expect(page.locator("#q-concerns-error")).to_have_text("Chọn nhiều nhất 3 phương án.")
    expect(page.locator("#q-last_dose-error")).to_have_text("Ngày không được ở tương lai.")
    expect(page.get_by_role("alert").get_by_role("link")).to_have_count(2)
    screenshot(page, "js-page2-errors-phone.png")
    choose(page, "concerns", "Học sinh bị hổng kiến thức", tap=True)
    page.get_by_label("Ngày tiêm mũi vắc-xin gần nhất").fill("2021-11-15")
    expect(page.get_by_role("alert")).to_have_count(0)
    next_page(page)
    expect_page(page, 3, 3, "Liên hệ")

    # Back keeps every answer; so does the phone's own back button.
    page.get_by_role("button", name="Quay lại").click()
    expect_page(page, 2, 3, "Ý kiến của bạn")
    expect(other).to_have_value("Thiếu giáo viên")
    expect(page.locator("#q-concerns input:checked")).to_have_count(3)
    next_page(page)
    expect_page(page, 3, 3, "Liên hệ")
    page.go_back()
    expect_page(page, 2, 3, "Ý kiến của bạn")
    page.go_back()
    expect_page(page, 1, 3, "Thông tin chung")
    expect(commune).to_have_value("bl_blao")
    next_page(page)
    next_page(page)
    expect_page(page, 3, 3, "Liên hệ")

    # The phone number is required on this page, and must look like one.
    submit_vi(page)
    expect(page.get_by_role("alert")).to_contain_text("Phiếu chưa gửi được. Vui lòng sửa 1 lỗi")
    expect(page.locator("#q-phone-error")).to_have_text(REQUIRED_VI)
    phone = page.get_by_label("Số điện thoại")
    phone.fill("12345")
    expect(page.locator("#q-phone-error")).to_have_text(
        "Vui lòng nhập số điện thoại Việt Nam, ví dụ 0912 345 678."
    )
    phone.fill("0912 345 678")
    expect(page.locator("#q-phone-error")).to_be_hidden()
    page.get_by_label("Email (không bắt buộc)").fill("Lan@Example.VN")
    # Typed decomposed, as some Vietnamese input methods send it; stored composed (NFC).
    comment = unicodedata.normalize("NFD", "Cần đảm bảo an toàn, giãn cách ở lớp học.")
    assert comment != unicodedata.normalize("NFC", comment)
    page.get_by_label("Ý kiến, kiến nghị khác").press_sequentially(comment)
    assert_no_horizontal_scroll(page)
    screenshot(page, "js-page3-phone.png")
    assert submission_id(page) == sid
    page.get_by_role("button", name="Gửi phiếu").tap()

    expect_thanks(page)
    assert page.url.endswith(f"/s/{SLUG}/thanks?lang=vi"), page.url
    assert saved_answers(page) == []  # nothing left on a shared phone
    assert only_row(server.database_url, sid) == {
        "consent": "OK",
        "district": "bao_loc",
        "commune": "bl_blao",
        "role": "parent",
        "children": 2,
        "levels": ["primary", "lower_secondary"],
        "support": "yes",
        "concerns": ["infection", "transport", "other"],
        "concerns_other": "Thiếu giáo viên",
        "measures": {"masks": "agree", "testing": "neutral"},
        "priorities": ["ventilation", "hygiene", "distancing", "catch_up"],
        "last_dose": "2021-11-15",
        "school_rating": 4,
        "recommend": 9,
        "follow_up": "yes",
        "concern_count": 3,
        "phone": "+84912345678",
        "email": "Lan@example.vn",
        "comment": unicodedata.normalize("NFC", comment),
    }


def test_teacher_skips_children_and_contact(new_page: Callable[..., Page], server: Server) -> None:
    """Answers to questions that stop applying are not sent: children after the role
    changes, the phone after follow-up turns to no; the contact page is skipped."""
    page = new_page()
    page.goto(f"/s/{SLUG}")
    sid = submission_id(page)
    about_you(page, "Huyện Đơn Dương", "Xã Ka Đơn", "Phụ huynh học sinh")
    page.get_by_label("Gia đình bạn có bao nhiêu con đang đi học?").fill("3")
    choose(page, "levels", "Mầm non")
    choose(page, "role", "Giáo viên, cán bộ quản lý")
    expect(page.locator("#q-children")).to_be_hidden()
    expect(page.locator("#q-levels")).to_be_hidden()
    expect(page.locator("#f-children")).to_be_disabled()
    next_page(page)

    expect_page(page, 2, 2, "Ý kiến của bạn")
    expect(page.locator("#q-last_dose")).to_be_hidden()  # parents and pupils only
    expect(page.locator("#q-priorities")).to_be_visible()
    choose(page, "support", "Không đồng ý")
    expect(page.locator("#q-priorities")).to_be_hidden()
    choose(page, "concerns", "Đưa đón, đi lại")
    choose(page, "follow_up", "Có")
    next_page(page)
    expect_page(page, 3, 3, "Liên hệ")
    page.get_by_label("Số điện thoại").fill("0987654321")
    page.get_by_role("button", name="Quay lại").click()
    choose(page, "follow_up", "Không")
    expect_page(page, 2, 2, "Ý kiến của bạn")
    expect(page.get_by_role("button", name="Tiếp tục")).to_be_hidden()
    submit_vi(page)

    expect_thanks(page)
    assert only_row(server.database_url, sid) == TEACHER_ANSWERS


@pytest.mark.parametrize(
    ("locale", "query"), [("en-US", ""), ("vi-VN", "?lang=en")], ids=["accept-language", "query"]
)
def test_english(new_page: Callable[..., Page], server: Server, locale: str, query: str) -> None:
    """English comes from the browser's language or from ?lang=en: the survey's texts, the
    script's own words and messages, through to the thanks."""
    page = new_page(locale=locale)
    page.goto(f"/s/{SLUG}{query}")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text(TITLE_EN)
    expect(page.get_by_role("link", name="Tiếng Việt")).to_be_visible()
    expect_page(page, 1, 2, "About you", "en")
    assert_no_horizontal_scroll(page)
    sid = submission_id(page)

    next_page(page, "Next")
    expect(page.get_by_role("alert")).to_contain_text("Please fix the 4 problem(s) below")
    expect(page.locator("#q-consent-error")).to_have_text("Please agree to continue.")
    expect(page.locator("#q-district-error")).to_have_text("Please answer this question.")
    page.get_by_label("I agree to take part").check()
    page.get_by_label("Which district or city do you live in?").select_option(label="Bao Loc City")
    page.get_by_label("Commune or ward").select_option(label="Phường Lộc Phát")
    choose(page, "role", "Pupil")
    next_page(page, "Next")
    expect_page(page, 2, 2, "Your opinion", "en")
    choose(page, "support", "No")
    choose(page, "concerns", "Gaps in learning")
    choose(page, "follow_up", "Yes")
    next_page(page, "Next")
    expect_page(page, 3, 3, "Contact", "en")
    page.get_by_label("Phone number").fill("+84 912 345 678")
    page.get_by_label("Email (optional)").fill("not an email")
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#q-email-error")).to_have_text(
        "Please enter a valid email address, such as name@example.com."
    )
    page.get_by_label("Email (optional)").fill("")
    page.get_by_label("Other comments or suggestions").fill("More time for homework, please.")
    page.get_by_role("button", name="Submit").click()

    expect_thanks(page, "Thank you!", "en")
    assert only_row(server.database_url, sid) == {
        "consent": "OK",
        "district": "bao_loc",
        "commune": "bl_loc_phat",
        "role": "pupil",
        "support": "no",
        "concerns": ["learning_gap"],
        "follow_up": "yes",
        "concern_count": 1,
        "phone": "+84912345678",
        "comment": "More time for homework, please.",
    }


def test_reload_restores_answers_and_page(new_page: Callable[..., Page], server: Server) -> None:
    """A reload (or a dropped connection and the link opened again) brings back every
    answer, the page the citizen was on and the same submission_id."""
    page = new_page()
    page.goto(f"/s/{SLUG}?source=zalo")
    page.reload()  # nothing answered yet: nothing saved, nothing restored
    expect(page.get_by_role("status")).to_have_text("")
    assert saved_answers(page) == []
    sid = submission_id(page)
    about_you(page, "Thành phố Đà Lạt", "Xã Tà Nung", "Phụ huynh học sinh")
    page.get_by_label("Gia đình bạn có bao nhiêu con đang đi học?").fill("1")
    choose(page, "levels", "Mầm non")
    next_page(page)
    choose(page, "support", "Chưa quyết định")
    choose(page, "concerns", "Khác")
    page.get_by_label("Khác (ghi rõ)").fill("Đường xa")
    rate_row(page, "Chia lớp học hai ca", "Không đồng ý")
    page.get_by_label("Phòng học thông thoáng", exact=True).select_option("1")
    choose(page, "school_rating", "5")
    choose(page, "follow_up", "Có")
    expect(page.locator("#form-saved")).to_be_visible()

    page.reload()
    expect_page(page, 2, 3, "Ý kiến của bạn")
    expect(page.get_by_role("status")).to_have_text("Đã khôi phục câu trả lời bạn nhập trước đó.")
    assert submission_id(page) == sid
    expect(page.get_by_role("radio", name="Chưa quyết định")).to_be_checked()
    expect(page.get_by_label("Khác (ghi rõ)")).to_have_value("Đường xa")
    expect(
        page.get_by_role("group", name="Chia lớp học hai ca").get_by_role(
            "radio", name="Không đồng ý"
        )
    ).to_be_checked()
    expect(page.get_by_label("Phòng học thông thoáng", exact=True)).to_have_value("1")
    expect(page.locator("#f-school_rating-5")).to_be_checked()
    expect(page.locator("#f-follow_up-1")).to_be_checked()
    page.get_by_role("button", name="Quay lại").click()
    expect_page(page, 1, 3, "Thông tin chung")
    expect(page.get_by_label("Tôi đồng ý tham gia khảo sát")).to_be_checked()
    expect(page.get_by_label("Xã/phường/thị trấn")).to_have_value("dl_ta_nung")
    expect(page.get_by_label("Gia đình bạn có bao nhiêu con đang đi học?")).to_have_value("1")
    expect(page.get_by_role("checkbox", name="Mầm non")).to_be_checked()

    # The same in a new tab: the link opened again after the connection dropped.
    again = page.context.new_page()
    again.goto(f"/s/{SLUG}")
    expect_page(again, 1, 3, "Thông tin chung")
    assert submission_id(again) == sid
    again.close()

    page.get_by_role("button", name="Tiếp tục").click()
    for label, position in (
        ("Vệ sinh, khử khuẩn", "2"),
        ("Giãn cách trong lớp", "3"),
        ("Phụ đạo bù kiến thức", "4"),
    ):
        page.get_by_label(label, exact=True).select_option(position)
    next_page(page)
    page.get_by_label("Số điện thoại").fill("0912345678")
    submit_vi(page)
    expect_thanks(page)
    assert only_row(server.database_url, sid) == {
        "source": "zalo",
        "consent": "OK",
        "district": "da_lat",
        "commune": "dl_ta_nung",
        "role": "parent",
        "children": 1,
        "levels": ["preschool"],
        "support": "undecided",
        "concerns": ["other"],
        "concerns_other": "Đường xa",
        "measures": {"half_classes": "disagree"},
        "priorities": ["ventilation", "hygiene", "distancing", "catch_up"],
        "school_rating": 5,
        "follow_up": "yes",
        "concern_count": 1,
        "phone": "+84912345678",
    }
    # Sent: the next visit is a new, empty response.
    page.goto(f"/s/{SLUG}")
    assert submission_id(page) != sid
    expect(page.get_by_label("Tôi đồng ý tham gia khảo sát")).not_to_be_checked()
    expect(page.get_by_role("status")).to_have_text("")


@pytest.mark.parametrize("failure", ["answer-lost", "busy-503"])
def test_failed_submit_is_sent_again_and_stored_once(
    new_page: Callable[..., Page], server: Server, failure: str
) -> None:
    """The first POST's answer is lost on the way back (the server did store it), or the
    server says 503 (it could not store it now): the page says so, sends the same again
    by itself, and exactly one response is stored."""
    page = new_page()
    page.goto(f"/s/{SLUG}")
    sid = submission_id(page)
    teacher_who_says_no(page)
    posts: list[str] = []

    def fail_first(route) -> None:
        if not is_post(route.request):
            route.fallback()
            return
        posts.append(route.request.post_data)
        if len(posts) > 1:
            route.continue_()
        elif failure == "answer-lost":
            route.fetch()  # the server gets it (and stores it) ...
            route.abort("connectionreset")  # ... but the phone hears nothing
        else:
            route.fulfill(status=503, headers={"Retry-After": "1"}, body="busy")

    page.route(f"**/s/{SLUG}?*", fail_first)
    submit_vi(page)
    expect(page.get_by_role("status")).to_have_text("Mất kết nối, đang thử gửi lại…")
    expect(page.get_by_role("button", name="Gửi phiếu")).to_be_disabled()
    assert len(rows_for(server.database_url, sid)) == (failure == "answer-lost")
    expect_thanks(page)
    assert len(posts) == 2 and posts[0] == posts[1], posts
    assert only_row(server.database_url, sid) == TEACHER_ANSWERS


def test_changed_after_a_lost_answer_is_refused_not_stored(
    new_page: Callable[..., Page], server: Server
) -> None:
    """Stored, the answer lost, the page reloaded (same submission_id) and an answer
    changed: the server refuses it (409), the page says so and forgets the saved answers."""
    page = new_page()
    page.goto(f"/s/{SLUG}")
    sid = submission_id(page)
    teacher_who_says_no(page)

    def lose_answer(route) -> None:
        if not is_post(route.request):
            route.fallback()
            return
        route.fetch()
        route.abort("connectionreset")

    page.route(f"**/s/{SLUG}?*", lose_answer)
    submit_vi(page)
    expect(page.get_by_role("status")).to_have_text("Mất kết nối, đang thử gửi lại…")
    page.reload()  # before any retry gets through
    page.unroute(f"**/s/{SLUG}?*")
    assert submission_id(page) == sid
    choose(page, "support", "Chưa quyết định")
    submit_vi(page)
    expect(page.locator("h1")).to_have_text("Phiếu này đã được gửi")
    assert saved_answers(page) == []
    assert only_row(server.database_url, sid) == TEACHER_ANSWERS
    page.get_by_role("link", name="Trả lời phiếu mới").click()
    expect_page(page, 1, 2, "Thông tin chung")
    assert submission_id(page) != sid


def test_offline_submit_waits_for_the_network(
    new_page: Callable[..., Page], server: Server
) -> None:
    """Offline when pressing Submit: nothing lost, sent as soon as the phone is back online."""
    page = new_page()
    page.goto(f"/s/{SLUG}")
    sid = submission_id(page)
    teacher_who_says_no(page)
    page.context.set_offline(True)
    submit_vi(page)
    expect(page.get_by_role("status")).to_have_text("Mất kết nối, đang thử gửi lại…")
    expect(page.get_by_role("button", name="Gửi phiếu")).to_be_disabled()
    expect_page(page, 2, 2, "Ý kiến của bạn")
    assert rows_for(server.database_url, sid) == []
    page.context.set_offline(False)
    expect_thanks(page)
    assert only_row(server.database_url, sid) == TEACHER_ANSWERS


def test_server_refusal_is_shown_at_its_question(
    new_page: Callable[..., Page], server: Server
) -> None:
    """What only the server catches (here a commune changed on the way) comes back as a
    422; the script shows its message at the question, on that question's page."""
    page = new_page()
    page.goto(f"/s/{SLUG}")
    sid = submission_id(page)
    teacher_who_says_no(page)

    def swap_commune(route) -> None:
        if not is_post(route.request):
            route.fallback()
            return
        body = route.request.post_data.replace("commune=dd_ka_don", "commune=dl_p1")
        route.continue_(post_data=body)

    page.route(f"**/s/{SLUG}?*", swap_commune)
    with page.expect_response(lambda r: is_post(r.request)) as posted:
        submit_vi(page)
    assert posted.value.status == 422
    expect_page(page, 1, 2, "Thông tin chung")
    expect(page.locator("#q-commune-error")).to_have_text("Lựa chọn không hợp lệ: dl_p1.")
    expect(page.get_by_role("alert")).to_be_focused()
    assert rows_for(server.database_url, sid) == []

    page.unroute(f"**/s/{SLUG}?*")
    page.get_by_label("Xã/phường/thị trấn").select_option(label="Thị trấn D'Ran")
    next_page(page)
    submit_vi(page)
    expect_thanks(page)
    assert only_row(server.database_url, sid) == {**TEACHER_ANSWERS, "commune": "dd_dran"}


def test_keyboard_and_zoom(new_page: Callable[..., Page], server: Server) -> None:
    """Keyboard alone goes through a page, focus is visible; at 200 % zoom on a 360 px
    phone (180 CSS px) and on a wide screen nothing sticks out; the matrix is a grid there."""
    page = new_page(viewport={"width": 180, "height": 740})
    page.goto(f"/s/{SLUG}")
    assert_no_horizontal_scroll(page, 180)
    page.keyboard.press("Tab")  # the language link
    page.keyboard.press("Tab")
    expect(page.locator("#f-consent")).to_be_focused()
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    expect(page.locator("#f-district")).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(page.locator("#f-district")).to_have_value("da_lat")
    page.keyboard.press("Tab")
    page.keyboard.press("ArrowDown")
    expect(page.locator("#f-commune")).to_have_value("dl_p1")
    page.keyboard.press("Tab")
    expect(page.locator("#f-role-1")).to_be_focused()
    page.keyboard.press("ArrowDown")  # radios: arrows pick, as everywhere
    expect(page.locator("#f-role-2")).to_be_checked()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Tiếp tục")).to_be_focused()
    page.keyboard.press("Enter")
    expect_page(page, 2, 2, "Ý kiến của bạn")
    expect(page.get_by_role("heading", name="Ý kiến của bạn")).to_be_focused()
    page.locator("#f-recommend-0").focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator("#f-recommend-1")).to_be_checked()
    outline = page.eval_on_selector(
        "#f-recommend-1 + span", "span => getComputedStyle(span).outlineStyle"
    )
    assert outline == "solid", "the focused scale point must show it"
    choose(page, "follow_up", "Có")
    next_page(page)
    expect(page.locator("#q-support-error")).to_have_text(REQUIRED_VI)
    assert_no_horizontal_scroll(page, 180)
    screenshot(page, "js-page2-errors-zoom200.png")
    choose(page, "support", "Đồng ý")
    next_page(page)
    expect_page(page, 3, 3, "Liên hệ")
    assert_no_horizontal_scroll(page, 180)

    wide = new_page(viewport={"width": 800, "height": 900}, is_mobile=False)
    wide.goto(f"/s/{SLUG}")
    about_you(wide, "Thành phố Đà Lạt", "Phường 2", "Học sinh")
    next_page(wide)
    matrix = wide.locator("#q-measures")
    boxes = [
        matrix.get_by_role("group", name=row)
        .get_by_role("radio", name="Đồng ý", exact=True)
        .bounding_box()
        for row in ("Đeo khẩu trang trong lớp", "Chia lớp học hai ca")
    ]
    assert abs(boxes[0]["x"] - boxes[1]["x"]) < 1, "matrix columns line up on a wide screen"
    assert boxes[0]["y"] < boxes[1]["y"]
    assert_no_horizontal_scroll(wide, 800)
    screenshot(wide, "js-page2-wide.png")


STRICT_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'"
)


def test_works_under_a_strict_content_security_policy(
    new_page: Callable[..., Page], server: Server
) -> None:
    """No inline script or style, no eval: the policy planned for production breaks nothing."""
    page = new_page()

    def with_policy(route) -> None:
        reply = route.fetch()
        route.fulfill(
            response=reply, headers={**reply.headers, "content-security-policy": STRICT_CSP}
        )

    page.route(f"**/s/{SLUG}", with_policy)
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.goto(f"/s/{SLUG}")
    sid = submission_id(page)
    expect_page(page, 1, 2, "Thông tin chung")
    next_page(page)
    expect(page.get_by_role("alert")).to_be_visible()
    teacher_who_says_no(page)
    assert not [text for text in console if "Content Security Policy" in text], console
    # The policy is really in force: an inline script is refused.
    page.evaluate("""() => { const s = document.createElement('script');
        s.textContent = 'window.inlineRan = true'; document.body.appendChild(s); }""")
    assert page.evaluate("window.inlineRan") is None
    submit_vi(page)
    expect_thanks(page)
    assert only_row(server.database_url, sid) == TEACHER_ANSWERS


LOGIC_SURVEY = {
    "format": "survey-engine/1",
    "slug": "thu-logic",
    "title": {"vi": "Thử logic"},
    "pages": [
        {
            "name": "p1",
            "title": {"vi": "Trái cây"},
            "questions": [
                {
                    "name": "name",
                    "type": "text",
                    "required": True,
                    "label": {"vi": "Tên của bạn"},
                    "constraint": "string-length(.) >= 2",
                    "constraint_message": {"vi": "Tên có ít nhất 2 ký tự."},
                },
                {
                    "name": "fruits",
                    "type": "select_multiple",
                    "choices": "fruits",
                    "label": {"vi": "Bạn thích quả nào?"},
                },
                {
                    "name": "n_fruits",
                    "type": "calculate",
                    "calculation": "count-selected(${fruits})",
                },
                {
                    "name": "favourite",
                    "type": "select_one",
                    "choices": "fruits",
                    "choice_filter": "selected(${fruits}, name)",
                    "relevant": "${n_fruits} > 1",
                    "label": {"vi": "${name} ơi, trong ${n_fruits} loại, loại nào ngon nhất?"},
                },
                {
                    "name": "weight",
                    "type": "decimal",
                    "min": 0.5,
                    "max": 2.5,
                    "relevant": "${favourite} != ''",
                    "label": {"vi": "Mỗi lần mua bao nhiêu kg ${favourite}?"},
                },
            ],
        }
    ],
    "choice_lists": {
        "fruits": [
            {"name": "xoai", "label": {"vi": "Xoài"}},
            {"name": "cam", "label": {"vi": "Cam"}},
            {"name": "chuoi", "label": {"vi": "Chuối"}},
        ]
    },
}


def test_piping_calculation_and_filtered_radios(
    new_page: Callable[..., Page], server: Server, tmp_path: Path
) -> None:
    """Answers piped into later labels as they are typed; a calculation (computed in the
    page only for this) decides relevance; radios filtered by an earlier answer, a picked
    one cleared when it goes; the author's constraint message; a decimal with a comma."""
    definition = tmp_path / "thu-logic.json"
    definition.write_text(json.dumps(LOGIC_SURVEY), "utf-8")
    imported = subprocess.run(
        [str(REPO_ROOT / ".venv/bin/survey-engine"), "import", str(definition), "--publish"],
        cwd=REPO_ROOT,
        env={**os.environ, "DATABASE_URL": server.database_url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert imported.returncode == 0, imported.stderr
    page = new_page()
    page.goto("/s/thu-logic")
    sid = submission_id(page)
    expect_page(page, 1, 1, "Trái cây")
    name = page.get_by_label("Tên của bạn")
    name.fill("L")
    submit_vi(page)
    expect(page.locator("#q-name-error")).to_have_text("Tên có ít nhất 2 ký tự.")
    name.fill("Lan")
    favourite = page.locator("#q-favourite")
    expect(favourite).to_be_hidden()
    for fruit in ("Xoài", "Cam", "Chuối"):
        choose(page, "fruits", fruit)
    expect(favourite.locator("legend")).to_have_text("Lan ơi, trong 3 loại, loại nào ngon nhất?")
    choose(page, "fruits", "Chuối")  # unticked: no longer a choice for the favourite
    expect(favourite.locator("legend")).to_have_text("Lan ơi, trong 2 loại, loại nào ngon nhất?")
    expect(favourite.get_by_role("radio")).to_have_count(2)
    expect(favourite.get_by_role("radio", name="Chuối")).to_be_hidden()
    choose(page, "favourite", "Cam")
    weight = page.get_by_label("Mỗi lần mua bao nhiêu kg Cam?")
    expect(weight).to_be_visible()
    choose(page, "fruits", "Chuối")
    choose(page, "fruits", "Cam")  # the favourite goes with it
    expect(favourite.get_by_role("radio", name="Cam")).to_be_hidden()
    expect(favourite.locator("input:checked")).to_have_count(0)
    expect(weight).to_be_hidden()
    choose(page, "favourite", "Xoài")
    weight = page.get_by_label("Mỗi lần mua bao nhiêu kg Xoài?")
    weight.fill("3,5")
    submit_vi(page)
    expect(page.locator("#q-weight-error")).to_have_text("Số lớn nhất là 2,5.")
    weight.fill("1,25")
    submit_vi(page)
    expect_thanks(page, slug="thu-logic")
    assert only_row(server.database_url, sid) == {
        "name": "Lan",
        "fruits": ["xoai", "chuoi"],
        "n_fruits": 2,
        "favourite": "xoai",
        "weight": 1.25,
    }


# --- without JavaScript: one long form --------------------------------------------------


def test_without_javascript(new_page: Callable[..., Page], server: Server) -> None:
    """Old phones and strict settings: every page on one form, checked by the server,
    errors shown with every answer kept, then stored."""
    page = new_page(java_script_enabled=False)
    page.goto(f"/s/{SLUG}")
    expect(page.locator("h1")).to_have_text(TITLE_VI)
    expect(page.locator("section.survey-page:visible")).to_have_count(3)
    expect(page.get_by_role("progressbar")).to_be_hidden()
    expect(page.get_by_role("button", name="Tiếp tục")).to_be_hidden()
    commune = page.get_by_label("Xã/phường/thị trấn")
    expect(commune.locator("optgroup")).to_have_count(12)  # every commune, by district
    sid = submission_id(page)

    comment = "Không dùng JavaScript vẫn gửi được phiếu."
    page.get_by_label("Ý kiến, kiến nghị khác").fill(comment)
    choose(page, "role", "Phụ huynh học sinh")
    page.get_by_label("Số điện thoại").fill("0987 654 321")
    with page.expect_response(lambda r: is_post(r.request)) as posted:
        submit_vi(page)
    assert posted.value.status == 422
    summary = page.get_by_role("alert")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("Vui lòng sửa 4 lỗi")
    expect(page.locator("#q-district-error")).to_have_text(REQUIRED_VI)
    expect(page.locator("#q-consent-error")).to_have_text("Cần đồng ý để tiếp tục.")
    expect(page.get_by_label("Ý kiến, kiến nghị khác")).to_have_value(comment)
    expect(page.locator("#f-role-1")).to_be_checked()
    assert submission_id(page) == sid
    screenshot(page, "nojs-errors-phone.png")

    page.get_by_label("Tôi đồng ý tham gia khảo sát").check()
    page.get_by_label("Bạn đang sống ở huyện/thành phố nào?").select_option("da_lat")
    commune.select_option("dl_p8")
    page.get_by_label("Gia đình bạn có bao nhiêu con đang đi học?").fill("2")
    choose(page, "levels", "Tiểu học")
    choose(page, "support", "Đồng ý")
    choose(page, "concerns", "Nguy cơ lây nhiễm Covid-19")
    choose(page, "concerns", "Khác")
    page.get_by_label("Khác (ghi rõ)").fill("Thiếu giáo viên")
    rate_row(page, "Đeo khẩu trang trong lớp", "Đồng ý")
    choose(page, "follow_up", "Có")
    assert_no_horizontal_scroll(page)
    submit_vi(page)
    expect_thanks(page)
    assert only_row(server.database_url, sid) == {
        "consent": "OK",
        "district": "da_lat",
        "commune": "dl_p8",
        "role": "parent",
        "children": 2,
        "levels": ["primary"],
        "support": "yes",
        "concerns": ["infection", "other"],
        "concerns_other": "Thiếu giáo viên",
        "measures": {"masks": "agree"},
        "follow_up": "yes",
        "concern_count": 2,
        "phone": "+84987654321",
        "comment": comment,
    }


def test_double_submission_stored_once(new_page: Callable[..., Page], server: Server) -> None:
    """A resent form (double tap, back and resend, flaky network) is stored exactly once."""
    page = new_page()
    page.goto(f"/s/{SLUG}")
    teacher_who_says_no(page)
    sid = submission_id(page)
    action = page.eval_on_selector("form", "form => form.action")
    pairs = page.eval_on_selector("form", "form => Array.from(new FormData(form).entries())")
    assert ["submission_id", sid] in pairs
    assert ["concerns", "transport"] in pairs
    assert not any(key in ("children", "phone", "concerns_other") for key, _ in pairs), pairs
    body = urlencode([tuple(pair) for pair in pairs])
    headers = {"Content-Type": "application/x-www-form-urlencoded"}

    submit_vi(page)
    expect_thanks(page)
    for _resend in range(2):
        reply = page.request.post(action, data=body, headers=headers)
        assert reply.status == 200, reply.text()
        assert "/thanks" in reply.url
        assert "Cảm ơn bạn!" in reply.text()
    assert only_row(server.database_url, sid) == TEACHER_ANSWERS

    # The same id with other answers is refused, and the first answer stays.
    changed = urlencode([(k, "yes" if k == "support" else v) for k, v in pairs])
    reply = page.request.post(action, data=changed, headers=headers)
    assert reply.status == 409
    assert "Phiếu này đã được gửi" in reply.text()
    assert only_row(server.database_url, sid) == TEACHER_ANSWERS


def test_without_javascript_in_english(new_page: Callable[..., Page], server: Server) -> None:
    """The English interface and content, server-checked, for a teacher who wants no
    follow-up: questions that do not apply to a teacher are ignored, not required."""
    page = new_page(java_script_enabled=False, locale="en-US")
    page.goto(f"/s/{SLUG}")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    sid = submission_id(page)
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_role("alert")).to_contain_text("Please fix the 5 problem(s) below.")
    expect(page.locator("#q-consent-error")).to_have_text("Please agree to continue.")
    expect(page.locator("#q-role-error")).to_have_text("Please answer this question.")

    page.get_by_label("I agree to take part").check()
    page.get_by_label("Which district or city do you live in?").select_option("bao_loc")
    page.get_by_label("Commune or ward").select_option("bl_blao")
    choose(page, "role", "Teacher or school staff")
    page.get_by_label("How many of your children are at school?").fill("3")  # not a parent
    choose(page, "support", "Undecided")
    choose(page, "follow_up", "No")
    page.get_by_label("Phone number").fill("not a number")  # the contact page does not apply
    page.get_by_role("button", name="Submit").click()
    expect_thanks(page, "Thank you!", "en")
    assert only_row(server.database_url, sid) == {
        "consent": "OK",
        "district": "bao_loc",
        "commune": "bl_blao",
        "role": "teacher",
        "support": "undecided",
        "follow_up": "no",
        "concern_count": 0,
    }
