"""Statistics against published values (numpy and scipy are not dependencies; each value says where it is from)."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from codereflex.validation import stats


def test_percentile_matches_numpys_linear_default() -> None:
    # numpy.percentile docs: a = [[10, 7, 4], [3, 2, 1]]; np.percentile(a, 50) -> 3.5
    assert stats.percentile([10, 7, 4, 3, 2, 1], 50) == 3.5
    # Hyndman & Fan type 7 (numpy 'linear', R's default): (n-1)p; for 1..10 the 90th is 9.1
    assert stats.percentile(range(1, 11), 90) == pytest.approx(9.1)
    assert stats.percentile([5], 99) == 5
    assert stats.percentile([1, 2], 100) == 2


def test_percentile_equals_the_standard_librarys_inclusive_quantiles() -> None:
    # statistics.quantiles(method="inclusive") is the same type-7 definition, computed independently.
    rng = random.Random(14)  # noqa: S311 - seeded test data
    for size in (2, 3, 10, 41, 500):
        data = [rng.lognormvariate(4, 1) for _ in range(size)]
        cuts = statistics.quantiles(data, n=100, method="inclusive")
        for p in (1, 50, 90, 99):
            assert stats.percentile(data, p) == pytest.approx(cuts[p - 1], rel=1e-12)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_values_are_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="not a finite number"):
        stats.percentile([1.0, bad], 50)
    with pytest.raises(ValueError, match="not a finite number"):
        stats.mann_whitney_greater([1.0, 2.0, bad], [1.0, 2.0])


def test_no_values_is_an_error_not_zero() -> None:
    with pytest.raises(ValueError, match="no values"):
        stats.percentile([], 99)
    with pytest.raises(ValueError, match="both samples"):
        stats.mann_whitney_greater([], [1.0])


def test_mann_whitney_exact_matches_scipys_example() -> None:
    # scipy.stats.mannwhitneyu docs (after Conover): males [19, 22, 16, 29, 24], females [20, 11, 17, 12]:
    # U1 = 17, exact two-sided p = 0.1111..., so one-sided "greater" p = 7/126.
    result = stats.mann_whitney_greater([19, 22, 16, 29, 24], [20, 11, 17, 12])
    assert (result.u, result.method) == (17.0, "exact")
    assert 2 * result.p_value == pytest.approx(0.1111111111111111)


def test_mann_whitney_normal_matches_scipys_asymptotic_example() -> None:
    # Same docs, method="asymptotic" (continuity corrected): two-sided p = 0.11134688653314041.
    exact_pairs, stats.EXACT_PAIRS = stats.EXACT_PAIRS, 0
    try:
        result = stats.mann_whitney_greater([19, 22, 16, 29, 24], [20, 11, 17, 12])
    finally:
        stats.EXACT_PAIRS = exact_pairs
    assert result.method == "normal"
    assert 2 * result.p_value == pytest.approx(0.11134688653314041, rel=1e-9)


def test_mann_whitney_tie_correction_matches_r() -> None:
    # wilcox.test(c(5,1,4,3,5), c(2,4,7,-1,0,4), alternative="greater", correct=TRUE): W = 19, p = 0.2590
    # (DolphinDB's mannWhitneyUTest docs print R's values for the same data: 0.259011, two-sided 0.518023).
    result = stats.mann_whitney_greater([5, 1, 4, 3, 5], [2, 4, 7, -1, 0, 4])
    assert (result.u, result.method) == (19.0, "normal")
    assert result.p_value == pytest.approx(0.259011, abs=1e-6)


def test_exact_distribution_is_a_distribution() -> None:
    for m, n in ((1, 1), (3, 5), (8, 8), (20, 20)):
        counts = stats._u_distribution(m, n)
        assert sum(counts) == math.comb(m + n, m)
        assert counts == counts[::-1]  # symmetric about mn/2
        assert min(counts) >= 1


def test_all_equal_samples_give_no_evidence() -> None:
    result = stats.mann_whitney_greater([5.0] * 30, [5.0] * 30)
    assert result.p_value == 1.0


def test_a_slower_green_is_found_and_an_equal_one_is_not() -> None:
    rng = random.Random(7)  # noqa: S311 - seeded test data
    blue = [rng.gauss(100, 10) for _ in range(60)]
    slow = [rng.gauss(130, 10) for _ in range(60)]
    same = [rng.gauss(100, 10) for _ in range(60)]
    assert stats.mann_whitney_greater(slow, blue).p_value < 1e-6
    assert stats.mann_whitney_greater(same, blue).p_value > 0.02
    # 30% slower is within an allowed increase of 1.5x: compare against blue scaled by it.
    assert stats.mann_whitney_greater(slow, [v * 1.5 for v in blue]).p_value > 0.5


def test_two_proportions_classic_z_test() -> None:
    # 20/100 against 10/100: pooled p = 0.15, se = sqrt(0.15 * 0.85 * 0.02) = 0.0505, z = 1.980, one-sided p = 0.0238.
    result = stats.two_proportion_greater(20, 100, 10, 100)
    assert result.z == pytest.approx(1.9803, abs=1e-4)
    assert result.p_value == pytest.approx(1 - statistics.NormalDist().cdf(result.z), rel=1e-9)
    assert result.p_value == pytest.approx(0.0238, abs=1e-4)


def test_two_proportions_edges() -> None:
    assert stats.two_proportion_greater(0, 500, 0, 500).p_value == 1.0
    assert stats.two_proportion_greater(10, 500, 10, 500, allowed=0.01).p_value > 0.5
    with pytest.raises(ValueError, match="at least one"):
        stats.two_proportion_greater(0, 0, 0, 10)
    with pytest.raises(ValueError, match="between 0 and the total"):
        stats.two_proportion_greater(11, 10, 0, 10)
