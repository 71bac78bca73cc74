"""Small statistics the dashboard and the workbook share."""

from __future__ import annotations

import math

Z95 = 1.959963984540054  # the normal quantile of a two-sided 95% interval


def wilson_interval(count: int, total: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of the proportion count/total (None when total is 0).

    Unlike the textbook p ± z·sqrt(p(1-p)/n) it stays inside [0, 1] and is honest
    for small groups and for 0% or 100%: a commune with 3 answers gets a wide
    interval, not a false certainty.
    """
    if total <= 0:
        return None
    p = count / total
    z2 = z * z
    centre = (p + z2 / (2 * total)) / (1 + z2 / total)
    half = z * math.sqrt(p * (1 - p) / total + z2 / (4 * total * total)) / (1 + z2 / total)
    return max(0.0, centre - half), min(1.0, centre + half)
