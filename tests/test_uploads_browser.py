"""A citizen sends a photo in real headless Chromium on a 390 px phone: the page's
script sends the file as soon as it is chosen and only its token with the answers; a
file over the limit is refused before a byte is sent, with the other answers kept; and
without JavaScript the multipart form does the same job. axe-clean; screenshots in
test-artifacts/."""

from __future__ import annotations

import json
import os

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.live_server import demo_site
from tests.test_accessibility import violations
from tests.test_geopoint_browser import ARTIFACTS, DESKTOP, PHONE, browser  # noqa: F401
from tests.test_uploads import SLUG, files_definition, png

pytestmark = pytest.mark.browser

LIMIT = 200_000


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.setenv("UPLOAD_MAX_BYTES", str(LIMIT))  # read by the server it starts
    with demo_site(tmp_path, f"survey_engine_upload_browser_{os.getpid()}") as served:
        definition = tmp_path / "files.json"
        definition.write_text(json.dumps(files_definition()))
        served.cli("import", str(definition), "--publish")
        yield served


def stored(database_url: str, table: str, column: str) -> list:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(f"SELECT {column} FROM {table} ORDER BY id")).all()
    finally:
        engine.dispose()
    return [
        r[0] if not isinstance(r[0], str) or column != "answers" else json.loads(r[0]) for r in rows
    ]


def survey_answers(database_url: str) -> list[dict]:
    return [a for a in stored(database_url, "responses", "answers") if "photo" in a]


def test_a_photo_is_sent_as_soon_as_chosen_and_only_its_token_goes_with_the_answers(
    site,
    browser,  # noqa: F811
):
    page = browser.new_context(**PHONE, base_url=site.base).new_page()
    page.goto(f"/s/{SLUG}")
    photo = page.get_by_label("Ảnh")
    expect(page.get_by_text("Một tệp, tối đa 0,2 MB.").first).to_be_visible()
    assert violations(page) == []
    # Too large: refused by the page before sending, the comment typed stays.
    page.get_by_label("Mô tả").fill("Nước ngập tới gối")
    photo.set_input_files(
        files=[{"name": "to.png", "mimeType": "image/png", "buffer": png(LIMIT + 1)}]
    )
    expect(page.locator("#q-photo-upload")).to_have_text("Tệp quá lớn: tối đa 0,2 MB.")
    assert stored(site.database_url, "uploads", "token") == []
    # A wrong kind: the server's reason, shown at the question.
    photo.set_input_files(
        files=[{"name": "anh.jpg", "mimeType": "image/jpeg", "buffer": b"<html>not a photo</html>"}]
    )
    expect(page.locator("#q-photo-upload")).to_contain_text("Câu hỏi này không nhận loại tệp này.")
    # A good one.
    data = png(50_000)
    photo.set_input_files(files=[{"name": "anh.png", "mimeType": "image/png", "buffer": data}])
    expect(page.locator("#q-photo-upload")).to_have_text("Đã nhận tệp.")
    [token] = stored(site.database_url, "uploads", "token")
    expect(page.locator('input[data-token-for="photo"]')).to_have_value(token)
    assert violations(page) == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "upload-received-390.png"), full_page=True)
    with page.expect_request(lambda r: r.method == "POST" and f"/s/{SLUG}?" in r.url) as sent:
        page.get_by_role("button", name="Gửi").click()
    body = sent.value.post_data or ""
    assert token in body and len(body) < 2_000  # the token, not the photo
    page.wait_for_url("**/thanks**")
    assert survey_answers(site.database_url) == [{"photo": token, "comment": "Nước ngập tới gối"}]


@pytest.mark.parametrize("size", ["390", "1280"])
def test_without_javascript_the_photo_goes_with_the_multipart_form(site, browser, size):  # noqa: F811
    context = browser.new_context(**(PHONE if size == "390" else DESKTOP), base_url=site.base)
    context.route("**/static/*.js*", lambda route: route.abort())
    page = context.new_page()
    page.goto(f"/s/{SLUG}")
    page.get_by_label("Mô tả").fill("Sạt lở ven sông")
    page.get_by_label("Ảnh").set_input_files(
        files=[{"name": "to.png", "mimeType": "image/png", "buffer": png(LIMIT + 5)}]
    )
    page.get_by_role("button", name="Gửi").click()
    expect(page.locator("#error-summary")).to_contain_text("Tệp quá lớn: tối đa 0,2 MB.")
    expect(page.get_by_label("Mô tả")).to_have_value("Sạt lở ven sông")
    assert violations(page) == []
    page.screenshot(path=str(ARTIFACTS / f"upload-too-large-nojs-{size}.png"), full_page=True)
    page.get_by_label("Ảnh").set_input_files(
        files=[{"name": "anh.png", "mimeType": "image/png", "buffer": png(1_000)}]
    )
    page.get_by_role("button", name="Gửi").click()
    page.wait_for_url("**/thanks**")
    [token] = stored(site.database_url, "uploads", "token")
    assert survey_answers(site.database_url) == [{"photo": token, "comment": "Sạt lở ven sông"}]
