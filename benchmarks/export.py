#!/usr/bin/env python3
"""The analyst's Excel export against the usual ways, on the same responses, in one run.

    .venv/bin/python benchmarks/export.py [--size demo|kobo|both] [--workdir DIR]

Two data sets, built once in SQLite files under --workdir (kept for re-runs):
  demo  the demo survey (tro-lai-truong-hoc) with 75,000 random valid responses;
  kobo  Kobo's failing case: a synthetic survey of 510 fields with 132,000 responses.

Three paths, each in a child process of its own so that its peak RSS is its own:
  ours    survey-engine's whole workbook (summary with CIs and charts, responses,
          codebook, about): exports.export_survey;
  pandas  the responses sheet's cells in one DataFrame, then DataFrame.to_excel
          with openpyxl (what most tools do);
  raw     XlsxWriter (constant_memory) writing only the responses sheet's cells:
          the floor for any workbook writer in Python.
All three read the responses from the database in the same chunks and make the
same cells (exports.columns.RowMaker), so they differ only in what they write.
Prints seconds, rows/s, cells/s and peak RSS per path, and the ratios.

With --files data, the SPSS and Stata files instead (issue 14):
  sav         survey-engine's .sav (labels, missing codes; written chunk by chunk and
              joined: exports/data_files.py), two passes over the responses;
  dta         the same as a Stata .dta;
  sav_pandas  the usual way: every response's cells (choice codes) in one pandas
              DataFrame, then pyreadstat.write_sav in one go, without labels.

With --files report, the province's quick report (issue 14) beside the workbook:
  ours             the whole workbook, as above: the baseline, one pass over the same
                   responses;
  report           the PDF (exporting/report.py: one pass of counts with the breakdown by
                   district, then WeasyPrint);
  report_weighted  the same PDF with raking weights on role and district (computed
                   first, inside the timing, and removed after).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZES = {"demo": ("tro-lai-truong-hoc", 75_000), "kobo": ("kobo-510", 132_000)}
KOBO_FIELDS = 510
PATHS = ("ours", "pandas", "raw")
DATA_PATHS = ("sav", "dta", "sav_pandas")
REPORT_PATHS = ("ours", "report", "report_weighted")
ENDINGS = {"sav": "sav", "dta": "dta", "sav_pandas": "sav", "report": "pdf"}
ENDINGS["report_weighted"] = "pdf"
INSERT_BATCH = 2_000


# -- the data -------------------------------------------------------------------------


def kobo_definition() -> dict:
    """510 fields as a big household survey has them: choices, numbers, dates, text."""
    kinds = ["select_one"] * 5 + ["integer"] * 2 + ["decimal", "date", "text"]
    lists = {
        "yes_no": [{"name": n, "label": {"vi": t}} for n, t in (("1", "Có"), ("0", "Không"))],
        "scale": [{"name": str(n), "label": {"vi": f"Mức {n}"}} for n in range(1, 6)],
    }
    questions = []
    for i in range(KOBO_FIELDS):
        kind = kinds[i % len(kinds)]
        question = {"name": f"f{i:03d}", "type": kind, "label": {"vi": f"Câu hỏi số {i + 1}"}}
        if kind == "select_one":
            question["choices"] = "yes_no" if i % 2 else "scale"
        questions.append(question)
    pages = [
        {"name": f"p{n}", "questions": questions[n * 30 : (n + 1) * 30]}
        for n in range((KOBO_FIELDS + 29) // 30)
    ]
    return {
        "format": "survey-engine/1",
        "slug": SIZES["kobo"][0],
        "title": {"vi": "Khảo sát hộ gia đình (510 trường)"},
        "default_language": "vi",
        "pages": pages,
        "choice_lists": lists,
    }


def kobo_answers(rng: random.Random, today: datetime) -> dict:
    answers = {}
    for i in range(KOBO_FIELDS):
        kind = i % 10
        if rng.random() < 0.1:
            continue  # skipped
        if kind < 5:
            answers[f"f{i:03d}"] = str(rng.randint(0, 1)) if i % 2 else str(rng.randint(1, 5))
        elif kind < 7:
            answers[f"f{i:03d}"] = rng.randint(0, 120)
        elif kind == 7:
            answers[f"f{i:03d}"] = round(rng.uniform(0, 1000), 2)
        elif kind == 8:
            answers[f"f{i:03d}"] = (today - timedelta(days=rng.randint(0, 900))).date().isoformat()
        else:
            answers[f"f{i:03d}"] = rng.choice(
                ("Không có ý kiến", "Đồng ý với phương án", "Cần thêm thông tin về dự án")
            )
    return answers


def build(size: str, url: str) -> None:
    """Create the survey and its responses in the database at `url` (once)."""
    import flask_migrate
    import sqlalchemy as sa

    from survey_engine import MIGRATIONS_DIR, create_app
    from survey_engine.catalog import definition_for, find_survey, save_definition
    from survey_engine.definition.fake import fake_answers
    from survey_engine.extensions import db
    from survey_engine.models import Response

    slug, count = SIZES[size]
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        flask_migrate.upgrade(directory=MIGRATIONS_DIR)
        if size == "demo":
            definition = json.loads(
                (ROOT / "survey_engine/demo/tro-lai-truong-hoc.json").read_text("utf-8")
            )
        else:
            definition = kobo_definition()
        survey = save_definition(definition, publish=True)
        version = survey.published_version()
        parsed = definition_for(version)
        rng = random.Random(20261126)
        now = datetime.now(UTC)
        started = time.monotonic()
        for first in range(0, count, INSERT_BATCH):
            rows = []
            for n in range(first, min(first + INSERT_BATCH, count)):
                answers = fake_answers(parsed, rng) if size == "demo" else kobo_answers(rng, now)
                rows.append(
                    {
                        "survey_id": survey.id,
                        "version_id": version.id,
                        "submission_id": uuid.UUID(int=rng.getrandbits(128)),
                        "submitted_at": now - timedelta(seconds=count - n),
                        "answers": answers,
                        "source": "web",
                        "meta": {},
                    }
                )
            db.session.execute(sa.insert(Response), rows)
            db.session.commit()
        assert find_survey(slug) is not None
        print(
            f"  built {size}: {count:,} responses in {time.monotonic() - started:.0f} s", flush=True
        )


# -- the three paths (each runs in its own child process) -----------------------------


def run_path(path: str, url: str, slug: str, out: Path) -> dict:
    from survey_engine import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        started = time.perf_counter()
        rows, columns = PATH_FUNCTIONS[path](slug, out)
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": rows, "cells": rows * columns, "bytes": out.stat().st_size}


def _row_maker(slug: str):
    """The same cells every path writes: exports' own RowMaker over every version."""
    from exports.columns import RowMaker
    from survey_engine.catalog import definition_for, find_survey
    from survey_engine.definition.merged import merged_questions

    survey = find_survey(slug)
    versions = [v for v in reversed(survey.versions) if v.published_at]
    definitions = [definition_for(v) for v in versions]
    maker = RowMaker(definitions[0], merged_questions(definitions), definitions[0].default_language)
    maker.version_numbers = {v.id: v.number for v in versions}
    return survey, maker


def ours(slug: str, out: Path) -> tuple[int, int]:
    from survey_engine.exporting.survey_file import ExportOptions, export_survey

    survey, maker = _row_maker(slug)
    return export_survey(survey, out, options=ExportOptions()), len(maker.columns)


def pandas_to_excel(slug: str, out: Path) -> tuple[int, int]:
    import pandas as pd

    from survey_engine.results.responses import response_chunks

    survey, maker = _row_maker(slug)
    cells = [maker.row(r) for chunk in response_chunks(survey.id) for r in chunk]
    frame = pd.DataFrame(cells, columns=[c.header for c in maker.columns])
    frame.to_excel(out, engine="openpyxl", index=False)
    return len(frame), len(maker.columns)


def raw_xlsxwriter(slug: str, out: Path) -> tuple[int, int]:
    import xlsxwriter

    from survey_engine.results.responses import response_chunks

    survey, maker = _row_maker(slug)
    workbook = xlsxwriter.Workbook(str(out), {"constant_memory": True})
    workbook.use_zip64()  # the 510-field sheet's XML passes 4 GiB
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, [c.header for c in maker.columns])
    rows = 0
    for chunk in response_chunks(survey.id):
        for response in chunk:
            rows += 1
            sheet.write_row(rows, 0, maker.row(response))
    workbook.close()
    return rows, len(maker.columns)


def data_file(fmt: str):
    def export(slug: str, out: Path) -> tuple[int, int]:
        from survey_engine.exporting.survey_file import ExportOptions, export_survey

        survey, maker = _row_maker(slug)
        return export_survey(survey, out, options=ExportOptions(fmt=fmt)), len(maker.columns)

    return export


def sav_pandas(slug: str, out: Path) -> tuple[int, int]:
    import pandas as pd
    import pyreadstat

    from exports.variable_names import legal_names
    from survey_engine.results.responses import response_chunks

    survey, maker = _row_maker(slug)
    maker = type(maker)(maker.definition, maker.questions, maker.lang, codes=True)
    cells = [maker.row(r) for chunk in response_chunks(survey.id) for r in chunk]
    frame = pd.DataFrame(cells, columns=legal_names(c.header for c in maker.columns))
    del cells
    frame = frame.infer_objects()
    pyreadstat.write_sav(frame, str(out))
    return len(frame), len(maker.columns)


def report_pdf(weighted: bool):
    def write(slug: str, out: Path) -> tuple[int, int]:
        from survey_engine.catalog import find_survey
        from survey_engine.exporting.report import write_survey_report
        from survey_engine.exporting.survey_file import ExportOptions
        from survey_engine.extensions import db
        from survey_engine.results.margins import Margins
        from survey_engine.results.weights import compute_weights, remove_weights

        survey = find_survey(slug)
        if weighted:  # a planted margin: half parents, a third in Đà Lạt
            districts = [
                c["name"]
                for c in survey.published_version().definition["choice_lists"]["districts"]
            ]
            targets = {
                "role": {"parent": 0.5, "pupil": 0.2, "teacher": 0.2, "other": 0.1},
                "district": {
                    d: 1 / 3 if d == "da_lat" else 2 / 3 / (len(districts) - 1) for d in districts
                },
            }
            compute_weights(survey, Margins(targets), None)
            db.session.commit()
        try:
            written = write_survey_report(survey, out, ExportOptions(fmt="pdf"))
        finally:
            if weighted:
                remove_weights(survey.id)
                db.session.commit()
        return written, 1

    return write


PATH_FUNCTIONS = {
    "report": report_pdf(weighted=False),
    "report_weighted": report_pdf(weighted=True),
    "ours": ours,
    "pandas": pandas_to_excel,
    "raw": raw_xlsxwriter,
    "sav": data_file("sav"),
    "dta": data_file("dta"),
    "sav_pandas": sav_pandas,
}


def _rss_gib(pid: int) -> float:
    try:
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**30


def measure(path: str, url: str, slug: str, out: Path, timeout: float, max_rss_gib: float) -> dict:
    """Run one path in a child; its own peak RSS comes from wait4's rusage. A child
    past the time or memory cap is stopped (pandas on the 510-field case would take
    the whole machine) and reported as such."""
    child = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--child",
            path,
            "--url",
            url,
            "--slug",
            slug,
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        too_big = _rss_gib(child.pid) > max_rss_gib
        if too_big or time.monotonic() > deadline:
            child.kill()
            _pid, status, usage = os.wait4(child.pid, 0)
            spent = time.monotonic() - deadline + timeout
            why = f"over {max_rss_gib:g} GiB" if too_big else "out of time"
            return {
                "failed": f"stopped after {spent:.0f} s, {why}",
                "peak_rss_mib": usage.ru_maxrss / 1024,
            }
        time.sleep(0.2)
    output = child.stdout.read()
    if status != 0:
        return {"failed": f"exit status {status}", "peak_rss_mib": usage.ru_maxrss / 1024}
    result = json.loads(output.strip().splitlines()[-1])
    result["peak_rss_mib"] = usage.ru_maxrss / 1024
    return result


def report(size: str, results: dict[str, dict], paths: tuple[str, ...] = PATHS) -> None:
    slug, count = SIZES[size]
    print(f"\n{size}: {slug}, {count:,} responses")
    print(
        f"  {'path':<16} {'seconds':>9} {'rows/s':>9} {'cells/s':>11} {'peak RSS':>10} {'file':>11}"
    )
    for path in paths:
        r = results[path]
        if "failed" in r:
            print(f"  {path:<16} {r['failed']:>40}  peak RSS {r['peak_rss_mib']:,.0f} MiB")
            continue
        print(
            f"  {path:<16} {r['seconds']:>9.1f} {r['rows'] / r['seconds']:>9,.0f}"
            f" {r['cells'] / r['seconds']:>11,.0f} {r['peak_rss_mib']:>6,.0f} MiB"
            f" {r['bytes'] / 2**20:>7,.1f} MiB"
        )
    ours_ = results[paths[0]]
    if "failed" not in ours_:
        for other in paths[1:]:
            r = results[other]
            if "failed" not in r:
                print(f"  {other} / ours time: {r['seconds'] / ours_['seconds']:.2f}x")
            else:
                print(f"  {other}: {r['failed']} (ours finished in {ours_['seconds']:.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=("demo", "kobo", "both"), default="both")
    parser.add_argument("--workdir", type=Path, default=ROOT / "instance" / "bench-export")
    parser.add_argument("--rows", type=int, help="fewer responses, to try the script out")
    parser.add_argument(
        "--timeout",
        type=float,
        default=1800,
        help="seconds after which a path is stopped and reported as such",
    )
    parser.add_argument(
        "--max-rss-gib",
        type=float,
        default=12,
        help="a path using more memory than this is stopped and reported",
    )
    parser.add_argument(
        "--files",
        choices=("xlsx", "data", "report"),
        default="xlsx",
        help="the workbook's paths, the SPSS/Stata files' (sav, dta, sav_pandas), or the "
        "quick report's (ours, report, report_weighted)",
    )
    parser.add_argument("--only", help="comma-separated paths to run (default: all of --files)")
    parser.add_argument("--child", choices=tuple(PATH_FUNCTIONS), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--slug", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_path(args.child, args.url, args.slug, args.out)))
        return
    if args.rows:
        for size, (slug, _count) in SIZES.items():
            SIZES[size] = (slug, args.rows)
    args.workdir.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} cores; {datetime.now():%Y-%m-%d %H:%M}")
    for size in ("demo", "kobo") if args.size == "both" else (args.size,):
        name = f"{size}-{SIZES[size][1]}"
        database = args.workdir / f"{name}.sqlite3"
        url = f"sqlite:///{database}"
        if not (args.workdir / f"{name}.ready").exists():
            database.unlink(missing_ok=True)
            build(size, url)
            (args.workdir / f"{name}.ready").touch()
        results = {}
        paths = {"data": DATA_PATHS, "report": REPORT_PATHS}.get(args.files, PATHS)
        if args.only:
            paths = tuple(p for p in paths if p in args.only.split(","))
        for path in paths:
            out = args.workdir / f"{size}-{path}.{ENDINGS.get(path, 'xlsx')}"
            results[path] = measure(path, url, SIZES[size][0], out, args.timeout, args.max_rss_gib)
            out.unlink(missing_ok=True)
            print(f"  {path}: done", flush=True)
        report(size, results, paths)


if __name__ == "__main__":
    main()
