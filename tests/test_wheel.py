"""Finding 13 of issue 10: the wheel carries everything the app needs to serve.

An editable install reads templates, static files, translations and migrations from
the checkout, so it hides a wheel without them (it served a 500 on every page). This
test builds the wheel from a copy of the tree, installs it into a new virtualenv in a
temporary folder outside the checkout, and from there seeds the demo, serves the
questionnaire, signs in to a staff page and downloads an export.

The new virtualenv borrows the dependencies (Flask, pandas ...) from the project's
virtualenv through a path line, so no download happens; survey_engine itself is
imported from the installed wheel only, which the test asserts.
"""

from __future__ import annotations

import http.cookiejar
import io
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

import openpyxl
import pytest

from tests.conftest import BACKEND, DEMO_SLUG, fresh_postgres_database
from tests.live_server import free_port

REPOSITORY = Path(__file__).resolve().parent.parent
PYTHON = Path(sys.executable)
COPY_IGNORED = shutil.ignore_patterns(
    ".git",
    ".venv",
    "node_modules",
    "instance",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    "test-artifacts",
)


def run(*command, **options) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(part) for part in command],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
        **options,
    )


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory) -> Path:
    """A new virtualenv with the project's wheel installed; returns its bin/ folder."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    shutil.copytree(REPOSITORY, source, symlinks=True, ignore=COPY_IGNORED)
    run(
        PYTHON,
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--no-deps",
        "--no-build-isolation",
        "-w",
        work / "dist",
        source,
    )
    wheel = next((work / "dist").glob("survey_engine-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for needed in (
        "survey_engine/templates/public/survey.html",
        "survey_engine/templates/admin/login.html",
        "survey_engine/static/survey.css",
        "survey_engine/translations/vi/LC_MESSAGES/messages.mo",
        "survey_engine/migrations/env.py",
        "survey_engine/demo/tro-lai-truong-hoc.json",
        "survey_engine/definition/data/divisions-pre2025.json.gz",  # localities before 2025
        "survey_engine/templates/report/report.html",
    ):
        assert needed in names, f"{needed} missing from the wheel"

    venv = work / "venv"
    run(PYTHON, "-m", "venv", "--without-pip", venv)
    run(
        PYTHON,
        "-m",
        "pip",
        "--python",
        venv / "bin" / "python",
        "install",
        "--quiet",
        "--no-deps",
        wheel,
    )
    new_site = Path(
        run(
            venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"
        ).stdout.strip()
    )
    # The dependencies, not the project: a bare path line runs no .pth file of that
    # folder, so the checkout's editable-install hook stays out.
    (new_site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return venv / "bin"


def wheel_env(database_url: str, work: Path) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "REDIS_URL", "FLASK_APP")
    }
    return {
        **env,
        "DATABASE_URL": database_url,
        "EXPORT_DIR": str(work / "exports"),
        "PYTHONUNBUFFERED": "1",
        "SECRET_KEY": "wheel-test",
    }


class Browser:
    """Cookies and CSRF tokens over plain HTTP, as a browser without JS would."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}),
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
        )

    def get(self, path: str) -> tuple[int, bytes, dict]:
        with self.opener.open(self.base + path, timeout=30) as reply:
            return reply.status, reply.read(), dict(reply.headers)

    def post_form(self, path: str, fields: dict) -> tuple[int, bytes]:
        token = re.search(rb'name="csrf_token" value="([^"]+)"', self.get(path)[1])
        body = urllib.parse.urlencode({**fields, "csrf_token": token.group(1)}).encode()
        with self.opener.open(self.base + path, data=body, timeout=60) as reply:
            return reply.status, reply.read()


def test_finding13_the_installed_wheel_serves_the_questionnaire_staff_pages_and_exports(
    installed_wheel, tmp_path
):
    bin_dir = installed_wheel
    where = run(
        bin_dir / "python",
        "-c",
        "import survey_engine; print(survey_engine.__file__)",
        cwd=tmp_path,
    ).stdout.strip()
    assert Path(where).is_relative_to(bin_dir.parent), where  # the wheel, not the checkout

    if BACKEND == "postgresql":
        name = f"survey_engine_wheel_{os.getpid()}"
        database_url = fresh_postgres_database(name)
    else:
        database_url = f"sqlite:///{tmp_path / 'wheel.sqlite3'}"
    env = wheel_env(database_url, tmp_path)
    cli = bin_dir / "survey-engine"
    seeded = run(cli, "demo", cwd=tmp_path, env=env).stdout
    password = re.search(r"password: (\S+)", seeded).group(1)
    run(cli, "fake-responses", DEMO_SLUG, "--count", "25", cwd=tmp_path, env=env)
    # The quick report's template and the catalogs it is written with come from the wheel.
    run(cli, "report", DEMO_SLUG, "-o", tmp_path / "bao-cao.pdf", cwd=tmp_path, env=env)
    assert (tmp_path / "bao-cao.pdf").read_bytes().startswith(b"%PDF-")

    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [cli, "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    browser = Browser(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                browser.get("/healthz")
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, (
                    tmp_path / "serve.log"
                ).read_text()
                time.sleep(0.2)

        status, page, _ = browser.get(f"/s/{DEMO_SLUG}")
        html = page.decode()
        assert status == 200 and 'name="submission_id"' in html
        assert "cho học sinh trở lại trường học" in html  # the Vietnamese questionnaire
        stylesheet = re.search(r'href="(/static/survey\.css[^"]*)"', html).group(1)
        assert browser.get(stylesheet.replace("&amp;", "&"))[0] == 200

        status, page = browser.post_form(
            "/admin/login", {"email": "admin@example.org", "password": password}
        )
        assert status == 200 and DEMO_SLUG.encode() in page  # the staff overview
        assert "Đăng xuất".encode() in page  # in Vietnamese: translations shipped

        exports = f"/admin/surveys/{DEMO_SLUG}/exports"
        status, page = browser.post_form(exports, {"fmt": "xlsx"})
        link = re.search(rb'href="(/admin/exports/\d+/download)"', page).group(1).decode()
        status, body, headers = browser.get(link)
        assert status == 200 and ".xlsx" in headers["Content-Disposition"]
        workbook = openpyxl.load_workbook(io.BytesIO(body), read_only=True)
        responses = workbook[
            next(n for n in workbook.sheetnames if "respon" in n.lower() or "trả lời" in n.lower())
        ]
        assert responses.max_row == 26  # the header and the 25 responses
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()
        if BACKEND == "postgresql":
            fresh_postgres_database(name, create=False)
