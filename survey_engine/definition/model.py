"""Read-only view of a valid definition: questions in order, choices, texts by language."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

OTHER = "other"


@dataclass(frozen=True)
class Question:
    name: str
    type: str
    label: Any
    hint: Any
    required: bool
    appearance: str | None
    other: bool
    choices: tuple[dict, ...]  # empty unless a select; includes 'other' when other=true
    page: str

    @property
    def is_select(self) -> bool:
        return self.type in ("select_one", "select_multiple")

    @property
    def takes_answer(self) -> bool:
        return self.type != "note"

    @property
    def other_field(self) -> str:
        return f"{self.name}_other"

    def choice_names(self) -> list[str]:
        return [c["name"] for c in self.choices]


class Definition:
    """Wraps a definition that validate_definition() accepted."""

    def __init__(self, data: dict) -> None:
        self.data = data
        self.slug: str = data["slug"]
        self.default_language: str = data.get("default_language", "vi")
        self.settings: dict = data.get("settings") or {}
        lists = data.get("choice_lists", {})
        self.pages: list[dict] = data["pages"]
        self.questions: list[Question] = []
        for page in self.pages:
            for q in page["questions"]:
                choices = tuple(
                    {**c, "name": str(c["name"])} for c in lists.get(q.get("choices"), [])
                )
                if q.get("other"):
                    choices += ({"name": OTHER, "label": None},)
                self.questions.append(Question(
                    name=q["name"], type=q["type"], label=q.get("label"), hint=q.get("hint"),
                    required=bool(q.get("required")), appearance=q.get("appearance"),
                    other=bool(q.get("other")), choices=choices, page=page["name"],
                ))
        self.by_name: dict[str, Question] = {q.name: q for q in self.questions}

    @property
    def title(self) -> Any:
        return self.data["title"]

    def languages(self) -> list[str]:
        """Content languages, the default first, found in any translated text."""
        found = [self.default_language]

        def collect(value: Any) -> None:
            if isinstance(value, dict):
                found.extend(lang for lang in value if lang not in found)

        collect(self.title)
        for q in self.questions:
            collect(q.label)
            for c in q.choices:
                collect(c.get("label"))
        return found

    def text(self, value: Any, lang: str) -> str:
        """A translated text in `lang`, else the default language, else any."""
        if value is None:
            return ""
        if isinstance(value, str):
            return value
        return value.get(lang) or value.get(self.default_language) or next(iter(value.values()))

    def pages_with_questions(self) -> list[tuple[dict, list[Question]]]:
        return [(page, [q for q in self.questions if q.page == page["name"]])
                for page in self.pages]
