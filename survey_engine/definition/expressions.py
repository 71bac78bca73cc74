"""The expression language of survey-engine/1: one parser, two evaluators.

Why: `relevant`, `constraint`, `choice_filter` and `calculation` are XLSForm
expressions written by staff. They are parsed once into a small JSON AST (never
eval'd, in any language). Python evaluates the AST on the server;
`survey_engine/static/expr.js` evaluates the very same AST in the respondent's
browser. The two must agree exactly, so every rule below is written down and both
interpreters implement it line by line (tests/expression_cases.json is run against
both, plus a randomised differential test in tests/test_expressions_browser.py).

This module is the language's one entry point and its save-time check(); the work is
in its neighbours: expression_syntax.py (tokenizer, parser), expression_values.py
(the evaluator) and expression_patterns.py (regex() patterns, RE2 and the browser).

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
  min(a, ...) / max(a, ...): number() of each argument; NaN if any is NaN (so an
  unanswered one makes it NaN), else the first of the smallest / largest, compared
  with < / > from left to right (min(0, -0) is 0 in both languages).
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
from collections.abc import Iterable

from survey_engine.definition.expression_patterns import MAX_PATTERN_LENGTH, pattern_problem
from survey_engine.definition.expression_syntax import (
    BINARY,
    MAX_DEPTH,
    MAX_NESTING,
    ExpressionError,
    Parser,
    parse,
    references,
)
from survey_engine.definition.expression_values import Value, evaluate, truthy
from survey_engine.definition.problems import N_, Problem

__all__ = [
    "BINARY",
    "ExpressionError",
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_NESTING",
    "MAX_PATTERN_LENGTH",
    "Value",
    "check",
    "evaluate",
    "parse",
    "references",
    "truthy",
]

# name -> (least, most) number of arguments; most None = any number.
FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "not": (1, 1),
    "selected": (2, 2),
    "count-selected": (1, 1),
    "string-length": (1, 1),
    "regex": (2, 2),
    "if": (3, 3),
    "coalesce": (2, 2),
    "today": (0, 0),
    "number": (1, 1),
    "int": (1, 1),
    "round": (1, 2),
    "concat": (1, None),
    "min": (1, None),
    "max": (1, None),
}
# XLSForm functions that need what survey-engine/1 has not: why, instead of "unknown".
NOT_HERE = {
    "count": "count() counts a repeat's rows, which survey-engine's expressions do not "
    "read yet: give the roster a count of its own (`count`, XLSForm's repeat_count) and "
    "use that answer (for the choices ticked in a select_multiple write count-selected())",
}


def _arity_text(least: int, most: int | None) -> str:
    def plural(n: int) -> str:
        return f"{n} argument" + ("" if n == 1 else "s")

    if most is None:
        return f"at least {plural(least)}"
    if least == most:
        return "no arguments" if least == 0 else plural(least)
    return f"{least} or {plural(most)}" if most == least + 1 else f"{least} to {plural(most)}"


AT = "at character %(position)s: "  # before the texts not yet translated


def _suggest(name: str, candidates: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.75)
    return close[0] if close else None


def _unknown(pos: int, kind: str, name: str, close: str | None) -> tuple[int, str, dict]:
    """An unknown question or function, with the nearest known name if one is close."""
    shown = {"question": "'${{{}}}'", "function": "'{}()'"}[kind]
    params = {"name": shown.format(name)}
    if close is None:
        if kind == "question":
            return pos, N_("at character %(position)s: unknown question %(name)s"), params
        return pos, N_("at character %(position)s: unknown function %(name)s"), params
    params["suggestion"] = shown.format(close)
    if kind == "question":
        return (
            pos,
            N_(
                "at character %(position)s: unknown question %(name)s; did you mean %(suggestion)s?"
            ),
            params,
        )
    return (
        pos,
        N_("at character %(position)s: unknown function %(name)s; did you mean %(suggestion)s?"),
        params,
    )


def check(text: object, known_names: set[str], allow_bare_names: bool = False) -> list[str]:
    """Every problem of one expression, each naming its 1-based character position;
    [] when the expression is fine. Never raises, not even for a value that is no text
    (a definition comes from JSON)."""
    try:
        if not isinstance(text, str):
            raise ExpressionError("an expression must be a text", 1)
        parser = Parser(text)
        parser.parse()
    except ExpressionError as exc:
        return [str(exc)]
    # (position, text marked for translation, its parameters)
    problems: list[tuple[int, str, dict]] = []
    for name, pos in parser.refs:
        if name not in known_names:
            problems.append(_unknown(pos, "question", name, _suggest(name, known_names)))
    for name, pos, argc, args in parser.calls:
        if name in NOT_HERE:
            problems.append((pos, AT + NOT_HERE[name].replace("%", "%%"), {}))
            continue
        if name not in FUNCTIONS:
            problems.append(_unknown(pos, "function", name, _suggest(name, FUNCTIONS)))
            continue
        least, most = FUNCTIONS[name]
        if argc < least or (most is not None and argc > most):
            text = f"{name}() takes {_arity_text(least, most)}, got {argc}"
            problems.append((pos, AT + text.replace("%", "%%"), {}))
        elif name == "regex":
            problem = pattern_problem(args[1])
            if problem:
                problems.append((pos, AT + problem.replace("%", "%%"), {}))
    if not allow_bare_names:
        for name, pos in parser.props:
            problems.append(
                (
                    pos,
                    N_(
                        "at character %(position)s: bare name %(name)s is only allowed in a "
                        "choice_filter "
                        "(for the answer to a question write %(reference)s)"
                    ),
                    {"name": f"'{name}'", "reference": f"${{{name}}}"},
                )
            )
    return [
        Problem.of("", text, {"position": pos, **params})
        for pos, text, params in sorted(problems, key=lambda p: p[0])
    ]
