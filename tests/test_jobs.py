"""Background jobs run by RQ in `survey-engine worker`, or in-process without Redis."""

from __future__ import annotations

import openpyxl
from rq.job import JobStatus

from survey_engine.cli import cli
from survey_engine.queue import enqueue
from tests.conftest import DEMO_SLUG
from workers.main import run_worker


def test_worker_runs_queued_export_and_recount_jobs(buffered_app, tmp_path):
    runner = buffered_app.test_cli_runner()
    assert runner.invoke(cli, ["fake-responses", DEMO_SLUG, "--count", "300"]).exit_code == 0
    out = tmp_path / "queued.xlsx"
    export = enqueue("survey_engine.jobs.export_job", DEMO_SLUG, str(out))
    recount = enqueue("survey_engine.jobs.recount_job", DEMO_SLUG)
    assert export.get_status() == JobStatus.QUEUED and not out.exists()

    run_worker(buffered_app, burst=True)

    assert export.get_status(refresh=True) == JobStatus.FINISHED
    assert export.return_value() == 300
    workbook = openpyxl.load_workbook(out, read_only=True)
    assert workbook["Tổng hợp"]["B2"].value == 300
    result = recount.return_value()
    assert result.responses == 300 and result.differences == []


def test_without_redis_a_job_runs_at_once(app, tmp_path):
    out = tmp_path / "inline.xlsx"
    assert enqueue("survey_engine.jobs.export_job", DEMO_SLUG, str(out)) == 0
    assert out.exists()
