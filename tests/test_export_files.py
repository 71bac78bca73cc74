"""Exports made from the staff pages: started, followed with a progress bar, listed with
who made them and when, downloaded, expired; in-process without Redis, and as RQ jobs
in `survey-engine worker` with Redis."""

from __future__ import annotations

import functools
import io
import os
import re
import time
from datetime import timedelta
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa
from flask import g

from survey_engine.catalog import find_survey, save_definition
from survey_engine.cli import cli
from survey_engine.exporting import files as export_files
from survey_engine.exporting import survey_file
from survey_engine.exporting.files import expire_old, path_of, start_export
from survey_engine.exporting.survey_file import ExportOptions
from survey_engine.extensions import db
from survey_engine.localtime import aware, local_text
from survey_engine.models import AuditEvent, ExportFile, ExportStatus, utcnow
from survey_engine.results.responses import response_chunks
from survey_engine.staff.accounts import create_user, find_user, share_survey
from tests.conftest import DEMO_SLUG, demo_definition, stored_responses
from tests.test_staff import PASSWORD, login
from workers.main import run_worker

ANALYST = "phan-tich@example.org"
LIST = f"/admin/surveys/{DEMO_SLUG}/exports"
OTHER_SLUG = "dat-dai"


def fake_responses(app, count: int) -> None:
    result = app.test_cli_runner().invoke(cli, ["fake-responses", DEMO_SLUG, "--count", str(count)])
    assert result.exit_code == 0, result.output


def analyst_client(app, email: str = ANALYST, slug: str = DEMO_SLUG):
    """An analyst the survey is shared with, signed in."""
    share_survey(create_user(email, PASSWORD, "analyst"), find_survey(slug))
    client = app.test_client()
    # The page's words are asserted in English, whatever the Vietnamese catalog says.
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    assert login(client, email).status_code == 302
    return client


def token(client) -> str:
    g.pop("csrf_token", None)
    html = client.get("/admin/logout").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def ask(client, **form) -> object:
    return client.post(LIST, data={"csrf_token": token(client), "fmt": "xlsx", **form})


def only_export() -> ExportFile:
    db.session.expire_all()
    return db.session.scalars(sa.select(ExportFile)).one()


def files_in(app) -> list[str]:
    folder = Path(app.config["EXPORT_DIR"])
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# -- inline mode: the request runs the export ----------------------------------------


def test_inline_export_is_listed_with_who_and_when_and_downloads(app):
    fake_responses(app, 30)
    client = analyst_client(app)

    reply = ask(client, lang="en")

    assert reply.status_code == 303 and reply.headers["Location"].endswith(LIST)
    export = only_export()
    assert (export.status, export.rows_done, export.rows_total) == ("done", 30, 30)
    html = client.get(LIST).get_data(as_text=True)
    assert ANALYST in html
    assert local_text(export.created_at) in html  # Vietnam time, UTC+7 ...
    assert aware(export.created_at).strftime("%Y-%m-%d %H:%M") not in html  # ... not UTC
    assert "<progress" not in html and "exports.js" not in html  # nothing runs
    download = client.get(f"/admin/exports/{export.id}/download")
    assert download.status_code == 200
    stamp = local_text(export.created_at).replace("-", "").replace(" ", "-").replace(":", "")
    assert f'filename={DEMO_SLUG}-{stamp}.xlsx' in download.headers["Content-Disposition"]
    workbook = openpyxl.load_workbook(io.BytesIO(download.data), read_only=True)
    assert len(workbook.sheetnames) >= 2
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "exported")).one()
    assert event.actor == ANALYST and event.survey_slug == DEMO_SLUG
    assert event.detail == {"kind": "responses.xlsx", "rows": 30, "export": export.id}


def test_the_dashboards_filters_and_choices_apply_to_the_export(app):
    fake_responses(app, 40)
    client = analyst_client(app)
    in_da_lat = sum(r.answers.get("district") == "da_lat" for r in stored_responses())
    # The dashboard links to the list with its filters; the form carries them on.
    page = client.get(f"{LIST}?f.district=da_lat").get_data(as_text=True)
    assert 'name="f.district" value="da_lat"' in page

    assert ask(client, fmt="csv", codes="1", **{"f.district": "da_lat"}).status_code == 303

    export = only_export()
    assert export.status == "done" and export.rows_done == in_da_lat < 40
    assert export.options["codes"] is True
    assert export.options["filters"] == [["f.district", "da_lat"]]
    download = client.get(f"/admin/exports/{export.id}/download")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert download.headers["Content-Disposition"].endswith(".csv")


@pytest.mark.parametrize(
    "form, says",
    [
        ({"fmt": "doc"}, "Choose a format"),  # pdf is the quick report
        ({"f.comment": "x"}, "The filters cannot be applied"),
        ({"from": "yesterday"}, "The filters cannot be applied"),
        ({"breakdown": "comment"}, "select question"),
        ({"lang": "fr"}, "no texts in the language fr"),
    ],
)
def test_a_bad_form_is_refused_with_a_message_and_starts_nothing(app, form, says):
    client = analyst_client(app)
    reply = ask(client, **form)
    assert reply.status_code == 400
    assert says in reply.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ExportFile)) == 0


# -- with Redis: an RQ job in the worker ---------------------------------------------


def test_queued_export_runs_in_the_worker_and_reports_progress(buffered_app, monkeypatch):
    fake_responses(buffered_app, 120)
    client = analyst_client(buffered_app)
    monkeypatch.setattr(
        survey_file, "response_chunks", functools.partial(response_chunks, chunk_size=25)
    )
    monkeypatch.setattr(export_files, "PROGRESS_EVERY", 0)
    seen: list[int] = []  # rows_done as another connection (the polling page) sees it
    original = export_files.save_progress

    def watched(export_id: int, rows: int) -> None:
        original(export_id, rows)
        with db.engine.connect() as other:
            seen.append(
                other.scalar(sa.select(ExportFile.rows_done).where(ExportFile.id == export_id))
            )

    monkeypatch.setattr(export_files, "save_progress", watched)

    assert ask(client).status_code == 303
    export = only_export()
    assert export.status == "queued" and not files_in(buffered_app)
    html = client.get(LIST).get_data(as_text=True)
    assert "<progress" in html and "exports.js" in html
    assert f'data-progress="/admin/exports/{export.id}/progress"' in html
    assert client.get(f"/admin/exports/{export.id}/download").status_code == 404
    assert client.get(f"/admin/exports/{export.id}/progress").json == {
        "status": "queued",
        "rows_done": 0,
        "rows_total": 0,
        "percent": 0,
    }

    run_worker(buffered_app, burst=True)

    assert seen == [25, 50, 75, 100, 120]
    export = only_export()
    assert (export.status, export.rows_done, export.rows_total) == ("done", 120, 120)
    assert client.get(f"/admin/exports/{export.id}/progress").json == {
        "status": "done",
        "rows_done": 120,
        "rows_total": 120,
        "percent": 100,
    }
    assert files_in(buffered_app) == [export.path]
    assert export.size == path_of(export).stat().st_size
    download = client.get(f"/admin/exports/{export.id}/download")
    assert download.status_code == 200 and download.data[:2] == b"PK"


@pytest.mark.parametrize("mode", ["inline", "worker"])
def test_a_failed_export_says_why_and_leaves_no_file(request, monkeypatch, mode):
    app = request.getfixturevalue("app" if mode == "inline" else "buffered_app")
    fake_responses(app, 5)
    client = analyst_client(app)

    def half_written(survey, path, *args, **kwargs):
        Path(path).write_bytes(b"PK half a workbook")
        raise OSError("No space left on device")

    monkeypatch.setattr(export_files, "export_survey", half_written)
    assert ask(client).status_code == 303
    if mode == "worker":
        run_worker(app, burst=True)

    export = only_export()
    assert export.status == "failed"
    assert export.error == "OSError: No space left on device"
    assert files_in(app) == []
    assert "No space left on device" in client.get(LIST).get_data(as_text=True)
    assert client.get(f"/admin/exports/{export.id}/download").status_code == 404
    assert client.get(f"/admin/exports/{export.id}/progress").json["status"] == "failed"
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "exported")
        )
        == 0
    )


# -- expiry, lost workers, who may download ------------------------------------------


def test_old_files_expire_when_the_list_is_shown(app):
    client = analyst_client(app)
    assert ask(client).status_code == 303
    export = only_export()
    keep = timedelta(hours=app.config["EXPORT_KEEP_HOURS"])
    assert aware(export.expires_at) - aware(export.finished_at) == keep
    html = client.get(LIST).get_data(as_text=True)
    assert local_text(export.expires_at) in html  # "available until", Vietnam time
    # Leftovers of a killed job: removed once as old as an expired file, not before.
    folder = Path(app.config["EXPORT_DIR"])
    old, young = folder / "export-0ld.xlsx.partial", folder / "export-y0ung.xlsx.partial"
    for leftover in (old, young):
        leftover.write_bytes(b"PK")
    long_ago = time.time() - keep.total_seconds() - 60
    os.utime(old, (long_ago, long_ago))

    export.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    # Past its time, it is not downloadable even before anything has expired it.
    assert client.get(f"/admin/exports/{export.id}/download").status_code == 404
    html = client.get(LIST).get_data(as_text=True)

    assert only_export().status == "expired" and "expired" in html
    assert files_in(app) == [young.name]
    assert client.get(f"/admin/exports/{export.id}/download").status_code == 404


def test_the_worker_expires_old_files_without_anyone_opening_the_page(buffered_app):
    client = analyst_client(buffered_app)
    assert ask(client).status_code == 303
    run_worker(buffered_app, burst=True)
    assert only_export().status == "done" and files_in(buffered_app)

    assert expire_old(utcnow() + timedelta(hours=1)) == 0  # not yet
    export = only_export()
    export.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    run_worker(buffered_app, burst=True)  # RQ's maintenance tick runs at its start

    assert only_export().status == "expired" and files_in(buffered_app) == []


def test_an_export_whose_worker_died_is_shown_failed(app):
    client = analyst_client(app)
    survey, user = find_survey(DEMO_SLUG), find_user(ANALYST)
    started = {
        "lost": utcnow() - timedelta(seconds=export_files.JOB_TIMEOUT + 120),
        "busy": utcnow() - timedelta(minutes=5),
    }
    for name, at in started.items():
        db.session.add(
            ExportFile(
                survey_id=survey.id,
                requested_by_id=user.id,
                requested_by=user.email,
                status=ExportStatus.RUNNING,
                fmt="xlsx",
                options={},
                rows_done=10,
                rows_total=100,
                path=f"export-{name}.xlsx",
                started_at=at,
            )
        )
    db.session.commit()
    lost, busy = db.session.scalars(sa.select(ExportFile.id).order_by(ExportFile.id))

    assert client.get(f"/admin/exports/{lost}/progress").json["status"] == "failed"
    html = client.get(LIST).get_data(as_text=True)

    db.session.expire_all()
    assert db.session.get(ExportFile, lost).error == export_files.STOPPED
    assert export_files.STOPPED in html
    assert db.session.get(ExportFile, busy).status == "running"
    assert client.get(f"/admin/exports/{busy}/progress").json == {
        "status": "running",
        "rows_done": 10,
        "rows_total": 100,
        "percent": 10,
    }


def test_another_surveys_staff_cannot_see_or_download_its_exports(app):
    start_export(
        find_survey(DEMO_SLUG), create_user("a@example.org", PASSWORD, "admin"), ExportOptions()
    )
    export = only_export()
    save_definition({**demo_definition(), "slug": OTHER_SLUG}, publish=True)
    outsider = analyst_client(app, "khac@example.org", OTHER_SLUG)

    for url in (
        LIST,
        f"/admin/exports/{export.id}/progress",
        f"/admin/exports/{export.id}/download",
    ):
        assert outsider.get(url).status_code == 403, url
    assert outsider.get("/admin/exports/999999/download").status_code == 404
    g.pop("_login_user", None)  # the clients share the test's app context
    assert app.test_client().get(f"/admin/exports/{export.id}/download").status_code == 302


def test_deleting_a_survey_deletes_its_export_files(app):
    fake_responses(app, 3)
    admin = app.test_client()
    create_user("a@example.org", PASSWORD, "admin")
    assert login(admin, "a@example.org").status_code == 302
    assert ask(admin).status_code == 303
    assert files_in(app)
    page = f"/admin/surveys/{DEMO_SLUG}"
    assert admin.post(f"{page}/close", data={"csrf_token": token(admin)}).status_code == 302

    reply = admin.post(
        f"{page}/delete", data={"csrf_token": token(admin), "confirm_slug": DEMO_SLUG}
    )

    assert reply.status_code == 302
    assert files_in(app) == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ExportFile)) == 0
