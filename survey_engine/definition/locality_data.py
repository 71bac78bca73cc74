"""Vietnam's administrative divisions, in the two structures a survey may ask about.

Why a module of its own: the locality block (localities.py) and the builder's form
both need the same tree, and the data's sources differ by era:
- "2025": the two-tier structure in force since 1 July 2025 (34 provinces, their
  communes, wards and special zones), read from the `vietnam-provinces` package;
- "pre2025": the three-tier structure before it (63 provinces, districts, communes),
  which that package no longer ships (its 2025 releases replaced it under the same
  module name). It is a frozen snapshot of vietnam-provinces 0.6.0's data (data version
  2025-01-04) in data/divisions-pre2025.json.gz: the old structure will not change
  again, so a snapshot is the whole of it (docs/localities.md says how it was made).

Codes are the General Statistics Office's (GSO) codes, the same in both packages; a
division is (code, name, children).
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

ERAS = ("2025", "pre2025")
DEFAULT_ERA = "2025"
PRE2025_FILE = "divisions-pre2025.json.gz"


@dataclass(frozen=True)
class Division:
    code: str  # the GSO code as text: a choice name
    name: str  # as the dataset writes it: "Phường Xuân Hương - Đà Lạt"
    children: tuple[Division, ...] = field(default=())


@dataclass(frozen=True)
class Dataset:
    era: str
    version: str  # where it came from, for the docs and the builder's note
    provinces: tuple[Division, ...]
    levels: tuple[str, ...]  # the levels below the country, top first

    def province(self, code: str) -> Division | None:
        return next((p for p in self.provinces if p.code == code), None)


@cache
def dataset(era: str) -> Dataset:
    """The era's tree (read once per process)."""
    if era == "2025":
        return _current()
    if era == "pre2025":
        return _pre2025()
    raise ValueError(f"unknown locality era {era!r}; one of {', '.join(ERAS)}")


def _current() -> Dataset:
    import vietnam_provinces as vp

    wards: dict[int, list[Division]] = {}
    for ward in vp.Ward.iter_all():
        wards.setdefault(int(ward.province_code), []).append(
            Division(str(int(ward.code)), ward.name)
        )
    provinces = tuple(
        Division(
            str(int(p.code)),
            p.name,
            tuple(sorted(wards.get(int(p.code), []), key=lambda d: int(d.code))),
        )
        for p in sorted(vp.Province.iter_all(), key=lambda p: int(p.code))
    )
    return Dataset(
        "2025",
        f"vietnam-provinces {vp.__version__} (data {vp.__data_version__})",
        provinces,
        ("province", "commune"),
    )


def _pre2025() -> Dataset:
    raw = resources.files("survey_engine.definition").joinpath("data", PRE2025_FILE)
    data = json.loads(gzip.decompress(raw.read_bytes()))
    provinces = tuple(
        Division(
            str(p["code"]),
            p["name"],
            tuple(
                Division(
                    str(d["code"]),
                    d["name"],
                    tuple(Division(str(code), name) for code, name in d["wards"]),
                )
                for d in p["districts"]
            ),
        )
        for p in data["provinces"]
    )
    return Dataset("pre2025", data["source"], provinces, ("province", "district", "commune"))
