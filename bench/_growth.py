"""The growth exponent the benchmarks print: the log-log slope of time against size."""

from __future__ import annotations

import math
from collections.abc import Sequence


def slope(sizes: Sequence[float], seconds: Sequence[float | None]) -> float:
    """Least-squares slope of log(seconds) on log(size); nan where a time is missing (a method
    that did not run at that size) or all sizes are equal."""
    if any(t is None for t in seconds):
        return float("nan")
    xs, ys = [math.log(n) for n in sizes], [math.log(max(t, 1e-3)) for t in seconds]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else float("nan")
