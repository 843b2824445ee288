"""The statistical judge on known samples: it fails clear regressions beyond the tolerance, passes
noise and negligible shifts, holds when samples are too few, controls the family-wise error across
metrics (Holm) and across the checks of a run (Pocock), and lets a critical metric fail the run on
its own."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest

from canary.core.judge import (
    Comparison,
    Counts,
    Direction,
    Verdict,
    hodges_lehmann,
    holm,
    judge,
    per_check_level,
)

RNG = np.random.default_rng(7)


def lognormal(median: float, n: int = 30, sigma: float = 0.3) -> list[float]:
    return list(RNG.lognormal(math.log(median), sigma, n))


def test_doubled_latency_fails_and_names_the_evidence() -> None:
    result = judge(
        {"latency": (lognormal(200), lognormal(100))},
        [Comparison("latency", Direction.INCREASE, tolerance=0.1)],
    )
    assert result.verdict is Verdict.FAIL
    (metric,) = result.metrics
    assert metric.verdict is Verdict.FAIL
    assert metric.adjusted_p_value is not None
    assert metric.adjusted_p_value < 0.02
    assert metric.shift is not None
    assert 70 < metric.shift < 130
    assert "latency: fail" in result.describe()
    assert result.score == 0


def test_same_distribution_passes() -> None:
    result = judge({"latency": (lognormal(100), lognormal(100))}, [Comparison("latency", tolerance=0.1)])
    assert result.verdict is Verdict.PASS
    assert result.score == 100


def test_a_significant_but_tolerated_shift_passes() -> None:
    canary = [100.0 + 2 + x for x in RNG.normal(0, 0.5, 40)]
    primary = [100.0 + x for x in RNG.normal(0, 0.5, 40)]
    tight = judge({"m": (canary, primary)}, [Comparison("m", tolerance=0.0)])
    loose = judge({"m": (canary, primary)}, [Comparison("m", tolerance=0.05)])  # 5% of 100 > 2
    assert tight.verdict is Verdict.FAIL
    assert loose.verdict is Verdict.PASS


def test_direction_decides_what_is_a_regression() -> None:
    lower = (lognormal(50), lognormal(100))
    assert judge({"m": lower}, [Comparison("m", Direction.INCREASE)]).verdict is Verdict.PASS
    assert judge({"m": lower}, [Comparison("m", Direction.DECREASE)]).verdict is Verdict.FAIL
    assert judge({"m": lower}, [Comparison("m", Direction.EITHER)]).verdict is Verdict.FAIL


def test_too_few_samples_or_nan_is_inconclusive() -> None:
    short = judge({"m": ([1.0, 2.0], lognormal(1))}, [Comparison("m", min_samples=5)])
    assert short.verdict is Verdict.INCONCLUSIVE
    assert "too few samples" in short.describe()
    nans = judge({"m": ([float("nan")] * 20, lognormal(1, 20))}, [Comparison("m", min_samples=5)])
    assert nans.verdict is Verdict.INCONCLUSIVE
    assert nans.metrics[0].canary_samples == 0
    missing = judge({}, [Comparison("m")])
    assert missing.verdict is Verdict.INCONCLUSIVE


def test_error_ratio_near_zero_uses_the_absolute_tolerance() -> None:
    primary = list(RNG.binomial(200, 0.001, 30) / 200)
    canary = list(RNG.binomial(200, 0.05, 30) / 200)
    c = Comparison("errors", Direction.INCREASE, tolerance=0.5, absolute_tolerance=0.01)
    assert judge({"errors": (canary, primary)}, [c]).verdict is Verdict.FAIL
    assert judge({"errors": (primary, primary)}, [c]).verdict is Verdict.PASS


def test_critical_metric_fails_the_run_alone_and_score_and_marginal() -> None:
    good = (lognormal(100), lognormal(100))
    bad = (lognormal(300), lognormal(100))
    names = [f"m{i}" for i in range(10)]
    samples = {n: good for n in names} | {"bad": bad}
    comparisons = [Comparison(n) for n in names] + [Comparison("bad")]
    mostly = judge(samples, comparisons, pass_score=95, marginal_score=75)
    assert mostly.score == pytest.approx(100 * 10 / 11)
    assert mostly.verdict is Verdict.MARGINAL
    critical = judge(samples, [Comparison(n) for n in names] + [Comparison("bad", critical=True)])
    assert critical.verdict is Verdict.FAIL


def test_holm_adjustment() -> None:
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([]) == []


def test_holm_keeps_false_failures_at_the_confidence_across_many_metrics() -> None:
    # 300 healthy runs with 8 compared metrics each: without correction about 8 * 2% would fail.
    rng = np.random.default_rng(11)
    comparisons = [Comparison(f"m{i}") for i in range(8)]
    failures = 0
    for _ in range(300):
        samples = {
            c.name: (list(rng.normal(100, 10, 20)), list(rng.normal(100, 10, 20))) for c in comparisons
        }
        failures += judge(samples, comparisons, marginal_score=0).verdict is Verdict.FAIL
    assert failures / 300 <= 0.04  # the family-wise rate stays near 1 - confidence (2%)


def test_hodges_lehmann() -> None:
    assert hodges_lehmann(np.array([3.0, 4.0]), np.array([1.0, 2.0])) == 2.0


def test_a_success_rate_tolerance_is_a_share_of_the_failure_rate() -> None:
    # 99.5% -> 98.5%: three times the failures.  10% of 99.5 would tolerate it; 10% of 0.5 does not.
    canary = list(RNG.normal(98.5, 0.2, 30))
    primary = list(RNG.normal(99.5, 0.2, 30))
    plain = Comparison("success", Direction.DECREASE, tolerance=0.1)
    assert judge({"success": (canary, primary)}, [plain]).verdict is Verdict.PASS
    share = Comparison("success", Direction.DECREASE, tolerance=0.1, ceiling=100.0)
    assert judge({"success": (canary, primary)}, [share]).verdict is Verdict.FAIL


def test_a_success_rate_known_by_its_counts_is_compared_with_fishers_exact_test() -> None:
    latency = Comparison("latency", tolerance=0.1)
    rate = Comparison("success", Direction.DECREASE, tolerance=0.1, ceiling=100.0, min_samples=10)
    lat = {"latency": (lognormal(100), lognormal(100))}
    # 2.5% failures on 2,000 canary requests against 0.5% on 18,000: a clear regression.
    worse = {"success": (Counts(failed=50, total=2000), Counts(failed=90, total=18000))}
    result = judge(lat, [latency, rate], counts=worse)
    assert result.verdict is Verdict.FAIL
    metric = next(m for m in result.metrics if m.name == "success")
    assert metric.verdict is Verdict.FAIL
    assert (metric.canary_samples, metric.primary_samples) == (2000, 18000)
    assert metric.shift is not None
    assert metric.shift == pytest.approx(-2.0)
    # The same rate, and a canary better than the primary, pass.
    same = {"success": (Counts(failed=10, total=2000), Counts(failed=90, total=18000))}
    assert judge(lat, [latency, rate], counts=same).verdict is Verdict.PASS
    better = {"success": (Counts(failed=0, total=2000), Counts(failed=90, total=18000))}
    assert judge(lat, [latency, rate], counts=better).verdict is Verdict.PASS
    # Too few requests on a side: inconclusive, whatever they show.
    few = {"success": (Counts(failed=5, total=8), Counts(failed=90, total=18000))}
    assert judge(lat, [latency, rate], counts=few).verdict is Verdict.INCONCLUSIVE


def test_a_clear_regression_fails_while_another_metric_still_gathers_samples() -> None:
    # Two metrics, one failed, one inconclusive: even if it passed, the score would be 50 < 75.
    rate = Comparison("success", Direction.DECREASE, tolerance=0.1, ceiling=100.0)
    worse = {"success": (Counts(failed=50, total=2000), Counts(failed=90, total=18000))}
    short = {"latency": ([1.0, 2.0], lognormal(1))}
    result = judge(short, [Comparison("latency"), rate], counts=worse)
    assert result.verdict is Verdict.FAIL
    # With ten metrics still gathering samples one failure could still end at 91 (marginal): held.
    names = [f"m{i}" for i in range(10)]
    many = judge(short | {n: ([1.0], [1.0]) for n in names}, [rate, *map(Comparison, names)], counts=worse)
    assert many.verdict is Verdict.INCONCLUSIVE


def test_the_per_check_level_keeps_any_false_failure_in_a_run_at_alpha() -> None:
    assert per_check_level(0.02, 1) == 0.02
    levels = [per_check_level(0.02, k) for k in (2, 4, 8, 16)]
    assert levels == sorted(levels, reverse=True)
    assert all(0.02 / k < level < 0.02 for k, level in zip((2, 4, 8, 16), levels, strict=True))
    # Pocock's published boundary for five looks at 2.5% one-sided is z = 2.413.
    assert NormalDist().inv_cdf(1 - per_check_level(0.025, 5)) == pytest.approx(2.413, abs=0.01)
    # Checked by simulation: a random walk seen at 8 checks crosses the level about 2% of the time.
    rng = np.random.default_rng(3)
    walks = np.cumsum(rng.standard_normal((200_000, 8)), axis=1) / np.sqrt(np.arange(1, 9))
    crossed = (walks > NormalDist().inv_cdf(1 - per_check_level(0.02, 8))).any(axis=1).mean()
    assert crossed == pytest.approx(0.02, abs=0.002)
    # Each check at 2% would fail a healthy run at some check about three times as often.
    assert (walks > NormalDist().inv_cdf(0.98)).any(axis=1).mean() > 0.05


def test_more_planned_checks_demand_stronger_evidence_per_check() -> None:
    # p = 0.0048 one-sided: a failure when the run plans one check, a pass when it plans sixteen.
    worse = {"success": (Counts(failed=8, total=400), Counts(failed=20, total=3600))}
    rate = Comparison("success", Direction.DECREASE, tolerance=0.1, ceiling=100.0)
    one = judge({}, [rate], counts=worse, looks=1)
    assert one.verdict is Verdict.FAIL
    assert one.metrics[0].p_value is not None
    assert 0.0033 < one.metrics[0].p_value < 0.02
    assert judge({}, [rate], counts=worse, looks=16).verdict is Verdict.PASS
