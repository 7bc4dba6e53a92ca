"""Statistics for the verdict, pure Python (no scipy in a function): percentiles, Mann-Whitney U, two proportions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

# Exact Mann-Whitney p-values are computed when there are no ties and the count of (x, y) pairs is at
# most this; beyond it the normal approximation (with continuity correction) is within ~0.01 of exact.
EXACT_PAIRS = 400


def finite(values: Sequence[float]) -> list[float]:
    """The values, or ValueError naming the first that is not a finite number (NaN and inf decide nothing)."""
    out: list[float] = []
    for value in values:
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"{value!r} is not a finite number")
        out.append(number)
    return out


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100) by linear interpolation between closest ranks: numpy's default
    'linear' method, R's type 7, `statistics.quantiles(method="inclusive")`. ValueError when empty."""
    data = sorted(finite(values))
    if not data:
        raise ValueError("no values")
    if not 0 <= p <= 100:  # noqa: PLR2004
        raise ValueError(f"percentile {p} is not within 0..100")
    position = (len(data) - 1) * p / 100
    low = math.floor(position)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (position - low)


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2))


class MannWhitney(NamedTuple):
    """One-sided test that x is stochastically greater than y: U of x, its p-value and how it was found."""

    u: float
    p_value: float
    method: str  # "exact" | "normal"
    n_x: int
    n_y: int


def midranks(values: Sequence[float]) -> list[float]:
    """Rank of each value (1-based) in the pooled order; tied values share their mean rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for k in range(start, end + 1):
            ranks[order[k]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def mann_whitney_greater(x: Sequence[float], y: Sequence[float]) -> MannWhitney:
    """H1: x tends to be larger than y. Exact for small samples without ties, else normal with tie and
    continuity corrections (scipy's `mannwhitneyu(x, y, alternative="greater")`). ValueError when a side is empty."""
    xs, ys = finite(x), finite(y)
    n_x, n_y = len(xs), len(ys)
    if not n_x or not n_y:
        raise ValueError("both samples need values")
    pooled = xs + ys
    ranks = midranks(pooled)
    u = sum(ranks[:n_x]) - n_x * (n_x + 1) / 2
    ties = _tie_sizes(pooled)
    if not ties and n_x * n_y <= EXACT_PAIRS:
        counts = _u_distribution(n_x, n_y)
        at_least = sum(counts[math.ceil(u) :])
        return MannWhitney(u, at_least / math.comb(n_x + n_y, n_x), "exact", n_x, n_y)
    total = n_x + n_y
    tie_term = sum(t**3 - t for t in ties) / (total * (total - 1))
    variance = n_x * n_y / 12 * ((total + 1) - tie_term)
    if variance <= 0:  # every value equal: no evidence either way
        return MannWhitney(u, 1.0, "normal", n_x, n_y)
    z = (u - n_x * n_y / 2 - 0.5) / math.sqrt(variance)
    return MannWhitney(u, normal_sf(z), "normal", n_x, n_y)


def _tie_sizes(values: Sequence[float]) -> list[int]:
    counts: dict[float, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return [count for count in counts.values() if count > 1]


def _u_distribution(m: int, n: int) -> list[int]:
    """How many of the C(m+n, m) orderings give each U = 0..mn: the coefficients of the Gaussian binomial
    [m+n choose m]_q = prod_{i=1..m} (1 - q^(n+i)) / (1 - q^i), multiplied and divided exactly."""
    size = m * n + 1
    coefficients = [0] * size
    coefficients[0] = 1
    for i in range(1, m + 1):
        for k in range(size - 1, n + i - 1, -1):  # times (1 - q^(n+i))
            coefficients[k] -= coefficients[k - n - i]
        for k in range(i, size):  # divided by (1 - q^i)
            coefficients[k] += coefficients[k - i]
    return coefficients


class TwoProportions(NamedTuple):
    """One-sided test that the experiment's rate exceeds the control's by more than `allowed` (absolute)."""

    rate_x: float
    rate_y: float
    z: float
    p_value: float


def two_proportion_greater(
    events_x: int, total_x: int, events_y: int, total_y: int, allowed: float = 0.0
) -> TwoProportions:
    """H1: p_x - p_y > allowed, with the pooled standard error of H0's p_x = p_y (the classic z-test when
    `allowed` is 0). ValueError for counts that are not counts."""
    if total_x <= 0 or total_y <= 0:
        raise ValueError("both sides need at least one event")
    if not (0 <= events_x <= total_x and 0 <= events_y <= total_y):
        raise ValueError("events must be between 0 and the total")
    rate_x, rate_y = events_x / total_x, events_y / total_y
    pooled = (events_x + events_y) / (total_x + total_y)
    error = math.sqrt(pooled * (1 - pooled) * (1 / total_x + 1 / total_y))
    excess = rate_x - rate_y - allowed
    if error == 0:  # no events on either side, or only events: the difference is known exactly
        return TwoProportions(rate_x, rate_y, 0.0, 0.0 if excess > 0 else 1.0)
    z = excess / error
    return TwoProportions(rate_x, rate_y, z, normal_sf(z))
