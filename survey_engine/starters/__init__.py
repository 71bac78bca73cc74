"""Survey templates a new survey can start from: survey definition files, each valid
for the validator (tests/test_survey_starters.py), read from the package so that an
installed wheel carries them.

The school-reopening demo is the demo's own file; the satisfaction survey on public
administrative services follows the five areas of Vietnam's SIPAS index (access,
procedure, civil servants, result, feedback and complaints); the land-management
poll asks about planning, certificates, compensation and disputes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

from survey_engine.i18n import N_


@dataclass(frozen=True)
class Starter:
    key: str
    path: str  # inside the survey_engine package
    name: str  # marked for translation
    summary: str


STARTERS = (
    Starter(
        "tro-lai-truong-hoc",
        "demo/tro-lai-truong-hoc.json",
        N_("School reopening opinion survey (the demo)"),
        N_("Parents, pupils and teachers on returning to in-person teaching; 3 pages."),
    ),
    Starter(
        "hai-long-dich-vu-hanh-chinh-cong",
        "starters/hai-long-dich-vu-hanh-chinh-cong.json",
        N_("Satisfaction with public administrative services"),
        N_(
            "After an administrative procedure: access to the service, the procedure, the "
            "civil servants, the result, feedback and complaints (as in the SIPAS index); "
            "6 pages."
        ),
    ),
    Starter(
        "y-kien-quan-ly-dat-dai",
        "starters/y-kien-quan-ly-dat-dai.json",
        N_("Land management opinion poll"),
        N_("Residents on land-use planning, certificates, compensation and disputes; 4 pages."),
    ),
)


def find_starter(key: str) -> Starter | None:
    return next((s for s in STARTERS if s.key == key), None)


def starter_definition(starter: Starter) -> dict:
    """A fresh copy of the template's definition, to change and save as a new survey."""
    text = resources.files("survey_engine").joinpath(starter.path).read_text("utf-8")
    data: dict = json.loads(text)
    return data
