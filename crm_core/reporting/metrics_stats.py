"""Small statistics for the metrics: one percentile definition used everywhere."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], p: float) -> float | None:
    """The p-th quantile (0 ≤ p ≤ 1) by linear interpolation between closest ranks.

    This is numpy's default and Excel's PERCENTILE.INC: sort, take the fractional rank
    h = (n − 1)·p and interpolate between the values at floor(h) and ceil(h). The median of
    60 and 180 is 120; their p90 is 168. None for no values, so "no data" is never 0.
    """
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ratio(part: int, whole: int, digits: int = 4) -> float | None:
    """part / whole rounded for display, None when there is nothing to divide by."""
    return round(part / whole, digits) if whole else None
