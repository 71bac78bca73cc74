"""The survey format survey-engine/1: checking definitions, reading them, checking answers."""

from survey_engine.definition.answers import clean_answers
from survey_engine.definition.model import Definition, Question
from survey_engine.definition.schema import FORMAT, validate_definition

__all__ = ["FORMAT", "Definition", "Question", "clean_answers", "validate_definition"]
