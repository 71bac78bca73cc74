"""The dashboard, the results API and the workbook show the same figures: each is held
to a recount written out plainly here, over the stored responses, under five filters.

Three published versions of the demo: the newest asks `children` as an integer, the
one before as free text, so older responses hold "12", " 4 " or "nhiều". A text that
reads as a decimal number counts as that number (families.number_of), anything else
is no number, in every output alike. The dashboard is read as rendered: the data
attributes its tables carry, never its template's context.
"""

from __future__ import annotations

import copy
import math
import random
import re
import statistics
from collections import Counter
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from survey_engine.catalog import definition_for, find_survey, save_definition
from survey_engine.definition.fake import fake_answers
from survey_engine.exporting.survey_file import ExportOptions, export_survey
from survey_engine.results.filters import Filters
from survey_engine.staff.accounts import create_user, share_survey
from tests.conftest import DEMO_SLUG, demo_definition, stored_responses
from tests.test_export import crosstab_tables, summary_tables
from tests.test_results import store
from tests.test_staff import PASSWORD, login

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
LAST = datetime(2026, 11, 20, 22, 0, tzinfo=VIETNAM)
PER_VERSION = (500, 300, 300)  # responses to versions 1, 2 (children as text) and 3
CHILDREN_TEXTS = ("12", " 4 ", "0", "2.5", "-1", "nhiều", "1e3", "NaN", "3 con", "")
ANALYST = "doi-chieu@example.org"
BREAKDOWN = "district"
SELECTS = ("district", "commune", "role", "levels", "support", "concerns", "follow_up")
NUMBERS = ("children", "school_rating", "recommend")
MATRIX, RANK = "measures", "priorities"
CROSSTAB = ("support", "district")  # the dashboard's cross-tab: rows, columns
FILTERS = {
    "none": "",
    "one choice": "f.district=da_lat",
    "two questions": "f.role=parent&f.support=yes",
    "a date range": "from=2026-11-12&to=2026-11-17",
    "a select_multiple choice": "f.concerns=transport",
}
Z = statistics.NormalDist().inv_cdf(0.975)


# -- the responses ---------------------------------------------------------------------


def _store(version, answer_sets: list[dict], start: int) -> None:
    store(answer_sets, version, start, minutes=13, last=LAST)


def _answers(version, count: int, rng: random.Random, texts: bool = False) -> list[dict]:
    definition = definition_for(version)
    sets = [fake_answers(definition, rng) for _ in range(count)]
    if texts:  # what a text question took: numbers, numbers in words, nothing much
        for answers in sets:
            if answers.get("role") == "parent":
                answers["children"] = rng.choice(CHILDREN_TEXTS)
    return sets


@pytest.fixture
def three_versions(app):
    """Version 1 as the demo, 2 with `children` as free text, 3 an integer again."""
    rng = random.Random(20261204)
    survey = find_survey(DEMO_SLUG)
    _store(survey.published_version(), _answers(survey.published_version(), PER_VERSION[0], rng), 0)
    as_text = copy.deepcopy(demo_definition())
    children = as_text["pages"][0]["questions"][6]
    assert children["name"] == "children"
    children["type"] = "text"
    children.pop("min"), children.pop("max")
    version = save_definition(as_text, publish=True).published_version()
    assert version.number == 2
    _store(version, _answers(version, PER_VERSION[1], rng, texts=True), PER_VERSION[0])
    newest = copy.deepcopy(demo_definition())
    newest["pages"][0]["questions"][6]["label"]["vi"] = "Số con đang đi học?"
    version = save_definition(newest, publish=True).published_version()
    assert version.number == 3
    _store(version, _answers(version, PER_VERSION[2], rng), sum(PER_VERSION[:2]))
    share_survey(create_user(ANALYST, PASSWORD, "analyst"), find_survey(DEMO_SLUG))
    client = app.test_client()
    assert login(client, ANALYST).status_code == 302
    return client


# -- the recount, written plainly ------------------------------------------------------


def kept(response, query: str) -> bool:
    """Whether the dashboard's filters in `query` keep this response."""
    args: dict[str, list[str]] = {}
    for pair in filter(None, query.split("&")):
        key, _, value = pair.partition("=")
        args.setdefault(key, []).append(value)
    moment = response.submitted_at
    if moment.tzinfo is None:  # SQLite: UTC without its zone
        moment = moment.replace(tzinfo=UTC)
    day = moment.astimezone(VIETNAM).date()
    if "from" in args and day < date.fromisoformat(args["from"][0]):
        return False
    if "to" in args and day > date.fromisoformat(args["to"][0]):
        return False
    for key, allowed in args.items():
        if key.startswith("f."):
            value = response.answers.get(key[2:])
            chosen = value if isinstance(value, list) else [value]
            if not set(chosen) & set(allowed):
                return False
    return True


def as_number(value) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str) and re.fullmatch(
        r"[+-]?(\d+(\.\d*)?|\.\d+)", value.strip(), re.ASCII
    ):
        return float(value.strip())
    return None


def choices_of(value) -> list[str]:
    if value is None or isinstance(value, dict):
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def recount(query: str, counted=None) -> dict:
    """The figures of the responses the filters in `query` keep, of those `counted`
    (a predicate on the stored response: its review status) when given."""
    responses = [
        r for r in stored_responses() if kept(r, query) and (counted is None or counted(r))
    ]
    answers = [r.answers for r in responses]
    figures: dict = {
        "responses": len(responses),
        "answered": Counter(),
        "choices": {},
        "numbers": {},
        "matrix": {},
        "rank": {},
        "by_district": {},
        "crosstab": Counter(),
    }
    for a in answers:
        figures["answered"].update(name for name, value in a.items() if value is not None)
    for name in SELECTS:
        figures["choices"][name] = Counter(c for a in answers for c in choices_of(a.get(name)))
    for name in NUMBERS:
        values = [n for a in answers if (n := as_number(a.get(name))) is not None]
        figures["numbers"][name] = values
    for a in answers:
        for row, choice in (a.get(MATRIX) or {}).items():
            figures["matrix"].setdefault(row, Counter())[choice] += 1
        for position, choice in enumerate(a.get(RANK) or []):
            ranked = figures["rank"].setdefault(choice, [0, 0, 0])  # n, sum, first
            ranked[0] += 1
            ranked[1] += position + 1
            ranked[2] += position == 0
        for row in choices_of(a.get(CROSSTAB[0])):
            for col in choices_of(a.get(CROSSTAB[1])):
                figures["crosstab"][(row, col)] += 1
    for district in {a.get(BREAKDOWN) for a in answers}:
        part = [a for a in answers if a.get(BREAKDOWN) == district]
        figures["by_district"][district] = {
            "responses": len(part),
            "answered": Counter(n for a in part for n, v in a.items() if v is not None),
            "choices": {
                name: Counter(c for a in part for c in choices_of(a.get(name))) for name in SELECTS
            },
        }
    return figures


def wilson(k: int, n: int) -> tuple[float, float]:
    """Wilson's score interval in its other algebraic form."""
    p = k / n
    centre = (2 * n * p + Z * Z) / (2 * (n + Z * Z))
    half = Z * math.sqrt(Z * Z + 4 * n * p * (1 - p)) / (2 * (n + Z * Z))
    return max(0.0, centre - half), min(1.0, centre + half)


def summary_of(values: list[float]) -> dict[str, float]:
    q1, median, q3 = (
        statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else values * 3
    )
    return {
        "count": len(values),
        "mean": statistics.fmean(values),
        "median": median,
        "q1": q1,
        "q3": q3,
        "min": min(values),
        "max": max(values),
    }


def same(value, expected) -> bool:
    return value == pytest.approx(expected, rel=1e-9, abs=1e-12)


def check_share(where: str, count, total, low, high, k: int, n: int) -> None:
    assert (count, total) == (k, n), where
    if n:
        assert same(low, wilson(k, n)[0]) and same(high, wilson(k, n)[1]), where
    else:
        assert low in (None, "") and high in (None, ""), where


# -- the dashboard as rendered ---------------------------------------------------------


class _Figures(HTMLParser):
    """The data attributes of the results page, by question (`q-<name>` articles)."""

    def __init__(self) -> None:
        super().__init__()
        self.questions: dict[str, dict] = {}
        self.question: dict | None = None
        self.matrix_row: dict | None = None
        self.responses: int | None = None
        self.crosstab: dict[tuple[str, str], int] = {}
        self._crosstab_row: str | None = None
        self._in_crosstab = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if "data-responses" in a:
            self.responses = int(a["data-responses"])
        if a.get("id") == "crosstab-count":
            self._in_crosstab = True
        if tag == "article" and a.get("id", "").startswith("q-"):
            self.question = {"share": a, "choices": {}, "rows": {}, "numbers": None}
            self.questions[a["id"][2:]] = self.question
        elif self._in_crosstab and tag == "tr" and "data-choice" in a:
            self._crosstab_row = a["data-choice"]
        elif self._in_crosstab and tag == "td" and "data-choice" in a:
            self.crosstab[(self._crosstab_row, a["data-choice"])] = int(a["data-count"])
        elif self.question is None:
            return
        elif tag == "dl" and "data-mean" in a:
            self.question["numbers"] = a
        elif tag == "tr" and "data-row" in a:
            self.matrix_row = {"answered": int(a["data-answered"]), "cells": {}}
            self.question["rows"][a["data-row"]] = self.matrix_row
        elif tag == "td" and "data-choice" in a and self.matrix_row is not None:
            self.matrix_row["cells"][a["data-choice"]] = a
        elif tag == "tr" and "data-choice" in a:
            self.question["choices"].setdefault(a["data-choice"], a)

    def handle_endtag(self, tag: str) -> None:
        if tag == "article":
            self.question = self.matrix_row = None
        elif tag == "table":
            self.matrix_row = None
            self._in_crosstab = False


def dashboard_figures(client, query: str) -> _Figures:
    url = f"/admin/surveys/{DEMO_SLUG}/results?{query}&row={CROSSTAB[0]}&col={CROSSTAB[1]}"
    reply = client.get(url)
    assert reply.status_code == 200
    parsed = _Figures()
    parsed.feed(reply.get_data(as_text=True))
    return parsed


def _attr_share(where: str, a: dict, k: int, n: int) -> None:
    check_share(
        where,
        int(a["data-count"]),
        int(a["data-total"]),
        float(a["data-low"]) if a["data-low"] else None,
        float(a["data-high"]) if a["data-high"] else None,
        k,
        n,
    )


def check_dashboard(page: _Figures, expected: dict) -> None:
    total = expected["responses"]
    assert page.responses == total
    for name, q in page.questions.items():
        _attr_share(f"dashboard {name}", q["share"], expected["answered"][name], total)
    for name in SELECTS:
        answered = expected["answered"][name]
        shown = {c: a for c, a in page.questions[name]["choices"].items() if int(a["data-count"])}
        assert set(shown) == set(expected["choices"][name]), name
        for choice, k in expected["choices"][name].items():
            _attr_share(f"dashboard {name}={choice}", shown[choice], k, answered)
    for name in NUMBERS:
        numbers = page.questions[name]["numbers"]
        want = summary_of(expected["numbers"][name])
        for key, value in want.items():
            assert same(float(numbers[f"data-{key}"]), value), (name, key)
    for row, cells in expected["matrix"].items():
        shown = page.questions[MATRIX]["rows"][row]
        assert shown["answered"] == sum(cells.values()), row
        for choice, k in cells.items():
            _attr_share(
                f"dashboard {MATRIX}/{row}={choice}", shown["cells"][choice], k, shown["answered"]
            )
    ranked = page.questions[RANK]["choices"]
    for choice, (n, positions, first) in expected["rank"].items():
        assert same(float(ranked[choice]["data-mean"]), positions / n), choice
        _attr_share(f"dashboard rank {choice}", ranked[choice], first, expected["answered"][RANK])
    assert page.crosstab and len(page.crosstab) == len(set(page.crosstab))
    assert {key: n for key, n in page.crosstab.items() if n} == dict(expected["crosstab"])


# -- the results API -------------------------------------------------------------------


def _json_share(where: str, share: dict, k: int, n: int) -> None:
    check_share(where, share["count"], share["total"], share["ci_low"], share["ci_high"], k, n)
    assert share["ratio"] == (k / n if n else None), where


def check_api(body: dict, expected: dict) -> None:
    total = expected["responses"]
    assert body["responses"] == total
    for name, q in body["questions"].items():
        assert q["answered"] == expected["answered"][name], name
        if "answered_share" in q:
            _json_share(f"api {name}", q["answered_share"], expected["answered"][name], total)
    for name in SELECTS:
        q, answered = body["questions"][name], expected["answered"][name]
        assert q["counts"] == dict(expected["choices"][name]), name
        for choice, k in expected["choices"][name].items():
            _json_share(f"api {name}={choice}", q["choices"][choice]["of_answered"], k, answered)
            _json_share(f"api {name}={choice} of all", q["choices"][choice]["of_all"], k, total)
    for name in NUMBERS:
        numbers = body["questions"][name]["numbers"]
        for key, value in summary_of(expected["numbers"][name]).items():
            assert same(numbers[key], value), (name, key)
    for row, cells in expected["matrix"].items():
        shown = body["questions"][MATRIX]["matrix"][row]
        assert shown["answered"] == sum(cells.values()), row
        for choice, k in cells.items():
            _json_share(
                f"api {MATRIX}/{row}={choice}",
                shown["choices"][choice]["of_answered"],
                k,
                shown["answered"],
            )
    for choice, (n, positions, first) in expected["rank"].items():
        shown = body["questions"][RANK]["rank"][choice]
        assert same(shown["mean_position"], positions / n), choice
        _json_share(f"api rank {choice}", shown["first"], first, expected["answered"][RANK])


# -- the workbook ----------------------------------------------------------------------


def check_workbook(path: Path, expected: dict) -> None:
    workbook = openpyxl.load_workbook(path, read_only=True)
    summary, cross = workbook.worksheets[0], workbook.worksheets[1]
    assert [c.value for c in next(summary.iter_rows(min_row=2, max_row=2))][:2] == [
        "Số phiếu",
        expected["responses"],
    ]
    selects, numbers = summary_tables(summary)
    total = expected["responses"]
    tables = {
        **{name: (expected["choices"][name], expected["answered"][name]) for name in SELECTS},
        **{
            f"{MATRIX}/{row}": (cells, sum(cells.values()))
            for row, cells in expected["matrix"].items()
        },
    }
    for key, (counts, answered) in tables.items():
        table = selects[key]
        assert (table["answered"], table["not_answered"]) == (answered, total - answered), key
        shown = {code: c for code, c in table["choices"].items() if c["count"]}
        assert set(shown) == set(counts), key
        for code, k in counts.items():
            cell = shown[code]
            check_share(f"workbook {key}={code}", cell["count"], answered, *cell["ci"], k, answered)
            assert same(cell["answered"], k / answered) and same(cell["all"], k / total)
    for name in NUMBERS:
        want = summary_of(expected["numbers"][name])
        got = numbers[name]
        assert got["n"] == want["count"], name
        for key in ("mean", "median", "q1", "q3", "min", "max"):
            assert same(got[key], want[key]), (name, key)
    check_crosstab(crosstab_tables(cross), expected)


def check_crosstab(tables: dict, expected: dict) -> None:
    districts = [c["name"] for c in demo_definition()["choice_lists"]["districts"]]
    by = expected["by_district"]
    for name in SELECTS:
        if name == BREAKDOWN:
            continue
        table = tables[name]
        columns = [by.get(d) for d in districts]
        answered = [c["answered"][name] if c else 0 for c in columns]
        assert table["answered"][: len(districts)] == answered, name
        assert table["answered"][-1] == expected["answered"][name], name
        for code, row in table["counts"].items():
            counts = [c["choices"][name][code] if c else 0 for c in columns]
            assert row == counts + [expected["choices"][name][code]], (name, code)
            shares = [k / n if n else None for k, n in zip(counts, answered, strict=True)]
            assert table["percent"][code][: len(districts)] == pytest.approx(shares), name


# -- all of them, under each filter ----------------------------------------------------


@pytest.mark.parametrize("query", FILTERS.values(), ids=FILTERS.keys())
def test_every_output_shows_the_recounted_figures(three_versions, tmp_path, query):
    client = three_versions
    expected = recount(query)
    assert expected["responses"] > 0
    # The text answers of version 2 are in the view: some numbers, some not.
    assert any(as_number(t) is not None for t in CHILDREN_TEXTS)
    check_dashboard(dashboard_figures(client, query), expected)

    reply = client.get(f"/api/v1/surveys/{DEMO_SLUG}/results?{query}")
    assert reply.status_code == 200, reply.get_json()
    check_api(reply.get_json(), expected)

    survey = find_survey(DEMO_SLUG)
    merged_args = dict(pair.split("=") for pair in filter(None, query.split("&")))
    filters = Filters.from_args(merged_args, definition_for(survey.published_version()))
    out = tmp_path / "results.xlsx"
    export_survey(survey, out, options=ExportOptions(filters=filters, breakdown=BREAKDOWN))
    check_workbook(out, expected)


def test_the_old_texts_count_as_numbers_only_when_they_read_as_one(three_versions):
    expected = recount("")
    texts = [
        r.answers["children"]
        for r in stored_responses()
        if isinstance(r.answers.get("children"), str)
    ]
    assert {"12", " 4 ", "nhiều"} <= set(texts)
    numbers = expected["numbers"]["children"]
    assert 12.0 in numbers and 4.0 in numbers and 1000.0 not in numbers
    # Answered counts every text; the statistics only the numbers among them.
    assert expected["answered"]["children"] > len(numbers)
    body = three_versions.get(f"/api/v1/surveys/{DEMO_SLUG}/results").get_json()
    assert body["questions"]["children"]["numbers"]["count"] == len(numbers)
    assert body["questions"]["children"]["numbers"]["max"] == 12.0


def test_a_bad_filter_is_a_400_json_error(three_versions):
    for query in (
        "f.nothing=1",
        "f.district=atlantis",
        "from=2026-13-01",
        "from=2026-11-20&to=2026-11-01",
        "f.comment=x",
    ):
        reply = three_versions.get(f"/api/v1/surveys/{DEMO_SLUG}/results?{query}")
        assert reply.status_code == 400, query
        assert reply.is_json and reply.get_json()["error"], query
