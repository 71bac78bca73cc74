"""A survey's raking weights: computed from its population margins over the responses
the dashboard counts by default (those excluded in review carry no weight), stored,
and applied as stored, so every output that reads them weights alike until staff
compute them again.

A response's weight is its cell's: the combination of its answers to the weighting
variables. A cell no response was in when the weights were computed (a commune heard
from only later) gets the product of the raking's factors for its categories, within
the bounds; a response that did not answer a weighting variable is weighted on the
others (that variable's factor is 1). The report says how many of each there were.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from survey_engine.extensions import db
from survey_engine.i18n import message
from survey_engine.models import Survey, SurveyWeighting
from survey_engine.raking import Cell, RakingInfeasible, effective_n, rake
from survey_engine.replica import reading
from survey_engine.results.filters import Filters
from survey_engine.results.margins import Margins
from survey_engine.results.responses import response_chunks

DEFAULT_BOUNDS = (0.2, 5.0)  # a respondent counts for at least 1/5 and at most 5 people
MIN_BOUND, MAX_BOUND = 0.01, 100.0
NO_ANSWER = ""


class WeightsError(ValueError):
    """Weights that cannot be computed, said in any language (i18n.MESSAGES)."""

    def __init__(self, key: str, **values: object) -> None:
        self.key, self.values = key, values
        super().__init__(self.text("en"))

    def text(self, lang: str) -> str:
        return message(self.key, lang, **self.values)


@dataclass(frozen=True, eq=False)
class CellWeights:
    """The stored weights, ready to apply: weight_of(answers) for any response. Two
    are the same when they were computed at the same moment (`stamp`)."""

    variables: tuple[str, ...]
    cells: dict[Cell, float]
    factors: tuple[dict[str, float], ...]  # per variable: category -> raking factor
    scale: float  # the factors' product times this is an unseen cell's weight
    bounds: tuple[float, float] | None
    stamp: str  # changes whenever the weights are computed again

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CellWeights) and other.stamp == self.stamp

    def __hash__(self) -> int:
        return hash(self.stamp)

    def cell_of(self, answers: dict[str, Any]) -> Cell:
        """The response's cell: its answers to the weighting variables."""
        return tuple(_category(answers.get(v)) for v in self.variables)

    def weight_of(self, answers: dict[str, Any]) -> float:
        return self.weight_of_cell(self.cell_of(answers))

    def weight_of_cell(self, cell: Cell) -> float:
        weight = self.cells.get(cell)
        if weight is not None:
            return weight
        weight = self.scale * math.prod(
            f.get(c, 1.0) if c != NO_ANSWER else 1.0
            for f, c in zip(self.factors, cell, strict=True)
        )
        if self.bounds is not None:
            weight = min(max(weight, self.bounds[0]), self.bounds[1])
        return weight


def _category(value: Any) -> str:
    return value if type(value) is str else NO_ANSWER if value is None else str(value)


def cell_counts(survey_id: int, variables: tuple[str, ...]) -> Counter[Cell]:
    """How many of the responses the dashboard counts by default fall in each cell."""
    counts: Counter[Cell] = Counter()
    with reading() as reads:
        for chunk in response_chunks(survey_id, Filters(), reads=reads):
            counts.update(
                tuple(_category((row.answers or {}).get(v)) for v in variables) for row in chunk
            )
    return counts


def compute_weights(
    survey: Survey,
    margins: Margins,
    bounds: tuple[float, float] | None = DEFAULT_BOUNDS,
    computed_by: str | None = None,
) -> SurveyWeighting:
    """Rake the survey's responses to `margins` and store the weights (the caller
    commits). WeightsError when they cannot be: bounds out of range, a category with a
    target and no respondent, or respondents in a category with no target."""
    if bounds is not None and not MIN_BOUND <= bounds[0] < 1 < bounds[1] <= MAX_BOUND:
        raise WeightsError("weights_bounds", low=MIN_BOUND, high=f"{MAX_BOUND:g}")
    variables = margins.variables
    counts = cell_counts(survey.id, variables)
    unanswered = sum(n for cell, n in counts.items() if NO_ANSWER in cell)
    complete = {cell: n for cell, n in counts.items() if NO_ANSWER not in cell}
    targets = [margins.targets[v] for v in variables]
    try:
        result = rake(complete, targets, bounds)
    except RakingInfeasible as error:
        raise WeightsError(
            f"weights_{error.kind}",
            name=variables[error.variable],
            categories=", ".join(error.categories),
        ) from None
    factors, scale = result.factors, result.scale
    weights = CellWeights(variables, result.weights, factors, scale, bounds, "")
    every = [(weights.weight_of_cell(cell), n) for cell, n in counts.items()]
    n = sum(counts.values())
    values = list(result.weights.values())
    report = {
        "responses": n,
        "unanswered": unanswered,
        "cycles": result.cycles,
        "converged": result.converged,
        "max_error": result.max_error,
        "trimmed_cells": result.trimmed,
        "min_weight": min(values),
        "max_weight": max(values),
        "effective_n": effective_n(every),
        "design_effect": n / effective_n(every) if n else None,
    }
    row = db.session.get(SurveyWeighting, survey.id) or SurveyWeighting(survey_id=survey.id)
    row.margins = margins.to_json()
    row.bounds = list(bounds) if bounds is not None else None
    row.cells = [[list(cell), w] for cell, w in sorted(result.weights.items())]
    row.report = {**report, "factors": [dict(f) for f in factors], "scale": scale}
    row.computed_by = computed_by
    row.computed_at = datetime.now(UTC)
    db.session.add(row)
    return row


def current_weights(survey_id: int) -> CellWeights | None:
    """The survey's stored weights, or None when it is not weighted."""
    row = db.session.get(SurveyWeighting, survey_id)
    if row is None:
        return None
    report = row.report or {}
    bounds = tuple(row.bounds) if row.bounds else None
    return CellWeights(
        variables=tuple(row.margins),
        cells={tuple(cell): float(w) for cell, w in row.cells},
        factors=tuple(dict(f) for f in report.get("factors", [])),
        scale=float(report.get("scale", 1.0)),
        bounds=(float(bounds[0]), float(bounds[1])) if bounds else None,
        stamp=row.computed_at.isoformat(),
    )


def remove_weights(survey_id: int) -> bool:
    """Stop weighting the survey; False if it was not weighted."""
    row = db.session.get(SurveyWeighting, survey_id)
    if row is None:
        return False
    db.session.delete(row)
    return True
