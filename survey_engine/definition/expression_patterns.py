"""regex() patterns: compiled by RE2 (linear time, whatever the pattern), and refused
at save time when the browser's RegExp(p, 'u') would read them otherwise (the rules are
in survey_engine/definition/expressions.py).
"""

from __future__ import annotations

import functools
import re
from typing import Any

import re2

from survey_engine.definition.problems import N_, Problem, problem

# Longest regex() pattern accepted at save time (a phone or ID-number pattern is ~20).
MAX_PATTERN_LENGTH = 500

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a bad pattern is a normal outcome, not a log line
_RE2_OPTIONS.never_capture = True  # only "found or not" is needed


@functools.lru_cache(maxsize=512)
def compiled(pattern: str) -> Any:
    """The RE2 program of a pattern (raises re2.error); patterns are few, reused."""
    return re2.compile(pattern, _RE2_OPTIONS)


# What both RE2 and the browser's RegExp(p, 'u') read the same way after a backslash;
# '-' only inside [...]. p{..} takes a general category such as L or Lu.
_ESCAPES_BOTH = set("^$\\.*+?()[]{}|/dDwWsSfnrtvbB")
_CATEGORIES = {
    "L",
    "Lu",
    "Ll",
    "Lt",
    "Lm",
    "Lo",
    "M",
    "Mn",
    "Mc",
    "Me",
    "N",
    "Nd",
    "Nl",
    "No",
    "P",
    "Pc",
    "Pd",
    "Ps",
    "Pe",
    "Pi",
    "Pf",
    "Po",
    "S",
    "Sm",
    "Sc",
    "Sk",
    "So",
    "Z",
    "Zs",
    "Zl",
    "Zp",
    "C",
    "Cc",
    "Cf",
    "Co",
}
_QUANTIFIER = re.compile(r"\{[0-9]+(?:,[0-9]*)?\}")
_PROPERTY = re.compile(r"[pP]\{([A-Za-z]+)\}")


def _browser_problem(pattern: str) -> Problem | None:
    """Syntax RE2 accepts but the page's RegExp(p, 'u') refuses (so every answer would
    fail the constraint in the browser and pass on the server), or None."""
    i, n, in_class = 0, len(pattern), False
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            nxt = pattern[i + 1 : i + 2]
            prop = _PROPERTY.match(pattern, i + 1)
            if nxt in _ESCAPES_BOTH and nxt and not (in_class and nxt in "bB"):
                i += 2
            elif nxt == "-" and in_class:
                i += 2
            elif nxt == "x" and re.fullmatch(r"[0-9A-Fa-f]{2}", pattern[i + 2 : i + 4]):
                i += 4
            elif prop and prop.group(1) in _CATEGORIES:
                i = prop.end()
            elif nxt in "pP" and nxt:
                return problem(
                    N_(
                        "\\%(letter)s takes a Unicode category in braces, such as \\p{L} "
                        "(a letter) or \\p{Lu}; browsers read no other form"
                    ),
                    letter=nxt,
                )
            else:
                if nxt == "-":
                    return problem(
                        N_(
                            "'\\%(letter)s' at character %(position)s is not read the same "
                            "way by browsers; write it without the backslash (inside [...] "
                            "it may be escaped)"
                        ),
                        letter=nxt,
                        position=i + 1,
                    )
                return problem(
                    N_(
                        "'\\%(letter)s' at character %(position)s is not read the same way "
                        "by browsers; write it without the backslash"
                    ),
                    letter=nxt,
                    position=i + 1,
                )
            continue
        if in_class:
            if ch == "[" and pattern.startswith("[:", i):
                return problem(N_("classes such as [:alpha:] are not read by browsers; use \\p{L}"))
            if ch == "]":
                in_class = False
        elif ch == "[":
            in_class = True
            i += 2 if pattern[i + 1 : i + 2] == "]" else 1  # []..] : the ] is literal in RE2
            if pattern[i - 1 : i] == "]" and i - 1 > 0 and pattern[i - 2] == "[":
                return problem(N_("'[]' is read differently by browsers; write \\] for a ]"))
            continue
        elif (
            ch == "("
            and pattern.startswith("(?", i)
            and not (pattern.startswith("(?:", i) or re.match(r"\(\?<[A-Za-z]", pattern[i:]))
        ):
            return problem(
                N_(
                    "'%(group)s' at character %(position)s is not read by browsers; "
                    "use (?:...) or (?<name>...)"
                ),
                group=pattern[i : i + 3],
                position=i + 1,
            )
        elif ch == "{":
            quantifier = _QUANTIFIER.match(pattern, i)
            if not quantifier:
                return problem(
                    N_("'{' at character %(position)s is not a repetition; write \\{ for a brace"),
                    position=i + 1,
                )
            i = quantifier.end()
            continue
        elif ch in "}]":
            return problem(
                N_("'%(char)s' at character %(position)s has no opening; write \\%(char)s for it"),
                char=ch,
                position=i + 1,
            )
        i += 1
    return None


def pattern_problem(node: list) -> Problem | None:
    """Why regex()'s pattern argument cannot be saved, or None. A pattern computed from
    answers would let a respondent choose it, so only a literal is accepted."""
    if node[0] != "str":
        return problem(
            N_(
                "regex(): the pattern must be a text in quotes, such as "
                "regex(., '^[0-9]{10}$'), not computed from answers or other values"
            )
        )
    pattern = node[1]
    if len(pattern) > MAX_PATTERN_LENGTH:
        return problem(
            N_(
                "regex(): the pattern is %(length)s characters long, at most %(limit)s are accepted"
            ),
            length=len(pattern),
            limit=MAX_PATTERN_LENGTH,
        )
    try:
        compiled(pattern)
    except Exception as exc:  # noqa: BLE001 - re2.error, or text UTF-8 cannot hold
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        return problem(
            N_(
                "regex(): bad pattern %(pattern)s: %(reason)s (patterns use RE2 syntax: "
                "no backreferences such as \\1, no lookaround such as (?=...))"
            ),
            pattern=repr(pattern),
            reason=reason,
        )
    browser = _browser_problem(pattern)
    if browser:
        return problem(
            N_("regex(): pattern %(pattern)s: %(problem)s"), pattern=repr(pattern), problem=browser
        )
    return None
