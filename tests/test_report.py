"""The province's quick report (PDF): made from the command line and from the results
page, read back with poppler (pdftotext, pdftoppm), which we did not write; its
figures agree with the results API; hostile survey text is printed as text and makes
the renderer fetch nothing."""

from __future__ import annotations

import copy
import re
import socket
import subprocess
import threading
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa
from markupsafe import Markup

from exports.report_figures import Cover, QuestionSection, ReportFigures
from exports.report_pdf import FONTS, write_report_pdf
from survey_engine.catalog import find_survey, save_definition
from survey_engine.cli import cli
from survey_engine.definition.families import NOT_ASKED
from survey_engine.extensions import db
from survey_engine.figures import Share
from survey_engine.models import AuditEvent, ExportFile, ExportStatus
from survey_engine.results.readings import Words
from survey_engine.results.report import merged_survey
from tests.conftest import DEMO_SLUG, demo_definition, stored_responses
from tests.test_export_files import ANALYST, analyst_client, fake_responses, token

TRAP_PORT = 5321  # a listener that must never be called while a report renders
TITLE_VI = "Khảo sát ý kiến về việc cho học sinh trở lại trường học"


def invoke(app, *args: str):
    return app.test_cli_runner().invoke(cli, list(args))


def pdf_text(path: Path, *pages: int) -> str:
    """pdftotext's reading of the file (of pages first..last when given)."""
    span = ["-f", str(pages[0]), "-l", str(pages[-1])] if pages else []
    result = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", *span, str(path), "-"],
        capture_output=True,
        check=True,
    )
    return result.stdout.decode("utf-8")


def flat(text: str) -> str:
    """Words joined by single spaces: a label wrapped over two lines reads the same."""
    return " ".join(text.split())


def bare(text: str) -> str:
    """Without any white space: pdftotext breaks a long address over two lines."""
    return re.sub(r"\s+", "", text)


def render_pages(path: Path, out: Path) -> list[Path]:
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(path), str(out / "page")], check=True)
    return sorted(out.glob("page-*.png"))


class Trap:
    """A TCP listener on loopback that counts the connections made to it."""

    def __init__(self, port: int = TRAP_PORT) -> None:
        self.calls = 0
        self.server = socket.create_server(("127.0.0.1", port), reuse_port=False)
        self.server.settimeout(0.2)
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopping:
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.calls += 1
            conn.close()

    def close(self) -> None:
        self.stopping = True
        self.thread.join()
        self.server.close()


@pytest.fixture
def trap():
    listener = Trap()
    yield listener
    listener.close()


# -- the demo's report ---------------------------------------------------------------


def test_demo_report_renders_with_every_question_and_the_stored_n(app, tmp_path):
    fake_responses(app, 60)
    output = tmp_path / "bao-cao.pdf"
    result = invoke(app, "report", DEMO_SLUG, "-o", str(output))
    assert result.exit_code == 0, result.output
    n = len(stored_responses())
    assert f"report of {n} responses written to {output}" in result.output
    assert output.read_bytes().startswith(b"%PDF-")

    pages = render_pages(output, tmp_path)  # poppler draws every page
    assert len(pages) >= 3 and all(page.stat().st_size > 1000 for page in pages)

    cover = flat(pdf_text(output, 1))
    assert TITLE_VI in cover  # diacritics intact: the font has every letter
    assert f"{n} câu trả lời trong báo cáo này" in cover  # the n, in Vietnamese
    assert "Bạn đang sống ở huyện/thành phố nào?" in cover  # broken down by district

    text = flat(pdf_text(output))
    merged = merged_survey(find_survey(DEMO_SLUG))
    for question in merged.questions:
        if question.type in NOT_ASKED:
            continue
        assert flat(merged.label(question, "vi")) in text, question.name
    assert "Phương pháp" in text  # the methods box
    assert "Theo Bạn đang sống ở huyện/thành phố nào?" in text  # the breakdown section


def test_a_survey_without_responses_still_gets_its_report(app, tmp_path):
    output = tmp_path / "r.pdf"
    result = invoke(app, "report", DEMO_SLUG, "-o", str(output))
    assert result.exit_code == 0, result.output
    assert "report of 0 responses" in result.output
    text = flat(pdf_text(output))
    assert "0 câu trả lời trong báo cáo này" in text
    assert "Chưa có ai trả lời câu hỏi này." in text


def test_report_figures_agree_with_the_results_api(app, tmp_path):
    fake_responses(app, 80)
    client = analyst_client(app)
    api = client.get(f"/api/v1/surveys/{DEMO_SLUG}/results").get_json()
    output = tmp_path / "r.pdf"
    assert invoke(app, "report", DEMO_SLUG, "-o", str(output), "--lang", "en").exit_code == 0
    text = flat(pdf_text(output))
    support = api["questions"]["support"]
    top = max(support["choices"].values(), key=lambda c: c["of_answered"]["count"])
    share = top["of_answered"]
    expected = (
        f"{share['ratio'] * 100:.1f}% ({share['ci_low'] * 100:.1f}–{share['ci_high'] * 100:.1f}%) "
        f"chose “{top['label']}” (of {support['answered']} who answered)."
    )
    assert expected in text
    assert f"{api['responses']} responses in this report" in text


def test_filters_breakdown_and_english_from_the_command_line(app, tmp_path):
    fake_responses(app, 60)
    output = tmp_path / "r.pdf"
    result = invoke(
        app,
        "report",
        DEMO_SLUG,
        "-o",
        str(output),
        "--filter",
        "district=da_lat",
        "--filter",
        "district=bao_loc",
        "--breakdown",
        "role",
        "--lang",
        "en",
    )
    assert result.exit_code == 0, result.output
    kept = sum(1 for r in stored_responses() if r.answers.get("district") in ("da_lat", "bao_loc"))
    assert f"report of {kept} responses" in result.output
    cover = flat(pdf_text(output, 1))
    assert f"{kept} responses in this report" in cover
    assert "Survey on sending pupils back to school" in cover
    assert "Broken down by You are" in cover
    assert "By You are" in flat(pdf_text(output))

    # One district kept, no breakdown asked for: no breakdown by district (one row).
    result = invoke(app, "report", DEMO_SLUG, "-o", str(output), "--filter", "district=da_lat")
    assert result.exit_code == 0, result.output
    assert "Phân tích theo" not in flat(pdf_text(output, 1))
    assert "Theo Bạn đang sống" not in flat(pdf_text(output))


@pytest.mark.parametrize(
    "args, message",
    [
        (("--filter", "district"), "is not QUESTION=CHOICE"),
        (("--filter", "district=nowhere"), "nowhere"),
        (("--breakdown", "comment"), "breakdown: no select question named 'comment'"),
        (("--lang", "fr"), "'fr' is not one of 'vi', 'en'"),
        (("--from", "2026-13-40"), "2026-13-40"),
    ],
)
def test_bad_options_are_refused_clearly_and_leave_no_file(app, tmp_path, args, message):
    folder = tmp_path / "out"
    folder.mkdir()
    result = invoke(app, "report", DEMO_SLUG, "-o", str(folder / "r.pdf"), *args)
    assert result.exit_code != 0
    assert message in result.output
    assert list(folder.iterdir()) == []


def test_unknown_survey_and_wrong_ending_are_refused(app, tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    result = invoke(app, "report", "khong-co", "-o", str(folder / "r.pdf"))
    assert result.exit_code == 1 and "no survey with slug 'khong-co'" in result.output
    result = invoke(app, "report", DEMO_SLUG, "-o", str(folder / "r.xlsx"))
    assert result.exit_code == 2 and "the file must end in .pdf" in result.output
    assert list(folder.iterdir()) == []


# -- hostile text ---------------------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"
IMAGE = f'<img src="http://127.0.0.1:{TRAP_PORT}/title.png">'
FORMULA = "=HYPERLINK(\"http://127.0.0.1\")"
STYLE = f"<style>@import url(http://127.0.0.1:{TRAP_PORT}/x.css);</style>"


def hostile_definition() -> dict:
    data = copy.deepcopy(demo_definition())
    data["slug"] = "doc-hai"
    data["title"] = {"vi": f"{SCRIPT}{IMAGE} {FORMULA}", "en": "hostile"}
    lists = data["choice_lists"]
    lists["roles"][0]["label"] = {"vi": f"{STYLE}Phụ huynh <b>đậm</b>", "en": "x"}
    return data


def test_hostile_title_and_labels_print_as_text_and_nothing_is_fetched(app, tmp_path, trap):
    survey = save_definition(hostile_definition(), publish=True)
    assert invoke(app, "fake-responses", survey.slug, "--count", "40").exit_code == 0
    output = tmp_path / "r.pdf"
    result = invoke(app, "report", survey.slug, "-o", str(output), "--breakdown", "role")
    assert result.exit_code == 0, result.output
    text = bare(pdf_text(output))
    for shown in (SCRIPT, IMAGE, FORMULA, f"{STYLE}Phụ huynh <b>đậm</b>"):
        assert bare(shown) in text, shown
    assert trap.calls == 0


def test_the_renderer_refuses_every_address_but_its_fonts(tmp_path, trap):
    """Markup that did get in (a chart is trusted markup) still fetches nothing."""
    cover = Cover(
        title="t",
        slug="s",
        first="",
        last="",
        responses=0,
        responses_text="0",
        all_responses_text="0",
        access="",
        weighting="",
        view="",
        left_out_total="",
        left_out=[],
        filters=[],
        breakdown="",
        versions="",
        made_at="",
    )
    planted = Markup(
        f'<img src="http://127.0.0.1:{TRAP_PORT}/a.png"><img src="file:///etc/passwd">'
        f'<link rel="stylesheet" href="http://127.0.0.1:{TRAP_PORT}/b.css">'
    )
    figures = ReportFigures(
        lang="vi",
        cover=cover,
        questions=[QuestionSection("q", "Câu hỏi", "", "Đọc", planted)],
        breakdown=None,
        methods=[],
    )
    refused = write_report_pdf(tmp_path / "r.pdf", figures)
    assert any(url.startswith(f"http://127.0.0.1:{TRAP_PORT}/") for url in refused)
    assert "file:///etc/passwd" in refused
    assert not any(path.as_uri() in refused for path in FONTS.values())
    assert trap.calls == 0
    fonts = subprocess.run(
        ["pdffonts", str(tmp_path / "r.pdf")], capture_output=True, text=True, check=True
    ).stdout
    rows = [line.split() for line in fonts.splitlines()[2:]]
    assert rows and all("DejaVu-Sans" in row[0] for row in rows)  # the fonts of the report
    assert all(row[-5] == "yes" for row in rows)  # embedded


# -- from the results page ------------------------------------------------------------


def test_analyst_makes_the_report_with_one_click_and_downloads_it(app):
    fake_responses(app, 40)
    client = analyst_client(app)
    page = client.get(f"/admin/surveys/{DEMO_SLUG}/results?f.district=da_lat").get_data(
        as_text=True
    )
    form = re.search(
        r'<form method="post" action="([^"]+)"[^>]*id="report-form">(.*?)</form>', page, re.S
    )
    assert form is not None
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form[2]))
    assert fields["fmt"] == "pdf" and fields["f.district"] == "da_lat"
    fields["csrf_token"] = token(client)
    response = client.post(form[1], data=fields)
    assert response.status_code == 303
    export = db.session.scalars(sa.select(ExportFile)).one()
    assert (export.fmt, export.status) == ("pdf", ExportStatus.DONE)
    kept = sum(1 for r in stored_responses() if r.answers.get("district") == "da_lat")
    assert export.rows_done == kept
    download = client.get(f"/admin/exports/{export.id}/download")
    assert download.status_code == 200 and download.mimetype == "application/pdf"
    assert download.data.startswith(b"%PDF-")
    assert re.search(
        r'filename=tro-lai-truong-hoc-\d{8}-\d{4}\.pdf', download.headers["Content-Disposition"]
    )
    audit = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "exported")).all()
    assert any(e.detail.get("kind") == "responses.pdf" and e.actor == ANALYST for e in audit)


def test_anonymous_visitors_get_no_report(app):
    client = app.test_client()
    response = client.post(f"/admin/surveys/{DEMO_SLUG}/exports", data={"fmt": "pdf"})
    assert response.status_code in (302, 400)  # to the sign-in page, or no CSRF token
    assert db.session.scalars(sa.select(ExportFile)).all() == []


# -- the workbook prints well too -------------------------------------------------------


def test_workbook_figures_sheets_print_on_a4_with_their_headers_repeated(app, tmp_path):
    fake_responses(app, 30)
    output = tmp_path / "w.xlsx"
    result = invoke(app, "export", DEMO_SLUG, "-o", str(output), "--breakdown", "district")
    assert result.exit_code == 0, result.output
    book = openpyxl.load_workbook(output)
    expected = {  # sheet (vi) -> (print title rows, columns, landscape)
        "Tổng hợp": ("$1:$3", None, True),
        "Bảng chéo district": ("$1:$5", "$A:$B", True),
        "Từ điển dữ liệu": ("$1:$1", "$A:$A", True),
    }
    for name, (rows, columns, landscape) in expected.items():
        ws = book[name]
        assert int(ws.page_setup.paperSize) == 9, name  # A4
        assert ws.sheet_properties.pageSetUpPr.fitToPage, name
        # One page wide (fitToWidth absent: 1, the schema's default), any number down.
        assert int(ws.page_setup.fitToWidth or 1) == 1, name
        assert int(ws.page_setup.fitToHeight) == 0, name
        assert ws.print_title_rows == rows, name
        assert ws.print_title_cols == columns, name
        assert (ws.page_setup.orientation == "landscape") == landscape, name
        assert "&P" in ws.oddFooter.right.text, name


# -- figures in words ---------------------------------------------------------------------


def test_a_figure_is_written_one_way_in_each_language_with_room_for_a_weighted_one():
    share, weighted = Share(62, 100), Share(60, 100)  # Wilson: 52.2-70.9%, 50.2-69.1%
    assert Words("vi").estimate(share) == "62,0% (52,2–70,9%)"
    assert Words("en").estimate(share) == "62.0% (52.2–70.9%)"
    assert Words("vi").estimate(share, weighted) == (
        "62,0% (52,2–70,9%); có gia quyền 60,0% (50,2–69,1%)"
    )
    assert Words("en").cell(share, weighted) == "62.0%\n52.2–70.9%\nweighted 60.0% (50.2–69.1%)"
    assert Words("vi").estimate(Share(0, 0)) == "–"  # nobody answered: no interval
    assert Words("vi").number(12345) == "12.345" and Words("en").number(12345) == "12,345"
