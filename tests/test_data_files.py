"""SPSS, Stata and R files of the demo read back by readers we did not write: every
value compared with the stored responses (not with our writer's own output), with the
labels, the two missing values, dates and Vietnamese text; hostile text stays inert.

Readers: pyreadstat (ReadStat) for .sav and .dta, GNU PSPP for .sav, pandas' own Stata
reader and R's readstata13 for .dta (PSPP reads no Stata files), R for the R script
(Debian's pspp, r-base-core and r-cran-readstata13: `make debian-tools`)."""

from __future__ import annotations

import csv
import io
import math
import shutil
import subprocess
import uuid
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest
import sqlalchemy as sa

from exports.data_columns import DATE_NOT_ANSWERED, DATE_NOT_ASKED, NOT_ANSWERED, NOT_ASKED
from survey_engine.extensions import db
from survey_engine.localtime import to_local
from survey_engine.models import Response
from tests.conftest import DEMO_SLUG, demo_definition, new_id, stored_responses, valid_answers

FAKES = 400
DEFINITION = demo_definition()
LISTS = DEFINITION["choice_lists"]
QUESTIONS = {q["name"]: q for page in DEFINITION["pages"] for q in page["questions"]}
CONCERNS = [c["name"] for c in LISTS["concerns"]] + ["other"]
LEVELS = [c["name"] for c in LISTS["levels"]]
ROWS = ["masks", "half_classes", "testing"]
# The demo's variables, written out by hand: the rule for names (legal, unique; the
# hidden question "source" meets the meta column "source", the flag concerns/other
# the text concerns_other) is part of what is tested.
SELECT_ONE = ["district", "commune", "role", "support", "follow_up"]
NUMBERS = ["children", "school_rating", "recommend"]
TEXTS = ["consent", "levels", "concerns", "priorities", "concern_count", "phone", "email"]
TEXTS += ["comment", "source_2", "concerns_other_2"]
# The columns that hold text in the files (answers and meta alike).
STRINGS = {*TEXTS, "submission_id", "source", "status", "flags", "unit", "device_class"}
STRINGS |= {"browser", "network_key", "device_hash"}
HOSTILE = ['=cmd|" /C calc"!A0', "+1", "@SUM(A1)", "-2+3", "a\x01b\x1bc\x7fd", "Lâm Đồng ✓ 😀"]
WORDS = {
    "not_asked": "Không hỏi (bỏ qua theo logic của bảng hỏi)",
    "not_answered": "Không trả lời",
}


def run_cli(app, *args):
    from survey_engine.cli import cli

    result = app.test_cli_runner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def filled(app, client):
    """The demo with fake responses, and some through the API with hostile text."""
    run_cli(app, "fake-responses", DEMO_SLUG, "--count", str(FAKES), "--seed", "11")
    for text in HOSTILE:
        answers = {**valid_answers(), "comment": text, "concerns": ["other"]}
        answers["concerns_other"] = text
        reply = client.post(
            f"/api/v1/surveys/{DEMO_SLUG}/responses",
            json={"submission_id": new_id(), "answers": answers},
        )
        assert reply.status_code == 202, reply.get_json()
    return app


# -- what each variable must hold, from the stored answers and the demo's own logic ----


def asked(answers: dict) -> set[str]:
    """The demo's relevance, written out by hand (not the product's evaluator)."""
    role = answers.get("role")
    names = set(QUESTIONS) - {"children", "levels", "priorities", "last_dose"}
    names -= {"phone", "email", "comment"}
    if role == "parent":
        names.add("children")
        if (answers.get("children") or 0) > 0:
            names.add("levels")
    if answers.get("support") != "no":
        names.add("priorities")
    if role in ("parent", "pupil"):
        names.add("last_dose")
    if answers.get("follow_up") == "yes":
        names |= {"phone", "email", "comment"}
    return names


def code(list_name: str, choice: str) -> int:
    return [c["name"] for c in LISTS[list_name]].index(choice) + 1


def expected(response: Response) -> dict:
    """{variable: value}: numbers as floats, dates as date, text as str; a question's
    empty numeric cell "not_asked" or "not_answered"."""
    a = response.answers
    on = asked(a)

    def missing(question: str) -> str:
        return "not_asked" if question not in on else "not_answered"

    out: dict = {
        "response_id": float(response.id),
        "submission_id": str(response.submission_id),
        "submitted_at": to_local(response.submitted_at).replace(tzinfo=None),
        "version": 1.0,
        "source": response.source,
        "status": response.status,
    }
    for name in SELECT_ONE:
        value = a.get(name)
        out[name] = (
            missing(name) if value is None else float(code(QUESTIONS[name]["choices"], value))
        )
    for name in NUMBERS:
        value = a.get(name)
        out[name] = missing(name) if value is None else float(value)
    for name, choices in (("levels", LEVELS), ("concerns", CONCERNS)):
        picked = a.get(name)
        for choice in choices:
            out[f"{name}_{choice}"] = missing(name) if picked is None else float(choice in picked)
    matrix = a.get("measures") or {}
    for row in ROWS:
        value = matrix.get(row)
        out[f"measures_{row}"] = (
            missing("measures") if value is None else float(code("agreement", value))
        )
    dose = a.get("last_dose")
    out["last_dose"] = missing("last_dose") if dose is None else date.fromisoformat(dose)
    texts = {
        "consent": a.get("consent"),
        "levels": "; ".join(a.get("levels") or []),
        "concerns": "; ".join(a.get("concerns") or []),
        "priorities": "; ".join(a.get("priorities") or []),
        "concern_count": a.get("concern_count"),
        "source_2": a.get("source"),
        "concerns_other_2": a.get("concerns_other"),
        "phone": a.get("phone"),
        "email": a.get("email"),
        "comment": a.get("comment"),
    }
    out |= {name: "" if value is None else str(value) for name, value in texts.items()}
    return out


def close(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-9)
    if isinstance(a, datetime) and isinstance(b, datetime):
        return abs(a - b) < timedelta(milliseconds=1)
    return a == b


def compare(rows: list[dict], responses: list[Response], missing: dict) -> None:
    """Each file row against its stored response; `missing` spells the two missing
    values as the reader gives them."""
    assert len(rows) == len(responses)
    for row, response in zip(rows, responses, strict=True):
        for name, want in expected(response).items():
            want = (
                missing.get(want, want) if isinstance(want, str) and name not in STRINGS else want
            )
            got = row[name]
            assert close(got, want), (response.id, name, got, want)


# -- SPSS ---------------------------------------------------------------------------


def test_sav_read_by_pyreadstat_holds_every_stored_value_with_labels(filled, tmp_path):
    out = tmp_path / "demo.sav"
    run_cli(filled, "export", DEMO_SLUG, "-o", str(out))  # the format from the ending
    frame, meta = pyreadstat.read_sav(str(out), user_missing=True)
    responses = stored_responses()
    assert len(responses) == FAKES + len(HOSTILE)
    rows = [_plain_row(row, meta) for row in frame.to_dict("records")]
    compare(rows, responses, {"not_asked": NOT_ASKED, "not_answered": NOT_ANSWERED})

    labels = meta.column_names_to_labels
    assert labels["district"] == "Bạn đang sống ở huyện/thành phố nào?"
    assert labels["levels_primary"] == "Con bạn đang học cấp nào?: Tiểu học"
    assert (
        labels["measures_masks"] == "Bạn có đồng ý với các biện pháp sau?: Đeo khẩu trang trong lớp"
    )
    district = meta.variable_value_labels["district"]
    assert district[1.0] == "Thành phố Đà Lạt" and len(district) == len(LISTS["districts"]) + 2
    assert district[NOT_ASKED] == WORDS["not_asked"]
    assert district[NOT_ANSWERED] == WORDS["not_answered"]
    assert meta.variable_value_labels["concerns_other"] == {
        0.0: "Không chọn",
        1.0: "Có chọn",
        NOT_ASKED: WORDS["not_asked"],
        NOT_ANSWERED: WORDS["not_answered"],
    }
    for name in SELECT_ONE:  # every choice list, every choice
        choices = LISTS[QUESTIONS[name]["choices"]]
        assert {meta.variable_value_labels[name][float(i + 1)] for i in range(len(choices))} == {
            c["label"]["vi"] if isinstance(c["label"], dict) else c["label"] for c in choices
        }
    ranges = meta.missing_ranges["children"]
    assert {(r["lo"], r["hi"]) for r in ranges} == {(NOT_ASKED, NOT_ASKED), (NOT_ANSWERED,) * 2}
    assert meta.original_variable_types["last_dose"] == "SDATE10"
    assert meta.original_variable_types["submitted_at"].startswith("DATETIME")
    assert meta.file_encoding == "UTF-8"


def _plain_row(row: dict, meta) -> dict:
    out = {}
    for name, value in row.items():
        if isinstance(value, float) and math.isnan(value):
            value = None
        if name == "last_dose" and isinstance(value, date | datetime):
            # a missing code read as the date it would be (SPSS dates are numbers)
            day = value.date() if isinstance(value, datetime) else value
            seconds = (day - date(1582, 10, 14)).days * 86_400.0
            value = {DATE_NOT_ASKED: NOT_ASKED, DATE_NOT_ANSWERED: NOT_ANSWERED}.get(seconds, day)
        out[name] = value
    return out


def pspp_csv(sav: Path, tmp_path: Path, cells: str) -> list[dict]:
    """The .sav through GNU PSPP: its values (or value labels) as CSV."""
    pspp = shutil.which("pspp")
    assert pspp, "GNU PSPP is needed (Debian's pspp: make debian-tools)"
    out = tmp_path / f"pspp-{cells}.csv"
    syntax = tmp_path / f"read-{cells}.sps"
    syntax.write_text(
        f"GET FILE='{sav}'.\n"
        f"SAVE TRANSLATE /OUTFILE='{out}' /TYPE=CSV /FIELDNAMES /CELLS={cells}"
        " /MISSING=IGNORE /REPLACE.\n",
        "utf-8",
    )
    subprocess.run(
        [pspp, "-O", "format=csv", "-o", str(tmp_path / "log.csv"), str(syntax)], check=True
    )
    with open(out, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def pspp_labels(sav: Path, tmp_path: Path) -> dict[str, str]:
    syntax = tmp_path / "labels.sps"
    syntax.write_text(f"GET FILE='{sav}'.\nDISPLAY LABELS.\n", "utf-8")
    log = tmp_path / "labels.csv"
    subprocess.run(["pspp", "-O", "format=csv", "-o", str(log), str(syntax)], check=True)
    lines = log.read_text("utf-8").splitlines()
    return {row[0]: row[2] for row in csv.reader(lines[2:]) if len(row) == 3}


def test_sav_read_by_gnu_pspp_holds_every_stored_value_and_label(filled, tmp_path):
    out = tmp_path / "demo.sav"
    run_cli(filled, "export", DEMO_SLUG, "-o", str(out), "--format", "sav")
    responses = stored_responses()
    values = pspp_csv(out, tmp_path, "VALUES")
    rows = []
    for row in values:
        typed: dict = {}
        for name, text in row.items():
            text = text if name in STRINGS else text.strip()
            if name in STRINGS:
                typed[name] = text
            elif name in ("submitted_at", "started_at"):
                typed[name] = datetime.strptime(text, "%m/%d/%Y %H:%M:%S") if text else None
            elif name == "last_dose":
                # PSPP cannot show a missing code as a date: those cells come out empty
                typed[name] = datetime.strptime(text, "%m/%d/%Y").date() if text else None
            else:
                typed[name] = float(text) if text else None
        rows.append(typed)
    assert len(rows) == len(responses)
    missing = {"not_asked": NOT_ASKED, "not_answered": NOT_ANSWERED}
    for row, response in zip(rows, responses, strict=True):
        for name, want in expected(response).items():
            got = row[name]
            if name == "submitted_at":  # PSPP shows whole seconds
                assert abs(got - want) < timedelta(seconds=1), (response.id, got, want)
                continue
            if name == "last_dose" and isinstance(want, str):
                assert got is None
                continue
            if isinstance(want, str) and name not in STRINGS:
                want = missing[want]
            assert close(got, want), (response.id, name, got, want)

    labelled = pspp_csv(out, tmp_path, "LABELS")
    for row, response in zip(labelled, responses, strict=True):
        a = response.answers
        district = next(c for c in LISTS["districts"] if c["name"] == a["district"])
        assert row["district"] == district["label"]["vi"]
        assert row["children"] in (
            (WORDS["not_asked"],)
            if "children" not in asked(a)
            else (WORDS["not_answered"], str(a.get("children")))
        )
        assert row["comment"] == (a.get("comment") or "")
    variable_labels = pspp_labels(out, tmp_path)
    assert variable_labels["district"] == "Bạn đang sống ở huyện/thành phố nào?"
    assert variable_labels["concerns_other_2"].endswith(": Khác (ghi rõ)")


# -- Stata --------------------------------------------------------------------------


def test_dta_read_by_pyreadstat_and_pandas_holds_every_stored_value_with_labels(filled, tmp_path):
    out = tmp_path / "demo.dta"
    run_cli(filled, "export", DEMO_SLUG, "-o", str(out))
    frame, meta = pyreadstat.read_dta(str(out), user_missing=True)
    responses = stored_responses()
    rows = []
    for record in frame.to_dict("records"):
        row = {}
        for name, value in record.items():
            if isinstance(value, float) and math.isnan(value):
                value = None
            elif isinstance(value, int | float) and not isinstance(value, bool):
                value = float(value)
            row[name] = value
        rows.append(row)
    compare(rows, responses, {"not_asked": "a", "not_answered": "b"})
    assert meta.column_names_to_labels["district"] == "Bạn đang sống ở huyện/thành phố nào?"
    district = meta.variable_value_labels["district"]
    assert district[1] == "Thành phố Đà Lạt"
    assert district["a"] == WORDS["not_asked"] and district["b"] == WORDS["not_answered"]
    assert meta.missing_user_values["children"] == ["a", "b"]
    assert meta.original_variable_types["last_dose"] == "%td"

    # pandas' own Stata reader (not ReadStat): the same values, labels and .a/.b
    reader = pd.io.stata.StataReader(
        out, convert_categoricals=False, convert_dates=False, convert_missing=True
    )
    with reader:
        frame = reader.read()
        value_labels, variable_labels = reader.value_labels(), reader.variable_labels()
    epoch = datetime(1960, 1, 1)
    rows = []
    for record in frame.to_dict("records"):
        row = {}
        for name, value in record.items():
            if isinstance(value, pd.io.stata.StataMissingValue):
                value = value.string  # ".a", ".b"
            elif name == "last_dose":
                value = (epoch + timedelta(days=float(value))).date()
            elif name in ("submitted_at", "started_at") and not math.isnan(value):
                value = epoch + timedelta(milliseconds=float(value))
            elif isinstance(value, float) and math.isnan(value):
                value = None
            elif isinstance(value, int | float):
                value = float(value)
            row[name] = value
        rows.append(row)
    compare(rows, responses, {"not_asked": ".a", "not_answered": ".b"})
    assert variable_labels["district"] == "Bạn đang sống ở huyện/thành phố nào?"
    district = next(v for k, v in value_labels.items() if k.startswith("district"))
    stata_a, stata_b = 2_147_483_621 + 1, 2_147_483_621 + 2  # a long's .a and .b
    assert district[1] == "Thành phố Đà Lạt"
    assert district[stata_a] == WORDS["not_asked"] and district[stata_b] == WORDS["not_answered"]


# R's readstata13 (its own C++ reader of Stata 13+ files, not ReadStat): every value as
# text, a numeric missing value as its Stata code (.a, .b), dates as Stata's numbers.
READSTATA13 = """
suppressPackageStartupMessages(library(readstata13))
d <- read.dta13("demo.dta", convert.factors = FALSE, convert.dates = FALSE,
                missing.type = TRUE)
types <- attr(d, "missing")
out <- lapply(names(d), function(name) {
  x <- d[[name]]
  if (!is.numeric(x)) return(x)
  text <- ifelse(is.na(x), "", format(x, digits = 17, trim = TRUE, scientific = FALSE))
  kind <- types[[name]]
  coded <- !is.null(kind) & !is.na(kind) & kind > 0
  text[coded] <- paste0(".", letters[kind[coded]])
  text
})
names(out) <- names(d)
write.csv(as.data.frame(out, optional = TRUE), "values.csv", row.names = FALSE,
          fileEncoding = "UTF-8", na = "")
labels <- attr(d, "label.table")[[attr(d, "val.labels")[names(d) == "district"]]]
writeLines(c(attr(d, "var.labels")[names(d) == "district"], names(labels)[labels == 1]),
           "labels.txt", useBytes = TRUE)
"""


def test_dta_read_by_r_readstata13_holds_every_stored_value(filled, tmp_path):
    """A third reader of the .dta, independent of ReadStat and of pandas (GNU PSPP reads
    no Stata files)."""
    run_cli(filled, "export", DEMO_SLUG, "-o", str(tmp_path / "demo.dta"))
    (tmp_path / "read.R").write_text(READSTATA13, encoding="utf-8")
    assert shutil.which("Rscript"), "R is needed (r-cran-readstata13: make debian-tools)"
    subprocess.run(
        ["Rscript", "read.R"], cwd=tmp_path, check=True, env={"LANG": "C.UTF-8"}, timeout=120
    )
    with open(tmp_path / "values.csv", encoding="utf-8", newline="") as values:
        table = list(csv.DictReader(values))
    epoch = datetime(1960, 1, 1)
    responses = stored_responses()
    rows = []
    for record, response in zip(table, responses, strict=True):
        want = expected(response)
        row = {}
        for name, text in record.items():
            if name not in want or text.startswith(".") or name in STRINGS:
                row[name] = text
            elif name == "last_dose":
                row[name] = (epoch + timedelta(days=float(text))).date()
            elif name == "submitted_at":
                row[name] = epoch + timedelta(milliseconds=float(text))
            else:
                row[name] = float(text) if text else None
        rows.append(row)
    compare(rows, responses, {"not_asked": ".a", "not_answered": ".b"})
    label, district_1 = (tmp_path / "labels.txt").read_text("utf-8").splitlines()
    assert label == "Bạn đang sống ở huyện/thành phố nào?"
    assert district_1 == "Thành phố Đà Lạt"


# -- R ------------------------------------------------------------------------------


def test_r_bundle_read_by_r_gives_factors_and_labels(filled, tmp_path):
    out = tmp_path / "demo.zip"
    run_cli(filled, "export", DEMO_SLUG, "-o", str(out))  # .zip: the R export
    with zipfile.ZipFile(out) as bundle:
        assert sorted(bundle.namelist()) == ["responses.R", "responses.csv"]
        bundle.extractall(tmp_path)
    script = (tmp_path / "responses.R").read_text("ascii")  # ASCII only: no locale trouble
    header = next(csv.reader(io.StringIO((tmp_path / "responses.csv").read_text("utf-8-sig"))))
    mentioned = {
        line.split('responses[["', 1)[1].split('"]]', 1)[0]
        for line in script.splitlines()
        if 'responses[["' in line
    }
    assert mentioned == set(header)  # exactly the CSV's columns
    for name in SELECT_ONE:  # every choice of every list, as a level
        for choice in LISTS[QUESTIONS[name]["choices"]]:
            assert f'"{choice["name"]}"' in script
    rscript = shutil.which("Rscript")
    assert rscript, "R is needed (Debian's r-base-core: make debian-tools)"
    probe = tmp_path / "probe.R"
    probe.write_text(
        'source("responses.R")\n'
        'out <- data.frame(id = responses[["response_id"]],\n'
        '  district = as.character(responses[["district"]]),\n'
        '  children = responses[["children"]],\n'
        '  dose = format(responses[["last_dose"]]),\n'
        '  comment = responses[["comment"]], stringsAsFactors = FALSE)\n'
        'write.csv(out, "probe.csv", row.names = FALSE, fileEncoding = "UTF-8", na = "")\n'
        'cat(attr(responses[["district"]], "label"), levels(responses[["measures/masks"]]),\n'
        '    class(responses[["last_dose"]]), class(responses[["submitted_at"]]),\n'
        '    sep = "\\n", file = "attrs.txt")\n',
        "utf-8",
    )
    subprocess.run([rscript, str(probe)], cwd=tmp_path, check=True, env={"LANG": "C.UTF-8"})
    attrs = (tmp_path / "attrs.txt").read_text("utf-8").splitlines()
    assert attrs == [
        "Bạn đang sống ở huyện/thành phố nào?",
        "Đồng ý",
        "Bình thường",
        "Không đồng ý",
        "Date",
        "POSIXct",
        "POSIXt",
    ]
    with open(tmp_path / "probe.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    responses = stored_responses()
    assert len(rows) == len(responses)
    for row, response in zip(rows, responses, strict=True):
        a = response.answers
        assert int(row["id"]) == response.id
        district = next(c for c in LISTS["districts"] if c["name"] == a["district"])
        assert row["district"] == district["label"]["vi"]
        assert row["children"] == ("" if a.get("children") is None else str(a["children"]))
        assert row["dose"] == (a.get("last_dose") or "")
        comment = a.get("comment") or ""
        # the CSV keeps a formula-like text inert with a leading apostrophe
        assert row["comment"] in (comment, "'" + comment)


# -- hostile text -------------------------------------------------------------------


def test_hostile_text_stays_text_and_the_files_stay_readable(filled, tmp_path):
    """Formula-like text, control characters, emoji; and a row stored before answers
    were checked, with a lone surrogate and NUL: every file still reads, text as
    sent (U+FFFD for what UTF-8 cannot hold), nothing turned into a formula."""
    first = stored_responses()[0]
    # PostgreSQL's jsonb refuses such text outright; SQLite kept it before the checks
    unstorable = db.engine.dialect.name == "sqlite"
    if unstorable:
        db.session.execute(
            sa.insert(Response).values(
                survey_id=first.survey_id,
                version_id=first.version_id,
                submission_id=uuid.UUID(new_id()),
                submitted_at=datetime(2026, 1, 2, 3, 4, 5),
                answers={**valid_answers(), "comment": "x\ud800y\x00z"},
                source="web",
                meta={},
            )
        )
        db.session.commit()
    sav, dta = tmp_path / "h.sav", tmp_path / "h.dta"
    run_cli(filled, "export", DEMO_SLUG, "-o", str(sav))
    run_cli(filled, "export", DEMO_SLUG, "-o", str(dta))
    for frame in (pyreadstat.read_sav(str(sav))[0], pyreadstat.read_dta(str(dta))[0]):
        comments = list(frame["comment"])
        for text in HOSTILE:
            assert text in comments  # as sent: a .sav or .dta cell is never a formula
        assert not unstorable or "x\ufffdy\ufffdz" in comments
    rows = pspp_csv(sav, tmp_path, "VALUES")
    assert {text for text in HOSTILE} <= {row["comment"] for row in rows}


# -- the export page ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "ending", "mimetype"),
    [
        ("sav", "sav", "application/x-spss-sav"),
        ("dta", "dta", "application/x-stata-dta"),
        ("r", "zip", "application/zip"),
    ],
)
def test_the_export_page_makes_the_files_with_the_dashboards_filters(
    app, tmp_path, fmt, ending, mimetype
):
    from tests.test_export_files import analyst_client, ask, fake_responses, only_export

    fake_responses(app, 60)
    client = analyst_client(app)
    page = client.get(f"/admin/surveys/{DEMO_SLUG}/exports").get_data(as_text=True)
    assert f'<option value="{fmt}">' in page
    in_da_lat = [r for r in stored_responses() if r.answers.get("district") == "da_lat"]

    assert ask(client, fmt=fmt, **{"f.district": "da_lat"}).status_code == 303

    export = only_export()
    assert export.status == "done" and export.rows_done == len(in_da_lat) < 60
    download = client.get(f"/admin/exports/{export.id}/download")
    assert download.status_code == 200 and download.mimetype == mimetype
    assert download.headers["Content-Disposition"].endswith(f".{ending}")
    out = tmp_path / f"page.{ending}"
    out.write_bytes(download.data)
    if fmt == "sav":
        ids = list(pyreadstat.read_sav(str(out))[0]["response_id"])
    elif fmt == "dta":
        ids = list(pyreadstat.read_dta(str(out))[0]["response_id"])
    else:
        with zipfile.ZipFile(out) as bundle:
            text = bundle.read("responses.csv").decode("utf-8-sig")
        ids = [float(row["response_id"]) for row in csv.DictReader(io.StringIO(text))]
    assert ids == [float(r.id) for r in in_da_lat]


def test_review_statuses_and_filters_choose_the_responses_as_in_every_export(app, tmp_path):
    run_cli(app, "fake-responses", DEMO_SLUG, "--count", "50", "--seed", "3")
    responses = stored_responses()
    responses[0].status, responses[1].status = "excluded", "flagged"
    db.session.commit()
    counted = {
        "default": ("unreviewed", "accepted", "flagged"),
        "unflagged": ("unreviewed", "accepted"),
        "all": ("unreviewed", "accepted", "flagged", "excluded"),
    }
    for include, statuses in counted.items():
        kept = [float(r.id) for r in responses if r.status in statuses]
        assert responses[0].status == "excluded" and (float(responses[0].id) in kept) == (
            include == "all"
        )
        for ending in ("sav", "dta"):
            out = tmp_path / f"{include}.{ending}"
            run_cli(app, "export", DEMO_SLUG, "-o", str(out), "--include", include)
            read = pyreadstat.read_sav if ending == "sav" else pyreadstat.read_dta
            frame = read(str(out))[0]
            assert list(frame["response_id"]) == kept
            assert set(frame["status"]) == {r.status for r in responses if float(r.id) in kept}
    out = tmp_path / "parents.sav"
    run_cli(app, "export", DEMO_SLUG, "-o", str(out), "--filter", "role=parent")
    parents = [
        float(r.id) for r in responses if r.answers["role"] == "parent" and r.status != "excluded"
    ]
    assert list(pyreadstat.read_sav(str(out))[0]["response_id"]) == parents


HOSTILE_LABEL = 'Q "1"\\ \'x\'); system("touch pwned"); ("\nĐà Lạt 😀 \u202e'


def test_hostile_labels_stay_text_in_the_r_script_and_the_sav(app, tmp_path):
    """Labels that would end an R string and run code, with a backslash, a newline, an
    emoji and a direction override: the script runs, nothing else does, and R and
    PSPP give the labels back as written."""
    definition = {
        "format": "survey-engine/1",
        "slug": "nhan-la",
        "title": {"vi": HOSTILE_LABEL},
        "default_language": "vi",
        "pages": [
            {
                "name": "p1",
                "questions": [
                    {"name": "q", "type": "select_one", "choices": "c", "label": HOSTILE_LABEL},
                ],
            }
        ],
        "choice_lists": {
            "c": [
                {"name": "a", "label": HOSTILE_LABEL},
                {"name": "b-1.x", "label": "=cmd|' /C calc'!A0"},
            ]
        },
    }
    from survey_engine.catalog import save_definition

    save_definition(definition, publish=True)
    run_cli(app, "fake-responses", "nhan-la", "--count", "20", "--seed", "5")
    out = tmp_path / "r.zip"
    run_cli(app, "export", "nhan-la", "-o", str(out), "--format", "r")
    with zipfile.ZipFile(out) as bundle:
        bundle.extractall(tmp_path)
    (tmp_path / "probe.R").write_text(
        'source("responses.R")\n'
        'writeLines(c(attr(responses[["q"]], "label"), levels(responses[["q"]])),'
        ' "labels.txt", useBytes = TRUE)\n',
        "utf-8",
    )
    subprocess.run(["Rscript", "probe.R"], cwd=tmp_path, check=True, env={"LANG": "C.UTF-8"})
    assert not (tmp_path / "pwned").exists()
    labels = (tmp_path / "labels.txt").read_text("utf-8").split("\n")
    assert labels[:-1] == [
        *HOSTILE_LABEL.split("\n"),
        *HOSTILE_LABEL.split("\n"),
        "=cmd|' /C calc'!A0",
    ]

    sav = tmp_path / "l.sav"
    run_cli(app, "export", "nhan-la", "-o", str(sav))
    meta = pyreadstat.read_sav(str(sav), metadataonly=True)[1]
    assert meta.column_names_to_labels["q"] == HOSTILE_LABEL
    assert meta.variable_value_labels["q"][1.0] == HOSTILE_LABEL
    assert pspp_labels(sav, tmp_path)["q"].startswith('Q "1"')


def test_variable_names_are_legal_and_unique_for_spss_and_stata():
    from exports.variable_names import legal_names

    headers = ["q/a", "q_a", "Q_A", "1st", "đánh_giá", "if", "with", "x" * 40, "x" * 40, "/"]
    names = legal_names(headers)
    assert names == [
        "q_a",
        "q_a_2",
        "Q_A_3",
        "v_1st",
        "danh_gia",
        "if_2",
        "with_2",
        "x" * 32,
        "x" * 30 + "_2",
        "v",
    ]
    assert len({n.lower() for n in names}) == len(names)
    assert all(len(n) <= 32 and n[0].isalpha() and n.isascii() for n in names)


def test_long_text_is_whole_in_the_sav_and_cut_with_a_marker_in_the_dta(app, client, tmp_path):
    from exports.safe_cells import CUT_MARKER

    long_text = "Ý kiến dài về việc mở lại trường học. " * 130  # 4,940 characters
    answers = {**valid_answers(), "comment": long_text.strip()}
    reply = client.post(
        f"/api/v1/surveys/{DEMO_SLUG}/responses",
        json={"submission_id": new_id(), "answers": answers},
    )
    assert reply.status_code == 202, reply.get_json()
    sav, dta = tmp_path / "t.sav", tmp_path / "t.dta"
    run_cli(app, "export", DEMO_SLUG, "-o", str(sav))
    run_cli(app, "export", DEMO_SLUG, "-o", str(dta))
    assert pyreadstat.read_sav(str(sav))[0]["comment"][0] == long_text.strip()
    cut = pyreadstat.read_dta(str(dta))[0]["comment"][0]
    assert cut.endswith(CUT_MARKER) and len(cut.encode("utf-8")) <= 2044
    assert long_text.startswith(cut[: -len(CUT_MARKER)])
