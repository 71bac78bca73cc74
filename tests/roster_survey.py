"""A household survey with a roster of its members: the shared example of the tests
of rosters (type repeat), from the definition's check to the exports."""

from __future__ import annotations

import copy

HOUSEHOLD_SLUG = "ho-gia-dinh"

_HOUSEHOLD = {
    "format": "survey-engine/1",
    "slug": HOUSEHOLD_SLUG,
    "title": {"vi": "Khảo sát hộ gia đình", "en": "Household survey"},
    "default_language": "vi",
    "pages": [
        {
            "name": "household",
            "title": {"vi": "Hộ gia đình", "en": "Household"},
            "questions": [
                {
                    "name": "district",
                    "type": "select_one",
                    "choices": "districts",
                    "label": {"vi": "Huyện/thành phố", "en": "District"},
                    "required": True,
                },
                {
                    "name": "size",
                    "type": "integer",
                    "label": {"vi": "Hộ có bao nhiêu người?", "en": "How many people live here?"},
                    "required": True,
                    "min": 1,
                    "max": 12,
                },
            ],
        },
        {
            "name": "people",
            "title": {"vi": "Thành viên", "en": "Members"},
            "questions": [
                {
                    "name": "members",
                    "type": "repeat",
                    "label": {"vi": "Thành viên của hộ", "en": "Household member"},
                    "count": "${size}",
                    "max_count": 12,
                    "questions": [
                        {
                            "name": "member_name",
                            "type": "text",
                            "label": {"vi": "Tên", "en": "Name"},
                            "required": True,
                        },
                        {
                            "name": "sex",
                            "type": "select_one",
                            "choices": "sexes",
                            "label": {"vi": "Giới tính", "en": "Sex"},
                            "required": True,
                        },
                        {
                            "name": "age",
                            "type": "integer",
                            "label": {"vi": "Tuổi", "en": "Age"},
                            "required": True,
                            "min": 0,
                            "max": 120,
                        },
                        {
                            "name": "in_school",
                            "type": "select_one",
                            "choices": "yes_no",
                            "label": {"vi": "${member_name} có đi học không?", "en": "In school?"},
                            "relevant": "${age} >= 5 and ${age} <= 18",
                        },
                        {
                            "name": "languages",
                            "type": "select_multiple",
                            "choices": "languages",
                            "label": {"vi": "Ngôn ngữ sử dụng", "en": "Languages spoken"},
                        },
                    ],
                },
                {
                    "name": "comment",
                    "type": "text",
                    "label": {"vi": "Góp ý", "en": "Comment"},
                },
            ],
        },
    ],
    "choice_lists": {
        "districts": [
            {"name": "da_lat", "label": {"vi": "Đà Lạt", "en": "Da Lat"}},
            {"name": "bao_loc", "label": {"vi": "Bảo Lộc", "en": "Bao Loc"}},
        ],
        "sexes": [
            {"name": "female", "label": {"vi": "Nữ", "en": "Female"}},
            {"name": "male", "label": {"vi": "Nam", "en": "Male"}},
        ],
        "yes_no": [
            {"name": "yes", "label": {"vi": "Có", "en": "Yes"}},
            {"name": "no", "label": {"vi": "Không", "en": "No"}},
        ],
        "languages": [
            {"name": "vi", "label": {"vi": "Tiếng Việt", "en": "Vietnamese"}},
            {"name": "koho", "label": {"vi": "Tiếng K'Ho", "en": "K'Ho"}},
            {"name": "en", "label": {"vi": "Tiếng Anh", "en": "English"}},
        ],
    },
}


def household_definition() -> dict:
    """A fresh copy: tests change it."""
    return copy.deepcopy(_HOUSEHOLD)


def household_answers() -> dict:
    """A valid household of three, as a client sends it (texts, as a form does)."""
    return {
        "district": "da_lat",
        "size": "3",
        "members": [
            {"member_name": "Nguyễn Thị Lan", "sex": "female", "age": "41", "languages": ["vi"]},
            {"member_name": "Trần Văn Minh", "sex": "male", "age": "12", "in_school": "yes"},
            {"member_name": "K'Sor H'Hen", "sex": "female", "age": "3", "languages": ["koho"]},
        ],
        "comment": "Nhà gần trường",
    }
