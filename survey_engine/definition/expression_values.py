"""Expressions' values: the server's evaluator of the AST (expression_syntax.py), the
twin of survey_engine/static/expr.js; the rules both follow line by line are written
down in survey_engine/definition/expressions.py.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from collections.abc import Callable
from datetime import date
from typing import Any

from survey_engine.definition.expression_patterns import compiled
from survey_engine.definition.expression_syntax import BINARY

_NUMBER_TEXT = re.compile(r"[ \t\n\r]*-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[ \t\n\r]*")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")

Value = str | float | bool | list[str]


def _float(x: int | float) -> float:
    try:
        return float(x)
    except OverflowError:  # a huge JSON integer: JS reads it as +-Infinity
        return math.inf if x > 0 else -math.inf


def _data(v: Any) -> Value:
    """A JSON value from answers, `.` or a choice, as an expression value."""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return _float(v)
    if isinstance(v, list):
        return [
            e if isinstance(e, str) else _num_str(_float(e))
            for e in v
            if isinstance(e, str) or (isinstance(e, (int, float)) and not isinstance(e, bool))
        ]
    return ""


def _num_str(x: float) -> str:
    """JS Number.prototype.toString(x) (ECMA-262 Number::toString, radix 10)."""
    if x != x:
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    mantissa, _, exp = repr(abs(x)).partition("e")  # shortest round-trip digits
    whole, _, frac = mantissa.partition(".")
    every = (whole + frac).lstrip("0")
    digits = every.rstrip("0")
    # value = int(digits) * 10**(n - k), as in the ECMAScript algorithm
    k = len(digits)
    n = k + int(exp or 0) - len(frac) + (len(every) - k)
    if k <= n <= 21:
        out = digits + "0" * (n - k)
    elif 0 < n <= 21:
        out = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        out = "0." + "0" * -n + digits
    else:
        e = n - 1
        out = (
            digits[0]
            + ("." + digits[1:] if k > 1 else "")
            + "e"
            + ("+" if e >= 0 else "-")
            + str(abs(e))
        )
    return sign + out


def _str(v: Value) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return _num_str(v)
    if isinstance(v, list):
        return " ".join(v)
    return ""


def _num(v: Value) -> float:
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, float):
        return v
    s = _str(v)
    return float(s) if _NUMBER_TEXT.fullmatch(s) else math.nan


def truthy(value: Any) -> bool:
    """boolean() of an expression value: what relevant/constraint/filters test."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value == value and value != 0
    if isinstance(value, (str, list)):
        return len(value) > 0
    return False


def _names(v: Value) -> list[str]:
    return v if isinstance(v, list) else [p for p in _str(v).split(" ") if p]


def _equal(a: Value, b: Value) -> bool:
    if isinstance(a, float) or isinstance(b, float):  # bool is not a float
        return _num(a) == _num(b)
    if isinstance(a, bool) or isinstance(b, bool):
        return truthy(a) == truthy(b)
    return _str(a) == _str(b)


def _is_date(v: Value) -> bool:
    return isinstance(v, (str, list)) and _DATE.fullmatch(_str(v)) is not None


def _order(op: str, a: Value, b: Value) -> bool:
    x: Any
    y: Any
    if _is_date(a) and _is_date(b):
        x, y = _str(a), _str(b)
    else:
        x, y = _num(a), _num(b)
    if op == "<":
        return x < y
    if op == "<=":
        return x <= y
    if op == ">":
        return x > y
    return x >= y


def _div(a: float, b: float) -> float:
    if b == 0:
        if a != a or a == 0:
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def _mod(a: float, b: float) -> float:
    if b == 0 or math.isinf(a) or a != a or b != b:
        return math.nan
    return math.fmod(a, b)


def _floor(x: float) -> float:
    return float(math.floor(x)) if math.isfinite(x) else x


def _int(x: float) -> float:
    return math.copysign(float(math.trunc(x)), x) if math.isfinite(x) else x


def _round(x: float, d: float) -> float:
    if d != d:
        return math.nan
    p = float(f"1e{int(_int(max(-400.0, min(400.0, d))))}")
    s = -1.0 if x < 0 else 1.0
    return _div(s * _floor(abs(x) * p + 0.5), p)


def _regex(s: str, p: str) -> bool:
    """re2 search: linear in len(s) (no backtracking), unlike re."""
    try:
        program = compiled(p)
    except Exception:  # noqa: BLE001 - a bad pattern is False, whatever re2 raises
        return False
    # RE2 reads UTF-8, which cannot hold a lone surrogate: such a character (never
    # accepted in an answer, but evaluation never raises) reads as U+FFFD.
    s = _SURROGATE.sub("\ufffd", s)
    return program.search(s) is not None


def _call(name: Any, a: list[Value], n: int, today: date | None) -> Value:
    if name == "not":
        return not truthy(a[0])
    if name == "selected":
        return _str(a[1]) in _names(a[0])
    if name == "count-selected":
        return float(len(_names(a[0])))
    if name == "string-length":
        return float(len(_str(a[0])))
    if name == "regex":
        return _regex(_str(a[0]), _str(a[1]))
    if name == "if":
        return a[1] if truthy(a[0]) else a[2]
    if name == "coalesce":
        return a[0] if _str(a[0]) != "" else a[1]
    if name == "today":
        d = today or date.today()
        return f"{d.year:04d}-{d.month:02d}-{d.day:02d}"
    if name == "number":
        return _num(a[0])
    if name == "int":
        return _int(_num(a[0]))
    if name == "round":
        return _round(_num(a[0]), _num(a[1]) if n > 1 else 0.0)
    if name == "concat":
        return "".join(_str(v) for v in a[:n])
    if name in ("min", "max"):
        return _extreme(name == "max", [_num(v) for v in a[:n]])
    return ""


def _extreme(largest: bool, values: list[float]) -> float:
    """min()/max(): NaN if any value is, else the first smallest/largest (expr.js
    walks the same way: Math.min would make min(0, -0) -0)."""
    if not values or any(math.isnan(v) for v in values):
        return math.nan
    best = values[0]
    for value in values[1:]:
        if (value > best) if largest else (value < best):
            best = value
    return best


def _get(mapping: Any, key: Any) -> Value:
    if isinstance(mapping, dict) and isinstance(key, str):
        return _data(mapping.get(key))
    return ""


# A compiled expression: (answers, current, choice, today) -> its value.
Compiled = Callable[[Any, Any, Any, "date | None"], Value]

_ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "+": lambda p, q: p + q,
    "-": lambda p, q: p - q,
    "*": lambda p, q: p * q,
    "div": _div,
    "mod": _mod,
}


def _constant(value: Value) -> Compiled:
    return lambda answers, current, choice, today: value


def _compile(node: Any) -> Compiled:
    """The node as nested closures: the tree is walked once, when an expression is first
    evaluated, instead of on every evaluation (each submission evaluates a survey's
    relevance, constraints and filters again; BENCHMARKS.md, issue 13)."""
    if not isinstance(node, list) or not node:
        return _constant("")
    t = node[0]
    x = node[1] if len(node) > 1 else None
    y = node[2] if len(node) > 2 else None
    if t == "num":
        number = _float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else math.nan
        return _constant(number)
    if t == "str":
        return _constant(x if isinstance(x, str) else "")
    if t == "ref":
        return lambda answers, current, choice, today: _get(answers, x)
    if t == "cur":
        return lambda answers, current, choice, today: _data(current)
    if t == "prop":
        return lambda answers, current, choice, today: _get(choice, x)
    if t == "neg":
        f = _compile(x)
        return lambda *env: -_num(f(*env))
    if t in ("and", "or"):
        f, g = _compile(x), _compile(y)
        if t == "and":
            return lambda *env: truthy(f(*env)) and truthy(g(*env))
        return lambda *env: truthy(f(*env)) or truthy(g(*env))
    if t == "fn":
        fs = [_compile(arg) for arg in y] if isinstance(y, list) else []
        n = len(fs)
        padding = [""] * (3 - n)

        def call(answers: Any, current: Any, choice: Any, today: date | None) -> Value:
            args = [f(answers, current, choice, today) for f in fs] + padding
            return _call(x, args, n, today)

        return call
    if t not in BINARY:
        return _constant("")
    f, g = _compile(x), _compile(y)
    if t == "=":
        return lambda *env: _equal(f(*env), g(*env))
    if t == "!=":
        return lambda *env: not _equal(f(*env), g(*env))
    if t in ("<", "<=", ">", ">="):
        return lambda *env: _order(t, f(*env), g(*env))
    operation = _ARITHMETIC.get(t, _mod)
    return lambda *env: operation(_num(f(*env)), _num(g(*env)))


# id(ast) -> (ast, its compiled form); holding the AST keeps its id from being reused.
_COMPILED: OrderedDict[int, tuple[Any, Compiled]] = OrderedDict()
COMPILED_REMEMBERED = 20_000  # expressions: every published version's, many times over


def compiled_expression(ast: Any) -> Compiled:
    found = _COMPILED.get(id(ast))
    if found is not None and found[0] is ast:
        return found[1]
    fn = _compile(ast)
    _COMPILED[id(ast)] = (ast, fn)
    if len(_COMPILED) > COMPILED_REMEMBERED:
        _COMPILED.popitem(last=False)
    return fn


def evaluate(
    ast: Any,
    answers: dict[str, Any],
    current: Any = None,
    choice: dict[str, Any] | None = None,
    today: date | None = None,
) -> Value:
    """Evaluate a parsed expression: a str, float, bool or list of names.

    `answers` maps question names to JSON answers, `current` is the value of `.`,
    `choice` the choice whose properties bare names read (choice_filter), `today`
    replaces the server's date for today(). Never raises, whatever the answers hold;
    a malformed node evaluates to '' (ASTs come from parse(), bounded to MAX_DEPTH).
    """
    return compiled_expression(ast)(answers, current, choice, today)
