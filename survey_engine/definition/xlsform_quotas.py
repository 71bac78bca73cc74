"""The quotas sheet of an XLSForm workbook: survey-engine's own (XLSForm has none),
read into settings.quotas and written from it, so that a written file reads back the
same (docs/survey-format.md, "Quotas").

    name           questions      limit   stratum          stratum_limit
    district_role  district role  2000
    district_role                         da_lat|parent    500
    district_role                         bao_loc|teacher  0

A row with `questions` (select_one names, separated by spaces) and `limit` defines a
quota; a row with `stratum` (one answer per question, in their order, joined by '|'
or spaces) and `stratum_limit` gives that group a limit of its own. One row may do
both. The definition check (schema_quotas.py) then checks the names and numbers.
"""

from __future__ import annotations

import re
from typing import Any

from survey_engine.definition.problems import N_
from survey_engine.definition.xlsform_rows import RowReader
from survey_engine.definition.xlsform_sheets import cell_text

SHEET = "quotas"
COLUMNS = ("name", "questions", "limit", "stratum", "stratum_limit")
_PARTS_RE = re.compile(r"[\s|]+")
QUOTA_PATH_RE = re.compile(r"^settings\.quotas\[(\d+)\]")


def _number(value: Any) -> Any:
    """A whole number as it is; anything else as text, for the check to quote."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return cell_text(value)


def read_quotas(reader: RowReader, header, body: list[tuple[int, tuple]]) -> tuple[list, dict]:
    """settings.quotas from the sheet's rows, and the row each quota starts on."""
    quotas: dict[str, dict] = {}
    rows: dict[int, int] = {}
    for number, row in body:
        _, plain, _ = reader.cells(SHEET, header, number, row, (), COLUMNS)
        name = cell_text(plain.get("name"))
        if name is None:
            if plain:
                reader.problem(SHEET, number, "name", N_("is empty"))
            continue
        if name not in quotas:
            rows[len(quotas)] = number
            quotas[name] = {"name": name}
        quota = quotas[name]
        for key in ("questions", "limit"):
            text = cell_text(plain.get(key))
            if text is None:
                continue
            if key in quota:
                reader.problem(
                    SHEET,
                    number,
                    key,
                    N_("quota %(name)s has its %(column)s already"),
                    name=repr(name),
                    column=key,
                )
            else:
                quota[key] = text.split() if key == "questions" else _number(plain[key])
        _stratum(reader, number, quota, plain)
    return list(quotas.values()), rows


def _stratum(reader: RowReader, number: int, quota: dict, plain: dict) -> None:
    stratum, limit = cell_text(plain.get("stratum")), plain.get("stratum_limit")
    if stratum is None and cell_text(limit) is None:
        return
    if stratum is None or cell_text(limit) is None:
        missing = "stratum" if stratum is None else "stratum_limit"
        reader.problem(
            SHEET, number, missing, N_("a group's own limit needs both stratum and stratum_limit")
        )
        return
    key = "|".join(part for part in _PARTS_RE.split(stratum) if part)
    limits = quota.setdefault("limits", {})
    if key in limits:
        reader.problem(
            SHEET,
            number,
            "stratum",
            N_("the group %(group)s has its limit already"),
            group=repr(key),
        )
    limits[key] = _number(limit)


def quota_rows(definition: dict) -> list[list] | None:
    """The quotas sheet (header first), or None when the survey has no quotas."""
    quotas = (definition.get("settings") or {}).get("quotas")
    if not quotas:
        return None
    rows: list[list] = [list(COLUMNS)]
    for quota in quotas:
        rows.append([quota["name"], " ".join(quota["questions"]), quota["limit"], None, None])
        for stratum, limit in (quota.get("limits") or {}).items():
            rows.append([quota["name"], None, None, stratum, limit])
    return rows
