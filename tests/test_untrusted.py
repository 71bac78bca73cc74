"""The shared checks on untrusted text and JSON (survey_engine/untrusted.py), against
references written from the standards' definitions, not from the module."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from survey_engine.untrusted import (
    MAX_JSON_DEPTH,
    TooDeep,
    bad_character_at,
    first_bad_text,
    json_depth,
    load_json,
    safe_text,
)

PLANE_ENDS = {plane * 0x10000 + end for plane in range(17) for end in (0xFFFE, 0xFFFF)}


def unicode_says_bad(code: int) -> bool:
    """NUL (PostgreSQL's text cannot hold it), surrogates (Unicode 15, section 3.8)
    and the 66 non-characters (section 23.7)."""
    return code == 0 or 0xD800 <= code <= 0xDFFF or 0xFDD0 <= code <= 0xFDEF or code in PLANE_ENDS


def test_every_code_point_is_judged_as_unicode_says():
    every = "".join(map(chr, range(0x110000)))
    # Two replacements, so a character equal to one of them is still seen replaced.
    cleaned = zip(every, safe_text(every, "\ufffd"), safe_text(every, "?"), strict=True)
    replaced = [
        code
        for code, (before, one, other) in enumerate(cleaned)
        if before != one or before != other
    ]
    expected = [code for code in range(0x110000) if unicode_says_bad(code)]
    assert len(expected) == 1 + 2048 + 66
    assert replaced == expected
    for code in expected[::50] + expected[-3:]:
        assert bad_character_at("ab" + chr(code)) == 2
    assert bad_character_at("Đà Lạt \U0001f600 ok \ufdd0") == 12
    assert bad_character_at("plain ascii\x00") == 11


def test_safe_text_replaces_only_the_bad_characters():
    assert safe_text("Đà\ud800Lạt\U0010ffff!") == "Đà\ufffdLạt\ufffd!"
    assert safe_text("Đà Lạt") == "Đà Lạt"
    assert first_bad_text({"a": ["ok", {"b\udfff": 1}]}) == "b\udfff"
    assert first_bad_text({"a": ["ok", 1.5, None, True]}) is None


def real_depth(value) -> int:
    if isinstance(value, dict):
        return 1 + max(map(real_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(real_depth, value), default=0)
    return 0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab\u00e0'),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(alphabet='[]{}"\\a', max_size=3), children, max_size=3)
    ),
    max_leaves=40,
)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(json_values)
def test_json_depth_matches_the_parsed_structure(value):
    text = json.dumps(value, ensure_ascii=False)
    assert json_depth(text) == real_depth(value)
    assert json_depth(text.encode()) == real_depth(value)


def test_load_json_refuses_deep_nesting_before_parsing_and_nan():
    assert load_json("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH)
    with pytest.raises(TooDeep):
        load_json("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1))
    with pytest.raises(TooDeep):
        load_json(b'{"a":' * 100_000)  # would exhaust the parser's recursion
    assert load_json('["' + "[" * 100 + '"]') == ["[" * 100]  # brackets in a string
    for constant in ("NaN", "Infinity", "-Infinity"):
        with pytest.raises(ValueError, match="not a JSON number"):
            load_json(f'{{"x": {constant}}}')


_ANY_TEXT = st.text(st.characters(codec=None), max_size=8)  # lone surrogates too
_NUMBERS = (
    st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.floats(min_value=1e300, max_value=1.7e308)
)
_PARSED = st.recursive(
    st.none() | st.booleans() | _NUMBERS | _ANY_TEXT,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(_ANY_TEXT, children, max_size=3)
    ),
    max_leaves=20,
)
_ODD_TEXTS = st.sampled_from(
    [
        "1e400",
        "-1e400",
        "NaN",
        "[Infinity]",
        '"\\ud800"',
        '{"a": "\\udfff\\ud800"}',
        '{"a":1,"a":2}',
        "-0",
        "-0.0",
        "1E5",
        "0.1",
        "123456789012345678901234567890",
        "18446744073709551616",
        "9223372036854775808",
        "-9223372036854775809",
        "\ufeff{}",
        " [ 1 , 2 ] ",
        "01",
        "[1,]",
        '"\\u0000"',
        '"\t"',
        "",
        "{",
        "nul",
    ]
)


def _json_answer(text):
    try:
        return ("value", json.loads(text, parse_constant=_refused))
    except ValueError as error:
        return ("refused", type(error).__name__)


def _refused(name):
    raise ValueError(name)


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        _PARSED.map(lambda v: json.dumps(v, ensure_ascii=False)),
        _PARSED.map(json.dumps),
        _ODD_TEXTS,
    ),
    st.booleans(),
)
def test_load_json_gives_what_json_gives_for_any_text(text, as_bytes):
    """load_json parses with orjson where it can: for any text, valid or not, with
    lone surrogates, huge integers and floats, it must give json.loads's value (same
    types: an int stays an int) or refuse it as json does."""
    body = text.encode("utf-8", "surrogatepass") if as_bytes else text
    expected = _json_answer(body)
    try:
        got = ("value", load_json(body))
    except ValueError as error:
        got = ("refused", type(error).__name__)
    if expected[0] == "refused" or got[0] == "refused":
        assert got[0] == expected[0]
        return
    assert repr(got[1]) == repr(expected[1])  # repr: 1 and 1.0, -0.0 and 0.0 differ
