"""Expressions' syntax: the tokenizer and the recursive-descent parser into the JSON
AST that both evaluators read (the rules are in survey_engine/definition/expressions.py).

Why a module of its own: saving a survey and drawing a page need only the parse; the
evaluator (expression_values.py) and the save-time checks (expressions.check) read
its result.
"""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Any

from survey_engine.definition.problems import N_, Problem, problem

BINARY = ("or", "and", "=", "!=", "<", "<=", ">", ">=", "+", "-", "*", "div", "mod")
MAX_NESTING = 30  # parentheses, calls and unary minus inside each other
MAX_DEPTH = 100  # operations inside each other: bounds recursion in both evaluators

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_QUESTION = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER_LITERAL = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")
_SYMBOLS = ("<=", ">=", "!=", "=", "<", ">", "+", "-", "*", "(", ")", ",")
_CURLY_QUOTES = "\u2018\u2019\u201c\u201d"
_LEVELS = (("or",), ("and",), ("=", "!="), ("<", "<=", ">", ">="), ("+", "-"), ("*", "div", "mod"))
_WORD_OPERATORS = {"or", "and", "div", "mod"}
_DIGITS = set("0123456789")


class ExpressionError(ValueError):
    """A syntax error; `position` is the 1-based character where it was found;
    `template` (marked with N_()) and `params` say it in a staff page's language."""

    def __init__(self, template: str, position: int, **params: Any) -> None:
        self.message = template % params if params else template
        super().__init__(f"at character {position}: {self.message}")
        self.position = position
        self.template, self.params = template, params

    def problem(self) -> Problem:
        """The error as a Problem: English as str(), translatable (problems.py)."""
        return at_character(self.position, problem(self.template, **self.params))


def at_character(position: int, part: Problem) -> Problem:
    """`part` found at the 1-based character `position` of an expression."""
    return problem(N_("at character %(position)s: %(problem)s"), position=position, problem=part)


# --------------------------------------------------------------------------- parsing


class _Token:
    __slots__ = ("kind", "value", "pos", "text")

    def __init__(self, kind: str, value: Any, pos: int, text: str) -> None:
        self.kind, self.value, self.pos, self.text = kind, value, pos, text

    def describe(self) -> str | Problem:
        if self.kind == "end":
            return problem(N_("the end of the expression"))
        return f"'{self.text}'"


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
                raise ExpressionError(
                    N_("unterminated string: no closing %(quote)s"), pos, quote=ch
                )
            value = unicodedata.normalize("NFC", text[i + 1 : end])
            out.append(_Token("str", value, pos, text[i : end + 1]))
            i = end + 1
        elif ch == "$" and text.startswith("${", i):
            m = _QUESTION.match(text, i + 2)
            if not m:
                raise ExpressionError(N_("expected a question name after '${'"), i + 3)
            if not text.startswith("}", m.end()):
                raise ExpressionError(N_("expected '}' after the question name"), m.end() + 1)
            out.append(_Token("ref", m.group(), pos, text[i : m.end() + 1]))
            i = m.end() + 1
        elif ch in _DIGITS or (ch == "." and text[i + 1 : i + 2] in _DIGITS):
            m = _NUMBER_LITERAL.match(text, i)
            assert m is not None
            number: float = float(m.group())
            if math.isinf(number):
                raise ExpressionError(N_("number too large"), pos)
            if number.is_integer() and abs(number) < 2**53:
                number = int(number)  # compact AST: 3, not 3.0
            out.append(_Token("num", number, pos, m.group()))
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
                if ch in _CURLY_QUOTES:
                    raise ExpressionError(
                        N_("unexpected character '%(char)s' (use straight quotes ' or \")"),
                        pos,
                        char=ch,
                    )
                raise ExpressionError(N_("unexpected character '%(char)s'"), pos, char=ch)
    out.append(_Token("end", None, n + 1, ""))
    return out


class Parser:
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
                N_("expression too complex (more than %(limit)s nested operations)"),
                pos,
                limit=MAX_DEPTH,
            )
        self.depth[id(node)] = depth
        return node

    def enter(self, pos: int) -> None:
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise ExpressionError(
                N_("nested too deeply (more than %(limit)s levels)"), pos, limit=MAX_NESTING
            )

    def parse(self) -> list:
        first = self.peek()
        if first.kind == "end":
            raise ExpressionError(N_("empty expression"), 1)
        ast = self.binary(0)
        tok = self.peek()
        if tok.kind != "end":
            raise ExpressionError(
                N_("expected an operator, got %(token)s"), tok.pos, token=tok.describe()
            )
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
        raise ExpressionError(N_("expected a value, got %(token)s"), tok.pos, token=tok.describe())

    def expect_close(self) -> None:
        tok = self.take()
        if not (tok.kind == "op" and tok.value == ")"):
            raise ExpressionError(N_("expected ')', got %(token)s"), tok.pos, token=tok.describe())

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
                    raise ExpressionError(
                        N_("expected ',' or ')', got %(token)s"), tok.pos, token=tok.describe()
                    )
        self.nesting -= 1
        self.calls.append((name.value, name.pos, len(args), args))
        return self.node(name.pos, ["fn", name.value, args], *args)


def parse(text: str) -> list:
    """Parse an expression into its AST; raises ExpressionError on a syntax error.

    Only syntax is checked here; check() also refuses unknown questions, unknown
    functions, wrong numbers of arguments and misplaced bare names.
    """
    if not isinstance(text, str):
        raise ExpressionError(N_("an expression must be a text"), 1)
    return Parser(text).parse()


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
