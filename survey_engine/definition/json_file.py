"""A definition as the JSON file staff download and `export-definition` writes."""

from __future__ import annotations

import json


def definition_bytes(definition: dict) -> bytes:
    """The definition as UTF-8 JSON; one stored before the checks, holding a lone
    surrogate, is written with ASCII escapes (still exact JSON) instead of failing."""
    try:
        return (json.dumps(definition, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(definition, ensure_ascii=True, indent=2) + "\n").encode("ascii")
