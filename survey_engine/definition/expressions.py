"""The expression language of survey-engine/1: one parser, two evaluators.

Why: `relevant`, `constraint`, `choice_filter` and `calculation` are XLSForm
expressions written by staff. They are parsed once, here, into a small JSON AST
(never eval'd, in any language). This module evaluates the AST on the server;
`survey_engine/static/expr.js` evaluates the very same AST in the respondent's
browser. The two must agree exactly, so every rule below is written down and both
interpreters implement it line by line (tests/expression_cases.json is run against
both, plus a randomised differential test in tests/test_expressions_browser.py).

Syntax (an XLSForm/XPath subset), lowest to highest precedence:
``or``; ``and``; ``= !=``; ``< <= > >=``; ``+ -``; ``* div mod``; unary ``-``;
primaries: ``${name}`` (an answer), ``.`` (the current question's value), a bare
name such as ``huyen`` (a property of the choice being filtered; only where
``allow_bare_names``), numbers ``3`` ``2.5`` ``.5`` (no exponent), strings in '...'
or "..." (no escapes, as in XPath; stored in Unicode NFC like text answers),
``( ... )`` and calls ``f(a, b)`` of the functions in FUNCTIONS. As in XPath, a name
may contain ``-`` and ``.`` (``count-selected``), so ``a-1`` is one name: write
``a - 1``. ``and or div mod`` are operators where an operator is expected.
Binary operators are left-associative.

AST (plain lists, JSON-serialisable, shipped to the page as is)::

    ["num", 2.5]  ["str", "x"]  ["ref", "age"]  ["cur"]  ["prop", "huyen"]
    ["neg", a]    [op, a, b]    for op in or and = != < <= > >= + - * div mod
    ["fn", "selected", [a, b]]

Values while evaluating: str, float (JS number), bool, list[str] (select_multiple).
Data (answers, `.`, choice properties) is read as: missing/None -> ''; str as is;
number -> float; true/false -> 'true'/'false' (all instance data is text in XLSForm,
so ``active = 'true'`` works); a list -> its string items, numbers turned into text,
other items dropped; anything else -> ''. Unknown ``${name}`` -> ''.

- string(v): list -> names joined by ' '; bool -> 'true'/'false'; number -> as JS
  String(x) does: '3', '2.5', '0.1', '1e+21', '1e-7', 'NaN', 'Infinity', '-0' -> '0'.
- number(v): bool -> 1/0; a string matching XPath's Number, ``-?(\\d+(\\.\\d*)?|\\.\\d+)``
  with ASCII digits and optional surrounding space/tab/CR/LF -> its float; anything
  else (including '', '1e3', '+1', 'NaN') -> NaN. A list: number of its string.
- boolean(v): number -> not 0 and not NaN; str/list -> non-empty; bool -> itself.
- ``=`` / ``!=``: a number on either side -> numbers (NaN equals nothing, so
  ``${age} = 0`` is false when unanswered); else a bool on either side -> booleans;
  else strings. ``!=`` is exactly ``not(=)``.
- ``< <= > >=``: both sides strings (or lists) of the form YYYY-MM-DD -> compared as
  strings; otherwise as numbers (any NaN -> false).
- ``and`` / ``or`` return booleans. ``- + *`` are IEEE float arithmetic on number().
  ``div`` is float division: x div 0 is Infinity, -Infinity or NaN (sign of a
  negative zero included), never an error. ``mod`` is JS ``%`` (math.fmod): sign of
  the dividend; x mod 0, Infinity mod x and NaN -> NaN.
- not(x); if(c, a, b) -> a or b unchanged; coalesce(a, b) -> a if string(a) != ''
  else b; concat(...) -> strings joined; string-length(s) -> Unicode code points of
  string(s); selected(l, x) -> string(x) is among the names of l (a list, or a
  string split on single spaces with empty parts dropped); count-selected(l) ->
  number of names; number(x); int(x) truncates toward 0 (NaN/Infinity unchanged);
  round(x[, d]): d = trunc(number(d)) clamped to [-400, 400] (default 0; NaN ->
  NaN); p = float('1e<d>') (decimal parsing: exact in both languages);
  sign(x) * floor(abs(x) * p + 0.5) / p: halves away from zero, so round(2.5) = 3,
  round(-2.5) = -3, but round(1.005, 2) = 1 because 1.005 is 1.00499999999999989...
  today() -> 'YYYY-MM-DD' (here: the `today` argument or the server's local date;
  in the page: the browser's local date).
- regex(s, p): True when p is found somewhere in string(s). The pattern must be a
  string literal (check() refuses regex(., ${q1}): an answer never becomes a
  pattern), of at most MAX_PATTERN_LENGTH characters, that RE2 compiles (no
  backreferences, no lookaround). Python runs it with RE2 (google-re2: linear time in
  the answer's length, whatever the pattern, so '^(a+)+$' cannot stall a worker), the
  page new RegExp(p, 'u').test(s); a bad pattern is False. Both engines agree on the
  common subset (literals, any Unicode letter such as 'Đà Lạt', classes and ranges like
  [À-ỹ], \\p{L}, ^ $ . | ( ) ? * + {m,n} with n <= 1000, \\d \\w \\b as ASCII).
  check() also refuses what RE2 reads but the page's RegExp(p, 'u') refuses (so every
  answer would fail in the page and pass on the server): escapes outside that subset
  ('\\-' outside [...], '\\A', '\\pL', '\\x{41}', ...), inline flags and (?P<n>...),
  POSIX classes, a '{' that is not a repetition, a lone '}' or ']'. Known differences
  left: \\s (JS also matches Unicode spaces and \\v), '.' and '\\r'.
- Unknown functions or missing arguments (only possible in ASTs check() refused)
  evaluate as ''. Evaluation never raises, whatever the answers hold.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
import unicodedata
from collections.abc import Iterable
from datetime import date
from typing import Any

import re2

__all__ = ["ExpressionError", "FUNCTIONS", "check", "evaluate", "parse", "references",
           "truthy"]

# name -> (least, most) number of arguments; most None = any number.
FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "not": (1, 1), "selected": (2, 2), "count-selected": (1, 1), "string-length": (1, 1),
    "regex": (2, 2), "if": (3, 3), "coalesce": (2, 2), "today": (0, 0), "number": (1, 1),
    "int": (1, 1), "round": (1, 2), "concat": (1, None),
}
BINARY = ("or", "and", "=", "!=", "<", "<=", ">", ">=", "+", "-", "*", "div", "mod")
MAX_NESTING = 30  # parentheses, calls and unary minus inside each other
MAX_DEPTH = 100  # operations inside each other: bounds recursion in both evaluators
# Longest regex() pattern accepted at save time (a phone or ID-number pattern is ~20).
MAX_PATTERN_LENGTH = 500

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_QUESTION = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER_LITERAL = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")
_NUMBER_TEXT = re.compile(r"[ \t\n\r]*-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[ \t\n\r]*")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_SYMBOLS = ("<=", ">=", "!=", "=", "<", ">", "+", "-", "*", "(", ")", ",")
_CURLY_QUOTES = "\u2018\u2019\u201c\u201d"
_LEVELS = (("or",), ("and",), ("=", "!="), ("<", "<=", ">", ">="), ("+", "-"),
           ("*", "div", "mod"))
_WORD_OPERATORS = {"or", "and", "div", "mod"}
_DIGITS = set("0123456789")

Value = str | float | bool | list[str]


class ExpressionError(ValueError):
    """A syntax error; `position` is the 1-based character where it was found."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"at character {position}: {message}")
        self.message = message
        self.position = position


# --------------------------------------------------------------------------- parsing

class _Token:
    __slots__ = ("kind", "value", "pos", "text")

    def __init__(self, kind: str, value: Any, pos: int, text: str) -> None:
        self.kind, self.value, self.pos, self.text = kind, value, pos, text

    def describe(self) -> str:
        return "the end of the expression" if self.kind == "end" else f"'{self.text}'"


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        pos = i + 1
        if ch.isspace():
            i += 1
        elif ch in "'\"":
            end = text.find(ch, i + 1)
            if end < 0:
                raise ExpressionError(f"unterminated string: no closing {ch}", pos)
            value = unicodedata.normalize("NFC", text[i + 1:end])
            out.append(_Token("str", value, pos, text[i:end + 1]))
            i = end + 1
        elif ch == "$" and text.startswith("${", i):
            m = _QUESTION.match(text, i + 2)
            if not m:
                raise ExpressionError("expected a question name after '${'", i + 3)
            if not text.startswith("}", m.end()):
                raise ExpressionError("expected '}' after the question name", m.end() + 1)
            out.append(_Token("ref", m.group(), pos, text[i:m.end() + 1]))
            i = m.end() + 1
        elif ch in _DIGITS or (ch == "." and text[i + 1:i + 2] in _DIGITS):
            m = _NUMBER_LITERAL.match(text, i)
            assert m is not None
            value = float(m.group())
            if math.isinf(value):
                raise ExpressionError("number too large", pos)
            if value.is_integer() and abs(value) < 2 ** 53:
                value = int(value)  # compact AST: 3, not 3.0
            out.append(_Token("num", value, pos, m.group()))
            i = m.end()
        elif ch == ".":
            out.append(_Token("cur", None, pos, "."))
            i += 1
        elif m := _NAME.match(text, i):
            out.append(_Token("name", m.group(), pos, m.group()))
            i = m.end()
        else:
            for sym in _SYMBOLS:
                if text.startswith(sym, i):
                    out.append(_Token("op", sym, pos, sym))
                    i += len(sym)
                    break
            else:
                hint = " (use straight quotes ' or \")" if ch in _CURLY_QUOTES else ""
                raise ExpressionError(f"unexpected character '{ch}'{hint}", pos)
    out.append(_Token("end", None, n + 1, ""))
    return out


class _Parser:
    """Recursive descent over _LEVELS; records where names and calls appear so that
    check() can point at them (the AST itself stays free of positions)."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.i = 0
        self.nesting = 0
        self.depth: dict[int, int] = {}  # id(node) -> AST depth
        self.refs: list[tuple[str, int]] = []
        self.props: list[tuple[str, int]] = []
        self.calls: list[tuple[str, int, int, list]] = []  # name, position, argc, args

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def node(self, pos: int, node: list, *children: list) -> list:
        depth = 1 + max((self.depth.get(id(c), 0) for c in children), default=-1)
        if depth > MAX_DEPTH:
            raise ExpressionError(
                f"expression too complex (more than {MAX_DEPTH} nested operations)", pos)
        self.depth[id(node)] = depth
        return node

    def enter(self, pos: int) -> None:
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise ExpressionError(
                f"nested too deeply (more than {MAX_NESTING} levels)", pos)

    def parse(self) -> list:
        first = self.peek()
        if first.kind == "end":
            raise ExpressionError("empty expression", 1)
        ast = self.binary(0)
        tok = self.peek()
        if tok.kind != "end":
            raise ExpressionError(f"expected an operator, got {tok.describe()}", tok.pos)
        return ast

    def operator(self, level: int) -> str | None:
        tok = self.peek()
        ops = _LEVELS[level]
        if tok.kind == "op" and tok.value in ops:
            return tok.value
        if tok.kind == "name" and tok.value in _WORD_OPERATORS and tok.value in ops:
            return tok.value
        return None

    def binary(self, level: int) -> list:
        if level == len(_LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while (op := self.operator(level)) is not None:
            pos = self.take().pos
            right = self.binary(level + 1)
            left = self.node(pos, [op, left, right], left, right)
        return left

    def unary(self) -> list:
        tok = self.peek()
        if tok.kind == "op" and tok.value == "-":
            self.take()
            self.enter(tok.pos)
            operand = self.unary()
            self.nesting -= 1
            return self.node(tok.pos, ["neg", operand], operand)
        return self.primary()

    def primary(self) -> list:
        tok = self.take()
        if tok.kind == "num":
            return self.node(tok.pos, ["num", tok.value])
        if tok.kind == "str":
            return self.node(tok.pos, ["str", tok.value])
        if tok.kind == "ref":
            self.refs.append((tok.value, tok.pos))
            return self.node(tok.pos, ["ref", tok.value])
        if tok.kind == "cur":
            return self.node(tok.pos, ["cur"])
        if tok.kind == "op" and tok.value == "(":
            self.enter(tok.pos)
            inner = self.binary(0)
            self.nesting -= 1
            self.expect_close()
            return inner
        if tok.kind == "name":
            if self.peek().kind == "op" and self.peek().value == "(":
                return self.call(tok)
            self.props.append((tok.value, tok.pos))
            return self.node(tok.pos, ["prop", tok.value])
        raise ExpressionError(f"expected a value, got {tok.describe()}", tok.pos)

    def expect_close(self) -> None:
        tok = self.take()
        if not (tok.kind == "op" and tok.value == ")"):
            raise ExpressionError(f"expected ')', got {tok.describe()}", tok.pos)

    def call(self, name: _Token) -> list:
        self.take()  # (
        self.enter(name.pos)
        args: list = []
        if self.peek().kind == "op" and self.peek().value == ")":
            self.take()
        else:
            while True:
                args.append(self.binary(0))
                tok = self.take()
                if tok.kind == "op" and tok.value == ")":
                    break
                if not (tok.kind == "op" and tok.value == ","):
                    raise ExpressionError(f"expected ',' or ')', got {tok.describe()}", tok.pos)
        self.nesting -= 1
        self.calls.append((name.value, name.pos, len(args), args))
        return self.node(name.pos, ["fn", name.value, args], *args)


def parse(text: str) -> list:
    """Parse an expression into its AST; raises ExpressionError on a syntax error.

    Only syntax is checked here; check() also refuses unknown questions, unknown
    functions, wrong numbers of arguments and misplaced bare names.
    """
    if not isinstance(text, str):
        raise ExpressionError("an expression must be a text", 1)
    return _Parser(text).parse()


def references(ast: Any) -> set[str]:
    """The question names the AST reads with ${name}."""
    found: set[str] = set()
    stack = [ast]
    while stack:
        node = stack.pop()
        if not isinstance(node, list) or not node:
            continue
        if node[0] == "ref" and len(node) > 1 and isinstance(node[1], str):
            found.add(node[1])
        elif node[0] == "fn" and len(node) > 2 and isinstance(node[2], list):
            stack.extend(node[2])
        else:
            stack.extend(node[1:])
    return found


def _arity_text(least: int, most: int | None) -> str:
    def plural(n: int) -> str:
        return f"{n} argument" + ("" if n == 1 else "s")
    if most is None:
        return f"at least {plural(least)}"
    if least == most:
        return "no arguments" if least == 0 else plural(least)
    return f"{least} or {plural(most)}" if most == least + 1 else \
        f"{least} to {plural(most)}"


def _suggest(name: str, candidates: Iterable[str], fmt: str) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.75)
    return f"; did you mean {fmt.format(close[0])}?" if close else ""


# What both RE2 and the browser's RegExp(p, 'u') read the same way after a backslash;
# '-' only inside [...]. p{..} takes a general category such as L or Lu.
_ESCAPES_BOTH = set("^$\\.*+?()[]{}|/dDwWsSfnrtvbB")
_CATEGORIES = {"L", "Lu", "Ll", "Lt", "Lm", "Lo", "M", "Mn", "Mc", "Me", "N", "Nd", "Nl",
               "No", "P", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "S", "Sm", "Sc", "Sk",
               "So", "Z", "Zs", "Zl", "Zp", "C", "Cc", "Cf", "Co"}
_QUANTIFIER = re.compile(r"\{[0-9]+(?:,[0-9]*)?\}")
_PROPERTY = re.compile(r"[pP]\{([A-Za-z]+)\}")


def _browser_problem(pattern: str) -> str | None:
    """Syntax RE2 accepts but the page's RegExp(p, 'u') refuses (so every answer would
    fail the constraint in the browser and pass on the server), or None."""
    i, n, in_class = 0, len(pattern), False
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            nxt = pattern[i + 1:i + 2]
            prop = _PROPERTY.match(pattern, i + 1)
            if nxt in _ESCAPES_BOTH and nxt and not (in_class and nxt in "bB"):
                i += 2
            elif nxt == "-" and in_class:
                i += 2
            elif nxt == "x" and re.fullmatch(r"[0-9A-Fa-f]{2}", pattern[i + 2:i + 4]):
                i += 4
            elif prop and prop.group(1) in _CATEGORIES:
                i = prop.end()
            elif nxt in "pP" and nxt:
                return (f"\\{nxt} takes a Unicode category in braces, such as \\p{{L}} (a "
                        "letter) or \\p{{Lu}}; browsers read no other form")
            else:
                hint = " (inside [...] it may be escaped)" if nxt == "-" else ""
                return (f"'\\{nxt}' at character {i + 1} is not read the same way by "
                        f"browsers; write it without the backslash{hint}")
            continue
        if in_class:
            if ch == "[" and pattern.startswith("[:", i):
                return "classes such as [:alpha:] are not read by browsers; use \\p{L}"
            if ch == "]":
                in_class = False
        elif ch == "[":
            in_class = True
            i += 2 if pattern[i + 1:i + 2] == "]" else 1  # []..] : the ] is literal in RE2
            if pattern[i - 1:i] == "]" and i - 1 > 0 and pattern[i - 2] == "[":
                return "'[]' is read differently by browsers; write \\] for a ]"
            continue
        elif ch == "(" and pattern.startswith("(?", i) and not (
                pattern.startswith("(?:", i) or re.match(r"\(\?<[A-Za-z]", pattern[i:])):
            return (f"'{pattern[i:i + 3]}' at character {i + 1} is not read by browsers; "
                    "use (?:...) or (?<name>...)")
        elif ch == "{":
            quantifier = _QUANTIFIER.match(pattern, i)
            if not quantifier:
                return (f"'{{' at character {i + 1} is not a repetition; write \\{{ for "
                        "a brace")
            i = quantifier.end()
            continue
        elif ch in "}]":
            return f"'{ch}' at character {i + 1} has no opening; write \\{ch} for it"
        i += 1
    return None


def _pattern_problem(node: list) -> str | None:
    """Why regex()'s pattern argument cannot be saved, or None. A pattern computed from
    answers would let a respondent choose it, so only a literal is accepted."""
    if node[0] != "str":
        return ("regex(): the pattern must be a text in quotes, such as "
                "regex(., '^[0-9]{10}$'), not computed from answers or other values")
    pattern = node[1]
    if len(pattern) > MAX_PATTERN_LENGTH:
        return (f"regex(): the pattern is {len(pattern)} characters long, "
                f"at most {MAX_PATTERN_LENGTH} are accepted")
    try:
        _compiled(pattern)
    except Exception as exc:  # noqa: BLE001 - re2.error, or text UTF-8 cannot hold
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        return (f"regex(): bad pattern {pattern!r}: {reason} (patterns use RE2 syntax: "
                "no backreferences such as \\1, no lookaround such as (?=...))")
    browser = _browser_problem(pattern)
    if browser:
        return f"regex(): pattern {pattern!r}: {browser}"
    return None


def check(text: str, known_names: set[str], allow_bare_names: bool = False) -> list[str]:
    """Every problem of one expression, each naming its 1-based character position;
    [] when the expression is fine. Never raises."""
    try:
        parser = _Parser(text) if isinstance(text, str) else None
        if parser is None:
            raise ExpressionError("an expression must be a text", 1)
        parser.parse()
    except ExpressionError as exc:
        return [str(exc)]
    problems: list[tuple[int, str]] = []
    for name, pos in parser.refs:
        if name not in known_names:
            hint = _suggest(name, known_names, "'${{{}}}'")
            problems.append((pos, f"unknown question '${{{name}}}'{hint}"))
    for name, pos, argc, args in parser.calls:
        if name not in FUNCTIONS:
            hint = _suggest(name, FUNCTIONS, "'{}()'")
            problems.append((pos, f"unknown function '{name}()'{hint}"))
            continue
        least, most = FUNCTIONS[name]
        if argc < least or (most is not None and argc > most):
            problems.append(
                (pos, f"{name}() takes {_arity_text(least, most)}, got {argc}"))
        elif name == "regex":
            problem = _pattern_problem(args[1])
            if problem:
                problems.append((pos, problem))
    if not allow_bare_names:
        for name, pos in parser.props:
            problems.append((pos, f"bare name '{name}' is only allowed in a choice_filter "
                                  f"(for the answer to a question write ${{{name}}})"))
    return [f"at character {pos}: {msg}" for pos, msg in sorted(problems)]


# ------------------------------------------------------------------------ evaluation

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
        return [e if isinstance(e, str) else _num_str(_float(e)) for e in v
                if isinstance(e, str) or (isinstance(e, (int, float))
                                          and not isinstance(e, bool))]
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
        out = digits[0] + ("." + digits[1:] if k > 1 else "") + \
            "e" + ("+" if e >= 0 else "-") + str(abs(e))
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


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a bad pattern is a normal outcome, not a log line
_RE2_OPTIONS.never_capture = True  # only "found or not" is needed
_SURROGATE = re.compile("[\ud800-\udfff]")


@functools.lru_cache(maxsize=512)
def _compiled(pattern: str) -> Any:
    """The RE2 program of a pattern (raises re2.error); patterns are few, reused."""
    return re2.compile(pattern, _RE2_OPTIONS)


def _regex(s: str, p: str) -> bool:
    """re2 search: linear in len(s) (no backtracking), unlike re."""
    try:
        program = _compiled(p)
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
    return ""


def _get(mapping: Any, key: Any) -> Value:
    if isinstance(mapping, dict) and isinstance(key, str):
        return _data(mapping.get(key))
    return ""


def _eval(node: Any, answers: Any, current: Any, choice: Any, today: date | None) -> Value:
    if not isinstance(node, list) or not node:
        return ""
    t = node[0]
    x = node[1] if len(node) > 1 else None
    y = node[2] if len(node) > 2 else None
    if t == "num":
        return _float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) \
            else math.nan
    if t == "str":
        return x if isinstance(x, str) else ""
    if t == "ref":
        return _get(answers, x)
    if t == "cur":
        return _data(current)
    if t == "prop":
        return _get(choice, x)

    def ev(sub: Any) -> Value:
        return _eval(sub, answers, current, choice, today)

    if t == "neg":
        return -_num(ev(x))
    if t == "and":
        return truthy(ev(x)) and truthy(ev(y))
    if t == "or":
        return truthy(ev(x)) or truthy(ev(y))
    if t == "fn":
        args = [ev(arg) for arg in y] if isinstance(y, list) else []
        n = len(args)
        args += [""] * (3 - n)
        return _call(x, args, n, today)
    if t not in BINARY:
        return ""
    a, b = ev(x), ev(y)
    if t == "=":
        return _equal(a, b)
    if t == "!=":
        return not _equal(a, b)
    if t in ("<", "<=", ">", ">="):
        return _order(t, a, b)
    p, q = _num(a), _num(b)
    if t == "+":
        return p + q
    if t == "-":
        return p - q
    if t == "*":
        return p * q
    if t == "div":
        return _div(p, q)
    return _mod(p, q)


def evaluate(ast: Any, answers: dict[str, Any], current: Any = None,
             choice: dict[str, Any] | None = None, today: date | None = None) -> Value:
    """Evaluate a parsed expression: a str, float, bool or list of names.

    `answers` maps question names to JSON answers, `current` is the value of `.`,
    `choice` the choice whose properties bare names read (choice_filter), `today`
    replaces the server's date for today(). Never raises, whatever the answers hold;
    a malformed node evaluates to '' (ASTs come from parse(), bounded to MAX_DEPTH).
    """
    return _eval(ast, answers, current, choice, today)
