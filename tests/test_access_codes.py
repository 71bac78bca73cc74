"""Closed mode: staff make batches of single-use access codes and download them (CSV,
a PDF of QR cards that pdftoppm renders and a QR decoder we did not write reads, PNG
pages); a citizen answers once per code; the dashboard shows the rate per unit."""

from __future__ import annotations

import csv
import io
import re
import subprocess
import threading
import zipfile
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa
import zxingcpp
from flask import Flask
from PIL import Image

from survey_engine.catalog import save_definition
from survey_engine.extensions import db
from survey_engine.intake.buffer import claims_key
from survey_engine.intake.code_batches import derive_code, written
from survey_engine.models import AccessCode, AccessCodeBatch, AuditEvent, Response, ResponseClaim
from survey_engine.staff.accounts import create_user
from tests.conftest import demo_definition, new_id, valid_answers
from tests.test_admin_surveys import post, signed_in
from tests.test_buffer import drainer_for
from tests.test_public_form import form_data
from tests.test_staff import PASSWORD

SLUG = "ma-truy-cap"
URL = f"/s/{SLUG}"
CODES = f"/admin/surveys/{SLUG}/codes"
EDITOR, ANALYST = "editor@example.org", "analyst@example.org"


def publish_closed(**settings) -> int:
    data = {**demo_definition(), "slug": SLUG}
    data["settings"] = {**data.get("settings", {}), "access": "code", **settings}
    return save_definition(data, publish=True).id


@pytest.fixture
def closed(app):
    publish_closed()
    create_user(EDITOR, PASSWORD, "admin")
    create_user(ANALYST, PASSWORD, "analyst")
    return app


def make_batch(app: Flask, unit: str, size: int) -> AccessCodeBatch:
    staff = signed_in(app, EDITOR)
    reply = post(staff, CODES, {"unit": unit, "size": str(size)})
    assert reply.status_code == 302, reply.get_data(as_text=True)
    db.session.expire_all()
    return db.session.scalars(
        sa.select(AccessCodeBatch).order_by(AccessCodeBatch.id.desc()).limit(1)
    ).one()


def codes(batch: AccessCodeBatch) -> list[str]:
    return [written(derive_code(batch.survey_id, batch.id, i)) for i in range(1, batch.size + 1)]


def link(code: str) -> str:
    return f"http://localhost/s/{SLUG}?code={code}"


def test_a_batch_is_made_listed_audited_and_stores_only_hashes(closed):
    batch = make_batch(closed, "Trường THCS Nguyễn Trãi", 5)
    assert batch.size == 5 and batch.created_by == EDITOR
    rows = db.session.scalars(sa.select(AccessCode).where(AccessCode.batch_id == batch.id)).all()
    assert [r.number for r in rows] == [1, 2, 3, 4, 5]
    plain = {c.replace("-", "") for c in codes(batch)}
    assert len(plain) == 5 and not plain & {r.code_hash for r in rows}  # hashes only
    page = signed_in(closed, EDITOR).get(CODES).get_data(as_text=True)
    assert "Trường THCS Nguyễn Trãi" in page and "0 / 5" in page
    events = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "codes_created")
    ).all()
    assert [(e.survey_slug, e.detail["size"]) for e in events] == [(SLUG, 5)]


@pytest.mark.parametrize(
    ("form", "status"),
    [
        ({"unit": "A", "size": "0"}, 422),
        ({"unit": "A", "size": "5001"}, 422),
        ({"unit": "", "size": "3"}, 422),
        ({"unit": "x" * 101, "size": "3"}, 422),
    ],
)
def test_a_bad_batch_is_refused_and_nothing_is_made(closed, form, status):
    reply = post(signed_in(closed, EDITOR), CODES, form)
    assert reply.status_code == status
    assert db.session.scalar(sa.select(sa.func.count(AccessCodeBatch.id))) == 0


def test_analysts_may_not_see_or_make_codes(closed):
    analyst = signed_in(closed, ANALYST)
    assert analyst.get(CODES).status_code == 403
    assert analyst.get(f"{CODES}/1.csv").status_code == 403


def test_the_csv_has_code_link_and_unit_formula_safe_with_a_bom(closed):
    batch = make_batch(closed, "=HYPERLINK(1)", 3)
    reply = signed_in(closed, EDITOR).get(f"{CODES}/{batch.id}.csv")
    assert reply.status_code == 200 and reply.mimetype == "text/csv"
    body = reply.data
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert len(rows[0]) == 3  # code, link, unit in the staff's language
    assert rows[1:] == [[c, link(c), "'=HYPERLINK(1)"] for c in codes(batch)]
    events = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "codes_downloaded")
    ).all()
    assert [e.detail["format"] for e in events] == ["csv"]


def decoded(png: Path | io.BytesIO) -> list[str]:
    return sorted(r.text for r in zxingcpp.read_barcodes(Image.open(png)))


def test_the_pdf_opens_and_its_qr_codes_are_the_personal_links(closed, tmp_path):
    batch = make_batch(closed, "Xã Lộc An", 14)  # 12 cards on page 1, 2 on page 2
    reply = signed_in(closed, EDITOR).get(f"{CODES}/{batch.id}.pdf")
    assert reply.status_code == 200 and reply.data.startswith(b"%PDF")
    pdf = tmp_path / "codes.pdf"
    pdf.write_bytes(reply.data)
    subprocess.run(["pdftoppm", "-r", "150", "-png", pdf, tmp_path / "page"], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == 2
    expected = sorted(link(c) for c in codes(batch))
    assert sorted(decoded(pages[0]) + decoded(pages[1])) == expected
    assert len(decoded(pages[0])) == 12


def test_png_sheets_one_page_a_png_more_a_zip(closed):
    staff = signed_in(closed, EDITOR)
    small = make_batch(closed, "Lớp 9A", 3)
    reply = staff.get(f"{CODES}/{small.id}.png")
    assert reply.mimetype == "image/png"
    assert decoded(io.BytesIO(reply.data)) == sorted(link(c) for c in codes(small))
    large = make_batch(closed, "Lớp 9B", 13)
    reply = staff.get(f"{CODES}/{large.id}.png")
    assert reply.mimetype == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(reply.data)).namelist()
    assert names == ["page-001.png", "page-002.png"]


def test_a_large_batch_downloads_its_sheets_in_parts(closed):
    batch = make_batch(closed, "Xã Lớn", 601)  # SHEET_PART is 600
    staff = signed_in(closed, EDITOR)
    page = staff.get(CODES).get_data(as_text=True)
    assert f"{batch.id}.pdf?part=2" in page and f"{batch.id}.png?part=2" in page
    reply = staff.get(f"{CODES}/{batch.id}.png", query_string={"part": "2"})
    assert decoded(io.BytesIO(reply.data)) == [link(codes(batch)[600])]  # code 601 alone
    assert staff.get(f"{CODES}/{batch.id}.pdf", query_string={"part": "3"}).status_code == 404
    csv_rows = staff.get(f"{CODES}/{batch.id}.csv").data.decode("utf-8-sig").splitlines()
    assert len(csv_rows) == 602  # the CSV is whole


def test_a_code_answers_once_and_the_response_keeps_only_the_unit(closed):
    batch = make_batch(closed, "Trường Tiểu học Lộc An", 2)
    code = codes(batch)[0]
    citizen = closed.test_client()
    asked = citizen.get(URL)
    assert asked.status_code == 200 and 'name="code"' in asked.get_data(as_text=True)
    made_up = citizen.get(URL, query_string={"code": "ZZZZ-ZZZZ"})
    assert made_up.status_code == 403 and 'name="code"' in made_up.get_data(as_text=True)
    page = citizen.get(URL, query_string={"code": code.lower()})
    assert page.status_code == 200
    assert f'name="access_code" value="{code.replace("-", "")}"' in page.get_data(as_text=True)
    sent = citizen.post(URL, data=form_data(access_code=code))
    assert sent.status_code == 303 and "/thanks" in sent.headers["Location"]
    again = citizen.post(URL, data=form_data(access_code=code))
    assert again.status_code == 409 and 'class="message code_used"' in again.get_data(as_text=True)
    assert citizen.get(URL, query_string={"code": code}).status_code == 409
    assert (
        closed.test_client().post(URL, data=form_data(access_code="ABCD-EFGH")).status_code == 403
    )
    assert closed.test_client().post(URL, data=form_data()).status_code == 403
    (response,) = db.session.scalars(
        sa.select(Response).where(Response.survey_id == batch.survey_id)
    ).all()
    assert response.unit == "Trường Tiểu học Lộc An"
    assert code.replace("-", "") not in str(response.meta)
    used = db.session.scalars(sa.select(AccessCode).where(AccessCode.number == 1)).one()
    assert used.used_at is not None and used.submission_id is None
    # Nothing leads from the code to its answers: its claim holds a random id, and its
    # row only the day it was used (beside submitted_at, the time would point at it).
    claims = db.session.scalars(sa.select(ResponseClaim.submission_id)).all()
    assert len(claims) == 1 and claims[0] != response.submission_id
    assert (used.used_at.hour, used.used_at.minute, used.used_at.second) == (0, 0, 0)


def test_linked_codes_keep_which_code_answered(app):
    survey_id = publish_closed(link_codes=True)
    create_user(EDITOR, PASSWORD, "admin")
    batch = make_batch(app, "Xã Tân Hà", 1)
    submission_id = new_id()
    reply = app.test_client().post(
        f"/api/v1/surveys/{SLUG}/responses",
        json={
            "submission_id": submission_id,
            "answers": valid_answers(),
            "access_code": codes(batch)[0],
        },
    )
    assert reply.status_code == 202
    row = db.session.scalars(sa.select(AccessCode).where(AccessCode.survey_id == survey_id)).one()
    assert str(row.submission_id) == submission_id


def test_the_api_takes_a_code_once_and_refuses_a_made_up_one(closed):
    batch = make_batch(closed, "Xã Đạ Tẻh", 1)
    api = f"/api/v1/surveys/{SLUG}/responses"
    client = closed.test_client()

    def send(code):
        body = {"submission_id": new_id(), "answers": valid_answers(), "access_code": code}
        return client.post(api, json=body).status_code

    assert send("QQQQ-QQQQ") == 403
    assert send(None) == 403
    assert send(codes(batch)[0]) == 202
    assert send(codes(batch)[0]) == 409


def race(app: Flask, code: str, clients: int = 10) -> list[int]:
    """`clients` threads send the same code at once, each with its own submission."""
    statuses: list[int] = []
    start = threading.Barrier(clients)
    data = [form_data(access_code=code) for _ in range(clients)]

    def one(i: int) -> None:
        client = app.test_client()
        start.wait()
        statuses.append(client.post(URL, data=data[i]).status_code)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(statuses)


def stored_count(survey_id: int) -> int:
    db.session.expire_all()
    return db.session.scalar(
        sa.select(sa.func.count(Response.id)).where(Response.survey_id == survey_id)
    )


def test_ten_clients_race_one_code_on_the_database_path(closed):
    batch = make_batch(closed, "Trường A", 1)
    statuses = race(closed, codes(batch)[0])
    assert statuses == [303] + [409] * 9
    assert stored_count(batch.survey_id) == 1


def test_ten_clients_race_one_code_through_redis(buffered_app):
    publish_closed()
    create_user(EDITOR, PASSWORD, "admin")
    batch = make_batch(buffered_app, "Trường B", 1)
    survey_id, (code,) = batch.survey_id, codes(batch)
    statuses = race(buffered_app, code)
    assert statuses == [303] + [409] * 9
    drainer_for(buffered_app).drain_once()
    assert stored_count(survey_id) == 1
    used = db.session.scalars(sa.select(AccessCode)).one()
    assert used.used_at is not None
    stored = db.session.scalars(sa.select(Response.submission_id)).one()
    held = redis.Redis.from_url(buffered_app.config["REDIS_URL"]).hgetall(claims_key(survey_id))
    assert len(held) == 1 and str(stored).encode() not in held.values()
    assert db.session.scalars(sa.select(ResponseClaim.submission_id)).one() != stored
    # Used in Redis and in the database alike: the link now says so at once.
    assert buffered_app.test_client().get(URL, query_string={"code": code}).status_code == 409


def test_the_dashboard_shows_the_response_rate_per_unit(closed):
    first = make_batch(closed, "Trường A", 4)
    make_batch(closed, "Trường B", 2)
    client = closed.test_client()
    for code in codes(first)[:3]:
        assert client.post(URL, data=form_data(access_code=code)).status_code == 303
    page = signed_in(closed, EDITOR).get(f"/admin/surveys/{SLUG}/results")
    html = page.get_data(as_text=True)
    table = re.search(r'<table[^>]*id="unit-rates".*?</table>', html, re.S).group(0)
    cells = [
        re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", table, re.S)
    ]
    assert cells[:4] == ["Trường A", "3", "4", "75.0 %"]
    assert cells[4:8] == ["Trường B", "0", "2", "0.0 %"]
