"""Variable names SPSS and Stata accept, made from the CSV's column headers: one
rule, so the data files and the workbook's codebook give each column the same name."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# SPSS names: at most 64 bytes; Stata: 32 characters. One name serves both.
MAX_NAME = 32
RESERVED = frozenset(
    # SPSS's reserved words, and Stata's (both compared without case: SPSS ignores it)
    "all and by eq ge gt le lt ne not or to with _all _b byte _coef _cons double float "
    "if in int long _n _pi _pred _rc _se _skip str strl using".split()
)


def legal_names(headers: Iterable[str]) -> list[str]:
    """Each header as a name SPSS and Stata accept (ASCII letters, digits, _; a letter
    first; at most 32 characters; no reserved word), unique without regard to case."""
    taken: set[str] = set()
    names = []
    for header in headers:
        base = _plain(header)
        name, n = base, 1
        while name.lower() in taken or name.lower() in RESERVED:
            n += 1
            suffix = f"_{n}"
            name = base[: MAX_NAME - len(suffix)] + suffix
        taken.add(name.lower())
        names.append(name)
    return names


def _plain(header: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", header.replace("đ", "d").replace("Đ", "D"))
    ascii_text = ascii_text.encode("ascii", "ignore").decode("ascii")
    name = re.sub(r"[^A-Za-z0-9_]+", "_", ascii_text).strip("_") or "v"
    if not name[0].isalpha():
        name = "v_" + name
    return name[:MAX_NAME].rstrip("_") or "v"
