"""Checks for what a stranger sends before anything else reads it: text and JSON.

A lone surrogate ("\\ud800") is a valid Python str but cannot be encoded as UTF-8, so
one stored in an answer breaks every CSV export and page that writes it later.
Unicode non-characters (U+FDD0..U+FDEF, U+xxFFFE/U+xxFFFF) are reserved for a
program's internal use and never belong in interchanged text. NUL cannot be stored
in PostgreSQL's text or JSON, nor written in an XML sheet. All three are refused at
every entry, with the position of the first bad character.

JSON nested hundreds deep exhausts Python's recursion in the parser or in any code
that walks the result; the depth is measured on the raw text, in one linear pass,
before the text is parsed at all.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

# Deepest nesting of objects/arrays accepted anywhere (answers are 2 deep, a survey
# definition about 6).
MAX_JSON_DEPTH = 32

# Candidates: NUL, surrogates, the BMP non-characters, and everything from U+1FFFE on,
# of which only the last two code points of each plane are non-characters. One class
# of ranges keeps the scan at C speed (a class listing the 32 astral code points one
# by one made it 15 times slower).
_SUSPECT = re.compile("[\x00\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff\U0001fffe-\U0010ffff]")


def _is_bad(char: str) -> bool:
    code = ord(char)
    return (
        code == 0 or 0xD800 <= code <= 0xDFFF or 0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE
    )


# 19 digits in a row may be an integer orjson reads as a float (json keeps it an int):
# found by turning every digit into 0 and looking for 19 zeros, ten times faster than
# the regular expression \d{19}.
_DIGITS_TO_ZERO = bytes.maketrans(b"0123456789", b"0" * 10)
_LONG_NUMBER = b"0" * 19
_STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


class TooDeep(ValueError):
    """JSON nested deeper than the limit."""


def bad_character_at(text: str) -> int | None:
    """Index of the first NUL, surrogate or non-character in `text`, or None."""
    if text.isascii() and "\x00" not in text:
        return None
    for match in _SUSPECT.finditer(text):
        if _is_bad(match.group()):
            return match.start()
    return None


def first_bad_text(value: Any) -> str | None:
    """The first string inside `value` (str, list, dict keys and values) that holds a
    bad character, or None. Walks at most as deep as the data (already depth-checked)."""
    if isinstance(value, str):
        return value if bad_character_at(value) is not None else None
    if isinstance(value, dict):
        items = [*value.keys(), *value.values()]
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        return None
    for item in items:
        found = first_bad_text(item)
        if found is not None:
            return found
    return None


def safe_text(text: str, replacement: str = "\ufffd") -> str:
    """`text` with every bad character replaced: for readers of rows stored before these
    checks existed, so one old row never stops a page or an export."""
    if bad_character_at(text) is None:
        return text
    return "".join(replacement if _is_bad(char) else char for char in text)


def json_depth(text: str | bytes) -> int:
    """Deepest nesting of [ and { in a JSON text, brackets inside strings not counted."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub("", text)):
        if bracket in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def load_json(text: str | bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """json.loads (by orjson where the two agree) that refuses nesting deeper than
    `max_depth` before parsing.

    Raises TooDeep, or ValueError (json.JSONDecodeError, UnicodeDecodeError) for text
    that is not JSON. NaN and Infinity are not JSON and are refused too.
    """
    if isinstance(text, str):
        brackets = text.count("[") + text.count("{")
        data = text.encode("utf-8", "surrogatepass")
    else:
        brackets = text.count(b"[") + text.count(b"{")
        data = text
    if brackets > max_depth and json_depth(text) > max_depth:  # counting is 50x faster
        raise TooDeep(f"JSON nested deeper than {max_depth} levels")
    # orjson parses a submission's body in a quarter of the time, to the same values;
    # where the two differ, json decides, as before: what orjson refuses (a lone
    # surrogate, which the answers' checks name; NaN; 1e400; a byte order mark) and an
    # integer of 19 digits or more, which orjson may read as a float.
    if _LONG_NUMBER not in data.translate(_DIGITS_TO_ZERO):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text, parse_constant=_refuse_constant)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")
