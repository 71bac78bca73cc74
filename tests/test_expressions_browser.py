"""The page's expression interpreter (static/expr.js) against the Python one.

The server parses every expression and ships only the AST, so what must agree is
evaluation: the shared table (tests/expression_cases.json, conventions in
tests/test_expressions.py) runs in headless Chromium, then hundreds of random
expressions and answers are evaluated in both languages and compared.

The page carries a Content-Security-Policy without 'unsafe-eval', and evaluation runs
in a page task (setTimeout) rather than inside Playwright's own evaluate call, which
the browser exempts from the policy: if expr.js ever used eval or Function, it would
fail here. No server is needed: the script is injected into a blank page.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, sync_playwright

from survey_engine.definition.expressions import evaluate, parse, truthy
from tests.test_expressions import (
    CASES,
    expected_typed,
    random_answers,
    random_choice,
    random_expression,
    typed,
)

pytestmark = pytest.mark.browser

EXPR_JS = Path(__file__).resolve().parent.parent / "survey_engine" / "static" / "expr.js"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-proxy-server",
]
BLANK = (
    "<!doctype html><html><head><meta http-equiv=\"Content-Security-Policy\" "
    "content=\"default-src 'none'; script-src 'unsafe-inline'\"></head><body></body></html>"
)
DIFFERENTIAL_COUNT = 600

# Evaluates [[ast, answers, current, choice], ...] in a page task; each result as
# [type, value] like typed() in Python (non-finite numbers as text).
RUN = """items => new Promise(resolve => setTimeout(() => {
  const tag = v => typeof v === 'number' ? ['number', Number.isFinite(v) ? v : String(v)]
    : typeof v === 'boolean' ? ['bool', v] : typeof v === 'string' ? ['string', v]
    : Array.isArray(v) ? ['list', v] : ['other', String(v)];
  resolve(items.map(([ast, answers, current, choice]) => {
    try { return tag(SurveyExpr.evaluate(ast, answers, current, choice)); }
    catch (e) { return ['error', String(e)]; }
  }));
}, 0))"""


@pytest.fixture(scope="module")
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page()
            page.set_content(BLANK)
            page.add_script_tag(content=EXPR_JS.read_text("utf-8"))
            yield page
        finally:
            browser.close()


def run_in_page(page: Page, items: list[list[Any]]) -> list[list]:
    results = page.evaluate(RUN, items)
    return [
        [t, float(v)] if t == "number" and not isinstance(v, str) else [t, v] for t, v in results
    ]


def test_page_refuses_eval(page: Page) -> None:
    """The policy is in force where the interpreter runs (so the table proves no eval)."""
    outcome = page.evaluate("""() => new Promise(resolve => setTimeout(() => {
      try { eval('1'); resolve('allowed'); } catch (e) { resolve(e.name); }
    }, 0))""")
    assert outcome == "EvalError"


def test_table_in_the_browser(page: Page) -> None:
    items = [
        [parse(c["expr"]), c.get("answers", {}), c.get("current"), c.get("choice")] for c in CASES
    ]
    results = run_in_page(page, items)
    mismatches = [
        f"{c['expr']!r} answers={c.get('answers')} current={c.get('current')!r} "
        f"choice={c.get('choice')}: expected {expected_typed(c['expected'])}, "
        f"JS gave {got}"
        for c, got in zip(CASES, results, strict=True)
        if got != expected_typed(c["expected"])
    ]
    assert not mismatches, f"{len(mismatches)} of {len(CASES)} cases differ:\n" + "\n".join(
        mismatches
    )


def test_javascript_agrees_with_python_on_random_expressions(page: Page) -> None:
    rnd = random.Random(20240131)
    items, python = [], []
    texts = []
    for _ in range(DIFFERENTIAL_COUNT):
        text = random_expression(rnd)
        answers = random_answers(rnd)
        current = rnd.choice([None, "", "abc", 5, -2.5, ["a", "b"], "2024-01-31", "Đà Lạt"])
        choice = random_choice(rnd)
        ast = parse(text)
        texts.append(text)
        items.append([ast, answers, current, choice])
        python.append(typed(evaluate(ast, answers, current, choice)))
    js = run_in_page(page, items)
    mismatches = [
        f"{t!r} answers={i[1]} current={i[2]!r} choice={i[3]}: "
        f"Python {p}, JS {j}\n  AST {json.dumps(i[0], ensure_ascii=False)}"
        for t, i, p, j in zip(texts, items, python, js, strict=True)
        if p != j
    ]
    assert not mismatches, f"{len(mismatches)} of {DIFFERENTIAL_COUNT} differ:\n" + "\n".join(
        mismatches[:30]
    )
    kinds = {p[0] for p in python}
    assert {"bool", "number", "string", "list"} <= kinds  # the generator reaches every type


def test_truthy_and_malformed_asts_agree(page: Page) -> None:
    values = [True, False, 0, 1, -0.5, "", "0", "false", [], ["a"], None]
    js = page.evaluate("vs => vs.map(v => SurveyExpr.truthy(v))", values)
    assert js == [truthy(v) for v in values]
    js_nan = page.evaluate("() => [SurveyExpr.truthy(NaN), SurveyExpr.truthy(1 / 0)]")
    assert js_nan == [truthy(float("nan")), truthy(float("inf"))]
    malformed: list[Any] = [
        None,
        [],
        ["nope"],
        ["fn", "nope", []],
        ["fn", "round"],
        ["+", ["num", "x"]],
        ["ref", ["a"]],
        ["str", 3],
        {"a": 1},
        ["fn", "concat", [["num", 1], None]],
        ["constructor"],
        ["fn", "constructor", []],
        ["ref", "toString"],
    ]
    items = [[ast, {"a": 1}, None, None] for ast in malformed]
    assert run_in_page(page, items) == [typed(evaluate(ast, {"a": 1})) for ast in malformed]


# Patterns staff might write: some both engines read, some only RE2 (refused at save
# time, or every answer would fail the constraint in the page and pass on the server).
PATTERNS = [
    "^[0-9]{10}$",
    "^0[0-9]{9}$",
    "^\\d{3}-\\d{4}$",
    "^\\d{3}\\-\\d{4}$",
    "[\\-]",
    "\\.",
    "\\/",
    "\\\\",
    "\\^",
    "^\\p{L}+$",
    "[\\p{L} ]",
    "\\p{Lu}",
    "\\pL",
    "\\p{Greek}",
    "\\x41",
    "\\x{41}",
    "\\A",
    "\\z",
    "\\a",
    "\\_",
    "\\ ",
    "\\#",
    "\\:",
    "\\@",
    "\\0",
    "\\cA",
    "\\u0041",
    "(?P<n>a)",
    "(?<n>a)",
    "(?:a|b)",
    "(?i)a",
    "(?s).",
    "a{",
    "a{,3}",
    "a{2,}",
    "a{2,5}",
    "x{1000}",
    "x{1001}",
    "a}",
    "a]",
    "[]a]",
    "[^]a]",
    "[[:alpha:]]",
    "[a-z\\d]",
    "[\\b]",
    "\\b",
    "\\B",
    "^[À-ỹĐđ ]+$",
    "^(a+)+$",
    "a|b",
    "",
    "^$",
    "\\f\\v",
    "\\t\\n\\r",
    "[\\^\\]]",
    "\\{\\}",
    "(a)\\1",
    "a(?=b)",
    "(?<!a)b",
    "\\Qa\\E",
    "\\C",
]


def test_finding4_patterns_saved_are_patterns_the_browser_reads(page: Page) -> None:
    """Every pattern check() accepts compiles in Chromium's RegExp(p, 'u'), and means
    the same on a few answers; the refused ones say why."""
    from survey_engine.definition.expressions import check

    compiles = page.evaluate(
        """ps => ps.map(p => {
      try { new RegExp(p, 'u'); return true; } catch (e) { return false; } })""",
        PATTERNS,
    )
    accepted = {p: check(f"regex(., '{p}')", set()) == [] for p in PATTERNS}
    wrong = [p for p, ok in zip(PATTERNS, compiles, strict=True) if accepted[p] and not ok]
    assert not wrong, f"saved but unreadable in the browser: {wrong}"
    assert sum(accepted.values()) >= 25 and sum(not ok for ok in accepted.values()) >= 25
    answers = [
        "",
        "a",
        "A",
        "ab",
        "123-4567",
        "0912345678",
        "Đà Lạt",
        "Nguyễn Văn Đức",
        "a\nb",
        "x" * 1000,
        "{}",
        "^]",
        "\\",
        "/",
        "\f\v",
        "\t\n\r",
        "-",
        ".",
    ]
    items = [
        [parse(f"regex(., '{p}')"), {}, answer, None]
        for p in PATTERNS
        if accepted[p]
        for answer in answers
    ]
    python = [typed(evaluate(*item)) for item in items]
    assert run_in_page(page, items) == python
