"""Population margins as staff upload them: a CSV or XLSX table with one row per
category of a weighting variable, e.g. from the census

    variable,category,count
    district,da_lat,425000
    district,bao_loc,160000
    sex,female,510000
    sex,male,490000

`variable` names a single-choice question of the survey, `category` one of its choices
(by name or by label), and the target is a population count or a share (a column named
`share`, `%` shares too). Every problem is found and named with its row, so staff fix the
file once; nothing is kept of a file with a problem.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

from survey_engine.definition.merged import MergedSurvey
from survey_engine.i18n import message

MAX_MARGINS_BYTES = 1_000_000  # a census table of 34 provinces × 3,321 communes fits
MAX_MARGINS_ROWS = 5000
MAX_VARIABLES = 5  # raking on more is rarely stable with an online sample
SHARE_TOLERANCE = 0.005  # shares of one variable must add up to 1 within this

HEADERS = {
    "variable": ("variable", "biến", "bien", "question", "câu hỏi"),
    "category": ("category", "nhóm", "nhom", "choice", "lựa chọn"),
    "count": ("count", "population", "số", "so", "dân số", "số lượng"),
    "share": ("share", "proportion", "%", "tỉ lệ", "tỷ lệ", "ti le"),
}


Problem = tuple[str, dict[str, object]]  # an i18n.MESSAGES key and its values


class MarginsError(ValueError):
    """What is wrong with an uploaded margins file: every problem, in any language."""

    def __init__(self, problems: list[Problem]):
        self.found = problems
        super().__init__("\n".join(self.texts("en")))

    def texts(self, lang: str) -> list[str]:
        return [message(key, lang, **values) for key, values in self.found]

    @property
    def problems(self) -> list[str]:
        return self.texts("en")


@dataclass(frozen=True)
class Margins:
    """Targets per weighting variable (question name -> choice name -> share of 1)."""

    targets: dict[str, dict[str, float]]

    @property
    def variables(self) -> tuple[str, ...]:
        return tuple(self.targets)

    def to_json(self) -> dict[str, dict[str, float]]:
        return self.targets

    @classmethod
    def from_json(cls, data: dict[str, dict[str, float]]) -> Margins:
        return cls({v: dict(t) for v, t in data.items()})


def read_margins(data: bytes, filename: str, survey: MergedSurvey) -> Margins:
    """The margins in an uploaded file, checked against the survey; MarginsError
    names each problem."""
    if len(data) > MAX_MARGINS_BYTES:
        raise MarginsError([("margins_too_big", {"limit": MAX_MARGINS_BYTES // 1000})])
    rows = _xlsx_rows(data) if filename.lower().endswith(".xlsx") else _csv_rows(data)
    if not rows:
        raise MarginsError([("margins_empty", {})])
    if len(rows) > MAX_MARGINS_ROWS + 1:
        raise MarginsError([("margins_too_long", {"limit": MAX_MARGINS_ROWS})])
    columns = _columns(rows[0])
    problems: list[Problem] = []
    targets: dict[str, dict[str, float]] = {}
    kind = "count" if "count" in columns else "share"
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        name, category, value = (_cell(row, columns[key]) for key in ("variable", "category", kind))
        q = survey.by_name.get(name)
        if q is None or q.type != "select_one":
            problems.append(("margins_not_select", {"row": number, "name": repr(name)}))
            continue
        choice = _choice(q.choices, category)
        if choice is None:
            problems.append(
                ("margins_not_choice", {"row": number, "category": repr(category), "name": name})
            )
            continue
        target = _number(value)
        if target is None or target < 0:
            problems.append(("margins_not_number", {"row": number, "value": repr(value)}))
            continue
        if choice in targets.setdefault(name, {}):
            problems.append(("margins_twice", {"row": number, "name": name, "category": choice}))
            continue
        targets[name][choice] = target / 100 if kind == "share" and "%" in value else target
    for name, given in targets.items():
        total = math.fsum(given.values())
        if total <= 0:
            problems.append(("margins_zero", {"name": name}))
        elif kind == "share" and abs(total - 1) > SHARE_TOLERANCE:
            problems.append(("margins_shares", {"name": name, "total": f"{total:.4g}"}))
    if not targets and not problems:
        problems.append(("margins_none", {}))
    if len(targets) > MAX_VARIABLES:
        problems.append(("margins_too_many", {"limit": MAX_VARIABLES}))
    if problems:
        raise MarginsError(problems)
    return Margins(
        {
            name: {c: v / math.fsum(given.values()) for c, v in given.items()}
            for name, given in targets.items()
        }
    )


def _csv_rows(data: bytes) -> list[list[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise MarginsError([("margins_not_utf8", {"at": error.start})]) from None
    if "\x00" in text:
        raise MarginsError([("margins_nul", {})])
    dialect = csv.excel
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")  # type: ignore[assignment]
    except csv.Error:
        pass
    try:
        return [row for row in csv.reader(io.StringIO(text), dialect)][: MAX_MARGINS_ROWS + 2]
    except csv.Error as error:
        raise MarginsError([("margins_bad_csv", {"error": str(error)})]) from None


def _xlsx_rows(data: bytes) -> list[list[str]]:
    from openpyxl import load_workbook  # heavy: only for an .xlsx upload

    try:
        sheet = load_workbook(io.BytesIO(data), read_only=True, data_only=True).worksheets[0]
    except Exception:  # openpyxl raises many kinds on a broken file
        raise MarginsError([("margins_bad_xlsx", {})]) from None
    rows = []
    for row in sheet.iter_rows(values_only=True, max_row=MAX_MARGINS_ROWS + 2, max_col=10):
        rows.append(["" if v is None else str(v) for v in row])
    return rows


def _columns(header: list[str]) -> dict[str, int]:
    names = [cell.strip().lower() for cell in header]
    found = {
        key: next(i for i, name in enumerate(names) if name in aliases)
        for key, aliases in HEADERS.items()
        if any(name in aliases for name in names)
    }
    missing = [k for k in ("variable", "category") if k not in found]
    if "count" not in found and "share" not in found:
        missing.append("count or share")
    if missing:
        raise MarginsError([("margins_columns", {"missing": ", ".join(missing)})])
    return found


def _cell(row: list[str], index: int) -> str:
    return row[index].strip() if index < len(row) else ""


def _number(text: str) -> float | None:
    cleaned = text.replace("%", "").replace(" ", "").replace("\u00a0", "")
    if cleaned.count(",") and not cleaned.count("."):
        # 1,5 (a Vietnamese decimal comma) or 425,000 (thousands): by the group size
        head, _, tail = cleaned.rpartition(",")
        cleaned = cleaned.replace(",", "") if len(tail) == 3 else f"{head.replace(',', '')}.{tail}"
    else:
        cleaned = cleaned.replace(",", "")
    try:
        value = float(cleaned)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _choice(choices: Sequence[dict], text: str) -> str | None:
    """A choice by its name, else by its label in any language (case aside)."""
    for c in choices:
        if c["name"] == text:
            return c["name"]
    wanted = text.casefold()
    for c in choices:
        label = c.get("label")
        labels = label.values() if isinstance(label, dict) else [label]
        if any(isinstance(x, str) and x.strip().casefold() == wanted for x in labels):
            return c["name"]
    return None
