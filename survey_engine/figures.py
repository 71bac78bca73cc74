"""The figures every output shows, computed one way: a share with its 95% Wilson
interval, and the statistics of numbers from their value -> count table.

Pure values and arithmetic, no queries: the dashboard, the results API (through
survey_engine/results) and the workbook (exports/, which may import nothing of the
services) all take their figures from here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

Z95 = 1.959963984540054  # the normal quantile of a two-sided 95% interval


def wilson_interval(count: int, total: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of the proportion count/total (None when total is 0).

    Unlike the textbook p ± z·sqrt(p(1-p)/n) it stays inside [0, 1] and is honest
    for small groups and for 0% or 100%: a commune with 3 answers gets a wide
    interval, not a false certainty.
    A count outside 0..total (responses inserted behind the tallies' back, before a
    `recount --fix`) has no interval either: None, not a math domain error.
    """
    if total <= 0 or not 0 <= count <= total:
        return None
    return wilson_bounds(count / total, total, z)


def wilson_bounds(p: float, n: float, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson interval of a proportion p observed on n (which may be a weighted
    sample's effective n, not a whole number); None when n is 0."""
    if not n > 0 or not 0 <= p <= 1:
        return None
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    # At 0% and 100% the bound is exact: rounding would leave 1e-19 in a workbook cell.
    low = 0.0 if p == 0 else max(0.0, centre - half)
    high = 1.0 if p == 1 else min(1.0, centre + half)
    return low, high


def quantile(frequencies: list[tuple[float, int]], total: int, p: float) -> float:
    """The p-quantile of values given as sorted (value, count) pairs, interpolated
    linearly between order statistics exactly as pandas' Series.quantile does: the
    chunks keep how often each value came, not the values, and lose nothing."""
    position = (total - 1) * p
    below = math.floor(position)
    fraction = position - below

    def nth(k: int) -> float:
        seen = 0
        for value, count in frequencies:
            seen += count
            if k < seen:
                return value
        return frequencies[-1][0]

    low = nth(below)
    if fraction == 0:
        return low
    return low + (nth(below + 1) - low) * fraction


@dataclass(frozen=True)
class Share:
    """`count` out of `total`, with its 95% Wilson interval: every proportion shown
    carries one, because a district with 12 answers is not a district with 12,000."""

    count: int
    total: int

    @property
    def ratio(self) -> float | None:
        return self.count / self.total if self.total else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson_interval(self.count, self.total)


@dataclass(frozen=True)
class WeightedShare:
    """A share with the weights applied: `weight` of `total` (sums of weights), its
    interval on Kish's effective n of the base (`effective_n`), so a weighted figure
    never claims the precision of the unweighted count it came from."""

    weight: float
    total: float
    effective_n: float

    @property
    def ratio(self) -> float | None:
        return self.weight / self.total if self.total > 0 else None

    @property
    def interval(self) -> tuple[float, float] | None:
        ratio = self.ratio
        return None if ratio is None else wilson_bounds(min(ratio, 1.0), self.effective_n)


@dataclass(frozen=True)
class NumberSummary:
    count: int  # answers that are numbers (families.number_of)
    mean: float
    minimum: float
    q1: float
    median: float
    q3: float
    maximum: float
    weighted_mean: float | None = None  # when the survey is weighted


def summarize(values: Mapping[float, int]) -> NumberSummary | None:
    """Exact statistics of the values counted (None when there are none); quartiles
    interpolated linearly between the two nearest values, as pandas, numpy.percentile
    and Excel's QUARTILE.INC do."""
    total = sum(values.values())
    if not total:
        return None
    frequencies = sorted((value, count) for value, count in values.items() if count)
    mean = math.fsum(value * count for value, count in frequencies) / total
    return NumberSummary(
        count=total,
        mean=mean,
        minimum=frequencies[0][0],
        q1=quantile(frequencies, total, 0.25),
        median=quantile(frequencies, total, 0.5),
        q3=quantile(frequencies, total, 0.75),
        maximum=frequencies[-1][0],
    )
