"""A file question's answer is a link staff can open, in every place the responses
leave: the workbook, the CSV, the SPSS and Stata files (made by the worker, which has
no request of its own: the address the export was asked at is kept with it), and the
data API's JSON and CSV. The link, followed by a signed-in analyst of the survey, gives
the stored file; anyone else is refused."""

from __future__ import annotations

import csv
import io
import uuid

import openpyxl
import pyreadstat
import pytest

from survey_engine.catalog import find_survey, save_definition
from survey_engine.intake.persist import persist_batch
from survey_engine.intake.submission import Submission
from survey_engine.staff.accounts import create_token, create_user, share_survey
from tests.conftest import buffered
from tests.test_export_files import token as csrf
from tests.test_staff import PASSWORD, login
from tests.test_uploads import (
    LIMIT,
    SLUG,
    files_definition,
    photo_with_gps,
    stored_bytes,
    upload,
)
from workers.main import run_worker

ANALYST = "phantich@example.org"
EXPORTS = f"/admin/surveys/{SLUG}/exports"
RESPONSES_SHEET = "Phiếu trả lời"
# No STAFF_BASE_URL: the test client's requests come to http://localhost.
SITE = "http://localhost"


@pytest.fixture
def queued(database_url, redis_client, tmp_path):
    """Exports queued for the worker, as in production; no STAFF_BASE_URL set."""
    yield from buffered(database_url, tmp_path, UPLOAD_MAX_BYTES=LIMIT)


@pytest.fixture
def answered(queued):
    """A response with a photo (its token stored as the answer) and no voice note."""
    save_definition(files_definition(), publish=True)
    photo = upload(queued.test_client(), "photo", photo_with_gps("JPEG"), "anh.jpg")
    assert photo.status_code == 201, photo.get_json()
    token = photo.get_json()["token"]
    survey = find_survey(SLUG)
    answers = {"photo": token, "comment": "Ngập sâu"}
    version_id = survey.published_version().id
    persist_batch([Submission(survey.id, version_id, uuid.uuid4(), answers, source="api")])
    return token


def analyst(app):
    user = create_user(ANALYST, PASSWORD, "analyst")
    share_survey(user, find_survey(SLUG))
    client = app.test_client()
    assert login(client, ANALYST).status_code == 302
    return user, client


def exported(client, app, fmt: str) -> bytes:
    """The file of one export asked on the staff page and made by the worker."""
    asked = client.post(EXPORTS, data={"csrf_token": csrf(client), "fmt": fmt})
    assert asked.status_code == 303
    run_worker(app, burst=True)
    page = client.get(EXPORTS).get_data(as_text=True)
    export_id = page.split("/admin/exports/")[1].split("/download")[0]
    download = client.get(f"/admin/exports/{export_id}/download")
    assert download.status_code == 200
    return download.data


def workbook_link(data: bytes) -> tuple[str, str]:
    """The photo cell of the responses sheet: its value and openpyxl's data type."""
    sheet = openpyxl.load_workbook(io.BytesIO(data))[RESPONSES_SHEET]
    header = [cell.value for cell in sheet[1]]
    cell = sheet.cell(row=2, column=header.index("photo") + 1)
    return cell.value, cell.data_type


def data_file_link(data: bytes, fmt: str, tmp_path) -> str:
    path = tmp_path / f"out.{fmt}"
    path.write_bytes(data)
    read = pyreadstat.read_sav if fmt == "sav" else pyreadstat.read_dta
    frame, _ = read(str(path))
    return frame["photo"][0]


def test_every_export_and_the_data_api_link_the_file_and_the_link_gives_it(
    queued, answered, tmp_path
):
    token = answered
    link = f"{SITE}/admin/surveys/{SLUG}/uploads/{token}"
    user, staff = analyst(queued)

    value, kind = workbook_link(exported(staff, queued, "xlsx"))
    assert (value, kind) == (link, "s")  # text, never a formula
    rows = list(csv.DictReader(io.StringIO(exported(staff, queued, "csv").decode("utf-8-sig"))))
    assert rows[0]["photo"] == link and rows[0]["voice"] == ""
    for fmt in ("sav", "dta"):
        assert data_file_link(exported(staff, queued, fmt), fmt, tmp_path) == link

    bearer = {"Authorization": f"Bearer {create_token(user)}"}
    api = f"/api/v1/surveys/{SLUG}/responses"
    [row] = staff.get(api, headers=bearer).get_json()["responses"]
    assert row["answers"] == {"photo": link, "comment": "Ngập sâu"}
    as_csv = staff.get(api, headers={**bearer, "Accept": "text/csv"})
    assert list(csv.DictReader(io.StringIO(as_csv.get_data(as_text=True))))[0]["photo"] == link

    path = link.removeprefix(SITE)
    download = staff.get(path)
    assert download.status_code == 200
    assert download.data == stored_bytes(token)  # the photo as stored (no GPS left)
    assert download.headers["Content-Type"] == "image/jpeg"


def test_the_link_refuses_whoever_may_not_see_the_survey(queued, answered):
    path = f"/admin/surveys/{SLUG}/uploads/{answered}"
    assert queued.test_client().get(path).status_code == 302  # to the sign-in page
    other = create_user("khac@example.org", PASSWORD, "analyst")  # not shared with
    outsider = queued.test_client()
    assert login(outsider, "khac@example.org").status_code == 302
    assert outsider.get(path).status_code == 403
    # Nor through the data API: a token reads only the surveys shared with its owner.
    bearer = {"Authorization": f"Bearer {create_token(other)}"}
    assert outsider.get(f"/api/v1/surveys/{SLUG}/responses", headers=bearer).status_code == 404
