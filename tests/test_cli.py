"""The survey-engine command, as staff run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from survey_engine.cli import cli
from survey_engine.config import database_url
from survey_engine.extensions import db
from survey_engine.models import Survey, SurveyVersion
from tests.conftest import demo_definition

COMMAND = str(Path(sys.executable).parent / "survey-engine")


def invoke(app, *args):
    return app.test_cli_runner().invoke(cli, list(args))


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_console_script_creates_schema_and_demo_on_a_fresh_database(empty_database_url):
    env = {**os.environ, "DATABASE_URL": empty_database_url}
    init = subprocess.run([COMMAND, "init-db"], env=env, capture_output=True, text=True)
    assert init.returncode == 0, init.stderr
    for _ in range(2):  # the demo is idempotent
        demo = subprocess.run(
            [COMMAND, "demo", "--port", "8123"], env=env, capture_output=True, text=True
        )
        assert demo.returncode == 0, demo.stderr
        assert "http://127.0.0.1:8123/s/tro-lai-truong-hoc" in demo.stdout
    engine = sa.create_engine(database_url(env["DATABASE_URL"]))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM surveys")).scalar() == 1
        assert conn.execute(sa.text("SELECT count(*) FROM survey_versions")).scalar() == 1
    engine.dispose()


def test_import_prints_the_slug_and_publishes_versions(app, client, tmp_path):
    data = {**demo_definition(), "slug": "dat-dai"}
    result = invoke(app, "import", str(write_json(tmp_path / "s.json", data)))
    assert result.exit_code == 0 and result.output.strip() == "dat-dai"
    assert client.get("/api/v1/surveys/dat-dai").status_code == 404  # a draft until published

    result = invoke(app, "import", str(write_json(tmp_path / "s.json", data)), "--publish")
    assert result.exit_code == 0
    assert client.get("/api/v1/surveys/dat-dai").get_json()["version"] == 1

    data["title"] = {"vi": "Khảo sát về quản lý đất đai"}
    invoke(app, "import", str(write_json(tmp_path / "s.json", data)), "--publish")
    invoke(app, "import", str(write_json(tmp_path / "s.json", data)), "--publish")
    reply = client.get("/api/v1/surveys/dat-dai").get_json()
    assert reply["version"] == 2 and reply["definition"]["title"]["vi"].endswith("đất đai")
    survey = db.session.scalar(sa.select(Survey).where(Survey.slug == "dat-dai"))
    assert [v.number for v in survey.versions] == [1, 2]


def test_import_lists_every_problem_and_stores_nothing(app, tmp_path):
    data = {**demo_definition(), "slug": "Sai Slug", "format": "x"}
    data["pages"][0]["questions"][3]["choices"] = "khong_co"  # district
    result = invoke(app, "import", str(write_json(tmp_path / "bad.json", data)))
    assert result.exit_code == 1
    assert "3 problem(s)" in result.output
    assert "pages[0].questions[3].choices: unknown choice list 'khong_co'" in result.output
    assert "Traceback" not in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Survey)) == 1  # demo only


def test_import_refuses_broken_json_and_xlsform_clearly(app, tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "survey-engine/1",\n "slug": }', encoding="utf-8")
    result = invoke(app, "import", str(broken))
    assert result.exit_code != 0
    assert "not valid JSON" in result.output and "line 2" in result.output
    xlsx = tmp_path / "form.xlsx"
    xlsx.write_bytes(b"PK")
    result = invoke(app, "import", str(xlsx))
    assert result.exit_code != 0 and "not an XLSForm workbook (.xlsx)" in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SurveyVersion)) == 1


def test_fake_responses_needs_a_published_survey(app):
    result = invoke(app, "fake-responses", "khong-co", "--count", "5")
    assert result.exit_code != 0 and "no published survey" in result.output
