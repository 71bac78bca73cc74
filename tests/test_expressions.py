"""The expression language on the server: parser, checker and Python evaluator.

tests/expression_cases.json is the shared table: each case is
`{"expr", "answers"?, "current"?, "choice"?, "expected", "note"?}` (a missing
`answers` is {}, a missing `current`/`choice` is null). JSON has no NaN or
infinities, so an expected number that is not finite is written
`{"number": "NaN"}`, `{"number": "Infinity"}` or `{"number": "-Infinity"}`; every
other expected value is the JSON value itself (a list is a select_multiple value).
Results are compared by type as well as value (true is not 1, "3" is not 3).
The same table runs in Chromium in tests/test_expressions_browser.py.
"""

from __future__ import annotations

import json
import math
import random
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from survey_engine.definition.expressions import (
    FUNCTIONS,
    ExpressionError,
    check,
    evaluate,
    parse,
    references,
    truthy,
)

ROOT = Path(__file__).resolve().parent.parent
CASES: list[dict[str, Any]] = json.loads(
    (Path(__file__).with_name("expression_cases.json")).read_text("utf-8")
)
# The language in four modules: expressions.py and its expression_*.py neighbours.
EXPRESSIONS_PY = sorted((ROOT / "survey_engine" / "definition").glob("expression*.py"))
EXPR_JS = ROOT / "survey_engine" / "static" / "expr.js"


def typed(value: Any) -> list:
    """A result as [type, value], with non-finite numbers as text (the table's convention)."""
    if isinstance(value, bool):
        return ["bool", value]
    if isinstance(value, (int, float)):
        f = float(value)
        if f != f:
            return ["number", "NaN"]
        if math.isinf(f):
            return ["number", "Infinity" if f > 0 else "-Infinity"]
        return ["number", f]
    if isinstance(value, str):
        return ["string", value]
    if isinstance(value, list):
        return ["list", list(value)]
    return ["other", repr(value)]


def expected_typed(expected: Any) -> list:
    if isinstance(expected, dict) and set(expected) == {"number"}:
        return ["number", expected["number"]]
    return typed(expected)


def case_id(case: dict) -> str:
    return case["expr"][:40]


# --------------------------------------------------------------- the shared table


def test_table_covers_the_language() -> None:
    assert len(CASES) >= 80
    text = " ".join(case["expr"] for case in CASES)
    for fn in FUNCTIONS:
        assert f"{fn}(" in text, fn
    for op in (
        " = ",
        " != ",
        " < ",
        " <= ",
        " > ",
        " >= ",
        " and ",
        " or ",
        " + ",
        " - ",
        " * ",
        " div ",
        " mod ",
    ):
        assert op in text, op
    for marker in ("${", "'", '"', "(", "."):
        assert marker in text


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_case(case: dict) -> None:
    ast = parse(case["expr"])
    result = evaluate(ast, case.get("answers", {}), case.get("current"), case.get("choice"))
    assert typed(result) == expected_typed(case["expected"]), case


def test_asts_are_json_and_compact() -> None:
    for case in CASES:
        ast = parse(case["expr"])
        assert json.loads(json.dumps(ast, allow_nan=False)) == ast
    assert parse("${a} + 1") == ["+", ["ref", "a"], ["num", 1]]
    assert parse("huyen = ${d}") == ["=", ["prop", "huyen"], ["ref", "d"]]
    assert parse("-.") == ["neg", ["cur"]]
    assert parse("not(selected(${r}, \"x\"))") == [
        "fn",
        "not",
        [["fn", "selected", [["ref", "r"], ["str", "x"]]]],
    ]
    assert parse("a and b or c") == ["or", ["and", ["prop", "a"], ["prop", "b"]], ["prop", "c"]]
    assert parse("2.50") == ["num", 2.5]
    assert parse("x-1 - 1") == ["-", ["prop", "x-1"], ["num", 1]]
    assert parse("1 div 2 mod 3") == ["mod", ["div", ["num", 1], ["num", 2]], ["num", 3]]


def test_today_comes_from_the_argument() -> None:
    leap = date(2024, 2, 29)
    assert evaluate(parse("today()"), {}, today=leap) == "2024-02-29"
    assert evaluate(parse("${d} < today()"), {"d": "2024-02-28"}, today=leap) is True
    assert evaluate(parse("${d} < today()"), {"d": "2024-03-01"}, today=leap) is False
    assert evaluate(parse("today()"), {}) == date.today().isoformat()


def test_truthy() -> None:
    for value in (True, 1.0, -0.5, float("inf"), "x", "0", "false", ["a"]):
        assert truthy(value) is True, value
    for value in (False, 0.0, -0.0, float("nan"), "", [], None, {}):
        assert truthy(value) is False, value


def test_references() -> None:
    ast = parse("if(${a} > 1, concat(${b}, huyen), -${c}) or selected(${a}, .)")
    assert references(ast) == {"a", "b", "c"}
    assert references(parse("1 + 2")) == set()
    assert references(["fn", "x", "not a list"]) == set()


def test_no_eval_anywhere() -> None:
    assert len(EXPRESSIONS_PY) == 4
    python = "\n".join(path.read_text("utf-8") for path in EXPRESSIONS_PY)
    js = EXPR_JS.read_text("utf-8")
    assert not re.search(r"(?<![\w.])(eval|exec|compile)\s*\(", python)
    assert not re.search(r"\beval\s*\(|\bFunction\s*\(|setTimeout|setInterval", js)


# ------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("(1 + 2", "expected ')', got the end of the expression", 7),
        ("", "empty expression", 1),
        ("   ", "empty expression", 1),
        ("1 +", "expected a value, got the end of the expression", 4),
        ("1 == 2", "expected a value, got '='", 4),
        ("${a} ${b}", "expected an operator, got '${b}'", 6),
        ("1 2", "expected an operator, got '2'", 3),
        ("'abc", "unterminated string: no closing '", 1),
        ("concat(\"a', 'b')", "unterminated string: no closing \"", 8),
        ("${1a} = 1", "expected a question name after '${'", 3),
        ("${a b}", "expected '}' after the question name", 4),
        ("${a", "expected '}' after the question name", 4),
        ("1 # 2", "unexpected character '#'", 3),
        ("${q} = Đà", "unexpected character 'Đ'", 8),
        ("${q} = \u2018x\u2019", "unexpected character '\u2018' (use straight quotes ' or \")", 8),
        ("round(1 2)", "expected ',' or ')', got '2'", 9),
        ("round(1,", "expected a value, got the end of the expression", 9),
        ("concat(1, 2", "expected ',' or ')', got the end of the expression", 12),
        ("()", "expected a value, got ')'", 2),
        (") + 1", "expected a value, got ')'", 1),
        ("9" * 400, "number too large", 1),
        ("(" * 31 + "1" + ")" * 31, "nested too deeply (more than 30 levels)", 31),
        ("1" + " + 1" * 101, "expression too complex (more than 100 nested operations)", 403),
    ],
)
def test_syntax_errors(text: str, message: str, position: int) -> None:
    with pytest.raises(ExpressionError) as info:
        parse(text)
    assert info.value.message == message
    assert info.value.position == position
    assert str(info.value) == f"at character {position}: {message}"
    assert check(text, {"a", "q"}) == [str(info.value)]


def test_nesting_up_to_the_limit_parses() -> None:
    assert parse("(" * 30 + "1" + ")" * 30) == ["num", 1]
    assert evaluate(parse(" + ".join(["1"] * 101)), {}) == 101


def test_check_lists_every_problem_in_order() -> None:
    text = "round(${agee}, 1, 2) + cont-selected(${a}) + huyen + today(1)"
    assert check(text, {"age", "a"}) == [
        "at character 1: round() takes 1 or 2 arguments, got 3",
        "at character 7: unknown question '${agee}'; did you mean '${age}'?",
        "at character 24: unknown function 'cont-selected()'; did you mean 'count-selected()'?",
        "at character 46: bare name 'huyen' is only allowed in a choice_filter "
        "(for the answer to a question write ${huyen})",
        "at character 54: today() takes no arguments, got 1",
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("if(${a}, 1)", "at character 1: if() takes 3 arguments, got 2"),
        ("not(${a}, 1)", "at character 1: not() takes 1 argument, got 2"),
        ("concat()", "at character 1: concat() takes at least 1 argument, got 0"),
        ("selected(${a})", "at character 1: selected() takes 2 arguments, got 1"),
        ("1 + foo(${a})", "at character 5: unknown function 'foo()'"),
        ("${b} = 1", "at character 1: unknown question '${b}'"),
        ("max()", "at character 1: max() takes at least 1 argument, got 0"),
        (
            "count(${a}) > 1",
            "at character 1: count() counts a repeat's rows, which survey-engine's expressions "
            "do not read yet: give the roster a count of its own (`count`, XLSForm's "
            "repeat_count) and use that answer (for the choices ticked in a select_multiple "
            "write count-selected())",
        ),
        (
            "regex(${a}, '(')",
            "at character 1: regex(): bad pattern '(': missing ): ( "
            "(patterns use RE2 syntax: no backreferences such as \\1, no "
            "lookaround such as (?=...))",
        ),
    ],
)
def test_check_problems(text: str, problem: str) -> None:
    assert check(text, {"a"}) == [problem]


def test_check_accepts_good_expressions() -> None:
    known = {"age", "district", "reasons"}
    assert check("${age} >= 18 and count-selected(${reasons}) <= 3", known) == []
    assert check("huyen = ${district}", known, allow_bare_names=True) == []
    assert check("concat(${age})", known) == []
    assert check("round(1.5) + round(1.25, 1)", set()) == []
    assert check(". > 0", set()) == []
    for case in CASES:  # every case is a valid expression (the bad regex aside)
        problems = check(case["expr"], set(), allow_bare_names=True)
        assert [
            p for p in problems if "unknown question" not in p and "bad pattern" not in p
        ] == [], case


# --------------------------------------------------------- random and hostile input

ALPHABET = [
    "${a}",
    "${b}",
    "${m}",
    "${zz}",
    ".",
    "huyen",
    "1",
    "0",
    "2.5",
    ".5",
    "'x'",
    "''",
    "'Đà Lạt'",
    "(",
    ")",
    ",",
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "+",
    "-",
    "*",
    "div",
    "mod",
    "and",
    "or",
    "not(",
    "selected(",
    "count-selected(",
    "string-length(",
    "regex(",
    "if(",
    "coalesce(",
    "today(",
    "number(",
    "int(",
    "round(",
    "concat(",
    "'",
    "\"",
    "${",
    "}",
    "$",
]

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=8),
    st.floats(allow_nan=False, allow_infinity=False),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)
ANSWERS = st.dictionaries(st.sampled_from(["a", "b", "m", "huyen", "x"]), JSON_VALUES, max_size=5)
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_value(result: Any) -> None:
    assert isinstance(result, (str, float, bool, list)), result
    if isinstance(result, list):
        assert all(isinstance(e, str) for e in result)


@FAST
@given(st.text(max_size=80), ANSWERS, JSON_VALUES, JSON_VALUES)
def test_arbitrary_text_parses_or_fails_cleanly(
    text: str, answers: dict, current: Any, choice: Any
) -> None:
    try:
        ast = parse(text)
    except ExpressionError as exc:
        assert 1 <= exc.position <= len(text) + 1
        return
    json.dumps(ast, allow_nan=False)
    assert_value(evaluate(ast, answers, current, choice))
    check(text, {"a"})


@FAST
@given(
    st.lists(st.sampled_from(ALPHABET), min_size=1, max_size=14), ANSWERS, JSON_VALUES, JSON_VALUES
)
def test_token_soup_never_raises(
    tokens: list[str], answers: dict, current: Any, choice: Any
) -> None:
    text = " ".join(tokens)
    assert isinstance(check(text, {"a", "b"}, allow_bare_names=True), list)
    try:
        ast = parse(text)
    except ExpressionError:
        return
    json.dumps(ast, allow_nan=False)
    assert_value(evaluate(ast, answers, current, choice))


@FAST
@given(st.integers(0, 2**32), ANSWERS, JSON_VALUES, JSON_VALUES)
def test_generated_expressions_evaluate(
    seed: int, answers: dict, current: Any, choice: Any
) -> None:
    text = random_expression(random.Random(seed))
    ast = parse(text)
    assert check(text, {"a", "b", "m", "n", "zz"}, allow_bare_names=True) == [] or "regex" in text
    assert_value(evaluate(ast, answers, current, choice, date(2024, 1, 31)))


@FAST
@given(JSON_VALUES, ANSWERS)
def test_malformed_asts_evaluate_to_something(ast: Any, answers: dict) -> None:
    assert_value(evaluate(ast, answers))
    assert_value(evaluate(["fn", "round", [ast]], answers))
    assert_value(evaluate([ast, ast, ast], answers))
    references(ast)


def test_hostile_answers() -> None:
    ast = parse("concat(${a}, count-selected(${a}), ${a} + 1, string-length(${a}))")
    for value in (
        10**400,
        -(10**400),
        {"x": 1},
        [None, {"a": 1}, 3, "x", True],
        float("inf"),
        "\ud800",
        "\x00",
    ):
        assert_value(evaluate(ast, {"a": value}))
    assert evaluate(parse("${a}"), {"a": 10**400}) == float("inf")
    assert evaluate(parse("${a}"), {"a": [1, "x", None, 2.5, True]}) == ["1", "x", "2.5"]
    assert evaluate(parse("${constructor}"), {}) == ""
    assert evaluate(parse("huyen"), {}, choice=["not", "a", "dict"]) == ""  # type: ignore[arg-type]


# ------------------------------------------------------------- random expressions
# Shared with the browser's differential test: well-formed expressions over a few
# answers, mixing every operator and function (but not today(), which depends on
# the moment of evaluation in each language).

_ATOMS = [
    "${a}",
    "${b}",
    "${m}",
    "${n}",
    "${zz}",
    ".",
    "huyen",
    "code",
    "0",
    "1",
    "2",
    "3",
    "2.5",
    "0.1",
    ".5",
    "1000000",
    "'a'",
    "''",
    "' 4 '",
    "'3'",
    "'x y'",
    "'Đà Lạt'",
    "'2024-01-31'",
    "'2023-12-01'",
    "'NaN'",
    "'true'",
    "'1e3'",
    "'-.5'",
    "'😀'",
]
_PATTERNS = [
    "'^[0-9]+$'",
    "'Đà'",
    "'^.{2,5}$'",
    "'a|b'",
    "'('",
    "'\\d'",
    "'^[À-ỹ ]+$'",
    "'ạ'",
    "'^$'",
    "'[a-z]'",
    "'^\\w+$'",
    "'^.$'",
    "'^.{2}$'",
]
_BINARY = ["or", "and", "=", "!=", "<", "<=", ">", ">=", "+", "-", "*", "div", "mod"]
_CALLS = {
    "not": 1,
    "selected": 2,
    "count-selected": 1,
    "string-length": 1,
    "if": 3,
    "coalesce": 2,
    "number": 1,
    "int": 1,
    "round": 2,
    "concat": 3,
    "min": 3,
    "max": 3,
}
_VALUES = [
    None,
    "",
    "a",
    "b",
    "x y",
    "3",
    " 4 ",
    "2.5",
    "-0",
    "Đà Lạt",
    "Lâm Đồng",
    "2024-01-31",
    "2023-12-01",
    "abc",
    "0",
    "true",
    "😀x",
    0,
    1,
    -1.5,
    2.5,
    3,
    1e21,
    9007199254740991,
    0.1,
    -0.0,
    True,
    False,
    [],
    ["a"],
    ["a", "b"],
    ["3"],
    ["x", "y", "z"],
]


def random_expression(rnd: random.Random, depth: int = 4) -> str:
    """A well-formed expression (only regex patterns may be bad)."""
    roll = rnd.random()
    if depth == 0 or roll < 0.25:
        return rnd.choice(_ATOMS)
    if roll < 0.55:
        op = rnd.choice(_BINARY)
        return f"{random_expression(rnd, depth - 1)} {op} {random_expression(rnd, depth - 1)}"
    if roll < 0.62:
        return f"-{random_expression(rnd, depth - 1)}"
    if roll < 0.70:
        return f"({random_expression(rnd, depth - 1)})"
    if roll < 0.76:
        return f"regex({random_expression(rnd, depth - 1)}, {rnd.choice(_PATTERNS)})"
    name = rnd.choice(sorted(_CALLS))
    count = _CALLS[name]
    if name == "round":
        count = rnd.choice([1, 2])
    elif name in ("concat", "min", "max"):
        count = rnd.randint(1, 3)
    args = ", ".join(random_expression(rnd, depth - 1) for _ in range(count))
    return f"{name}({args})"


def random_answers(rnd: random.Random) -> dict[str, Any]:
    return {name: rnd.choice(_VALUES) for name in ("a", "b", "m", "n") if rnd.random() < 0.85}


def random_choice(rnd: random.Random) -> dict[str, Any] | None:
    if rnd.random() < 0.2:
        return None
    return {"name": "c1", "huyen": rnd.choice(_VALUES), "code": rnd.choice(_VALUES)}


# ------------------------------------------------------------------ finding 4: ReDoS

CATASTROPHIC = "regex(., '^(a+)+$')"


def test_finding4_catastrophic_pattern_is_linear() -> None:
    """'^(a+)+$' on 27 characters took Python's re 1.9 s, doubling per character; on
    10,000 it would never finish. Run in a subprocess so a regression fails the test
    (by its timeout) instead of hanging the suite."""
    import subprocess
    import sys

    script = (
        "from survey_engine.definition.expressions import evaluate, parse\n"
        f"ast = parse({CATASTROPHIC!r})\n"
        "print(evaluate(ast, {}, 'a' * 10000 + 'b'), evaluate(ast, {}, 'a' * 10000),\n"
        "      evaluate(parse(\"regex(., '^(a|aa)+$')\"), {}, 'a' * 10000 + '!'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=True,
    )
    assert done.stdout.split() == ["False", "True", "False"]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("regex(., ${a})", "the pattern must be a text in quotes"),
        ("regex(., concat('^', ${a}))", "the pattern must be a text in quotes"),
        ("regex(., if(${a}, '^a', '^b'))", "the pattern must be a text in quotes"),
        ("regex(., '(a)\\1')", "bad pattern '(a)\\\\1': invalid escape sequence"),
        ("regex(., 'a(?=b)')", "bad pattern 'a(?=b)': invalid perl operator: (?="),
        ("regex(., '(?<!x)a')", "invalid perl operator"),
        ("regex(., 'a{1001}')", "invalid repetition size"),
        ("regex(., '" + "a" * 501 + "')", "the pattern is 501 characters long, at most 500"),
    ],
)
def test_finding4_pattern_refused_at_save_time(text: str, fragment: str) -> None:
    problems = check(text, {"a"})
    assert len(problems) == 1 and problems[0].startswith("at character 1: regex(): "), problems
    assert fragment in problems[0], problems


def test_finding4_literal_patterns_still_accepted() -> None:
    for text in (
        "regex(., '^(a+)+$')",
        "regex(${a}, '^\\p{L}+$')",
        "regex(., '^0[0-9]{9}$')",
        "regex(., '" + "a" * 500 + "')",
    ):
        assert check(text, {"a"}) == [], text


def test_finding4_regex_from_an_answer_refused_in_a_definition() -> None:
    from survey_engine.definition import validate_definition

    definition = {
        "format": "survey-engine/1",
        "slug": "s",
        "title": "T",
        "pages": [
            {
                "name": "p",
                "questions": [
                    {"name": "q1", "type": "text", "label": "Pattern"},
                    {
                        "name": "q2",
                        "type": "text",
                        "label": "Text",
                        "constraint": "regex(., ${q1})",
                    },
                ],
            }
        ],
    }
    problems = validate_definition(definition)
    assert problems == [
        "pages[0].questions[1].constraint: at character 1: regex(): the "
        "pattern must be a text in quotes, such as regex(., '^[0-9]{10}$'), "
        "not computed from answers or other values"
    ]
