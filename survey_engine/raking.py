"""Raking (iterative proportional fitting): weights that make a sample's margins match a
population's, e.g. district and sex from the census.

Pure arithmetic on a table of cells, no queries. Every respondent in one cell (one
combination of the weighting variables' answers) gets the same weight, so raking works
on the cell counts (a few hundred numbers), never on the responses: 75,000 or 7 million
cost the same. Written here rather than taken from samplics or balance: both rake a
DataFrame of respondents and bring scipy/statsmodels (balance also R-style
dependencies) for about forty lines of arithmetic; this is checked against the
published example of tests/test_raking.py instead.

The classical algorithm (Deming and Stephan, 1940): for each variable in turn, scale
the cells so that their totals per category equal the target; repeat until no total is
further from its target than `tolerance` (a share of the population). With bounds, the
weights (relative to the mean weight) are clipped after each cycle and the cycle goes
on, so the result meets the bounds and the margins as nearly as both allow; the report
says how nearly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

Cell = tuple[str, ...]  # one category per weighting variable, in the variables' order

MAX_CYCLES = 1000  # a table that has not converged by then does not converge
TOLERANCE = 1e-10  # largest margin error left, as a share of the population


class RakingInfeasible(ValueError):
    """Targets that cannot be met: `kind` is no_respondent (a category with a target
    and no respondent), no_target (respondents in a category without one) or
    bad_targets (not positive numbers); `variable` counts from 0."""

    def __init__(self, kind: str, variable: int, categories: Sequence[str] = ()) -> None:
        self.kind, self.variable, self.categories = kind, variable, list(categories)
        super().__init__(f"variable {variable + 1}: {kind} {', '.join(self.categories)}".strip())


@dataclass(frozen=True)
class RakingResult:
    """The weight of one respondent in each cell, and how the raking went."""

    weights: dict[Cell, float]  # mean weight over the sample: 1 (population / n scaled)
    cycles: int
    converged: bool
    max_error: float  # largest |weighted share - target share| over every category
    trimmed: int  # cells whose weight the bounds clipped in the last cycle
    # Per variable, category -> the product of its scaling steps; with `scale`, the
    # weight of a cell no respondent was in: scale × Π factors (then clipped).
    factors: tuple[dict[str, float], ...] = ()
    scale: float = 1.0

    def fitted(self, counts: Mapping[Cell, float]) -> dict[Cell, float]:
        """The weighted count of each cell: its sample count times its weight."""
        return {cell: n * self.weights[cell] for cell, n in counts.items()}


def rake(
    counts: Mapping[Cell, float],
    targets: Sequence[Mapping[str, float]],
    bounds: tuple[float, float] | None = None,
    tolerance: float = TOLERANCE,
    max_cycles: int = MAX_CYCLES,
) -> RakingResult:
    """Weights for the cells of `counts` (sample count of each cell) such that, for
    each variable i, the weighted count of category c is proportional to targets[i][c].

    Targets may be counts or shares: each variable's are made shares of its own total.
    The weights are scaled so that their mean over the sample is 1 (the weighted n is
    the sample's n); `bounds` (low, high) limits each weight to that range around 1.
    Raises RakingInfeasible for targets that cannot be met: a category with a target
    but no respondent, or a respondent in a category with no target.
    """
    cells = [cell for cell, n in counts.items() if n > 0]
    if not cells:
        raise ValueError("no respondent to weight")
    n_total = math.fsum(counts[cell] for cell in cells)
    shares = [_shares(i, t) for i, t in enumerate(targets)]
    for i, share in enumerate(shares):
        present = {cell[i] for cell in cells}
        missing = sorted(c for c, s in share.items() if s > 0 and c not in present)
        if missing:
            raise RakingInfeasible("no_respondent", i, missing)
        unknown = sorted(c for c in present if c not in share)
        if unknown:
            raise RakingInfeasible("no_target", i, unknown)
    # fitted[cell]: weighted count as a share of the population
    fitted = {cell: counts[cell] / n_total for cell in cells}
    factors: list[dict[str, float]] = [dict.fromkeys(share, 1.0) for share in shares]
    cycles, error, trimmed, scale = 0, math.inf, 0, 1.0
    while cycles < max_cycles:
        cycles += 1
        for i, share in enumerate(shares):
            sums = _sums(fitted, i)
            steps = {category: share[category] / total for category, total in sums.items()}
            for cell in cells:
                fitted[cell] *= steps[cell[i]]
            for category, step in steps.items():
                factors[i][category] *= step
        if bounds is not None:
            trimmed, total = _clip(fitted, counts, n_total, bounds)
            scale /= total
        error = max(
            abs(total - share[category])
            for i, share in enumerate(shares)
            for category, total in _sums(fitted, i).items()
        )
        if error <= tolerance:
            break
    weights = {cell: fitted[cell] * n_total / counts[cell] for cell in cells}
    return RakingResult(weights, cycles, error <= tolerance, error, trimmed, tuple(factors), scale)


def _shares(i: int, targets: Mapping[str, float]) -> dict[str, float]:
    total = math.fsum(targets.values())
    if not total > 0 or any(not v >= 0 or math.isinf(v) for v in targets.values()):
        raise RakingInfeasible("bad_targets", i)
    return {category: value / total for category, value in targets.items()}


def _sums(fitted: Mapping[Cell, float], i: int) -> dict[str, float]:
    sums: dict[str, float] = {}
    for cell, value in fitted.items():
        sums[cell[i]] = sums.get(cell[i], 0.0) + value
    return sums


def _clip(
    fitted: dict[Cell, float],
    counts: Mapping[Cell, float],
    n_total: float,
    bounds: tuple[float, float],
) -> tuple[int, float]:
    """Clip each weight (relative to the mean, 1) into `bounds` and give what the
    clipped cells lost or gained to the others, until none is out of bounds: how many
    were clipped, and the factor the others were scaled by."""
    low, high = bounds
    fixed: dict[Cell, float] = {}
    scale = 1.0
    for _ in range(len(fitted)):
        out = {
            cell: min(max(w, low), high)
            for cell, value in fitted.items()
            if cell not in fixed and not low <= (w := value * n_total / counts[cell]) <= high
        }
        if not out:
            break
        fixed.update(out)
        for cell, weight in out.items():
            fitted[cell] = weight * counts[cell] / n_total
        free = [cell for cell in fitted if cell not in fixed]
        free_total = math.fsum(fitted[cell] for cell in free)
        if not free or free_total <= 0:
            break
        step = (1 - math.fsum(fitted[cell] for cell in fixed)) / free_total
        for cell in free:
            fitted[cell] *= step
        scale *= step
    return len(fixed), 1 / scale


def effective_n(weights: Sequence[tuple[float, float]]) -> float:
    """Kish's effective sample size, (Σw)² / Σw², of (weight, how many) pairs: the
    number of unweighted respondents that would give the same precision."""
    total = math.fsum(w * n for w, n in weights)
    squares = math.fsum(w * w * n for w, n in weights)
    return total * total / squares if squares > 0 else 0.0
