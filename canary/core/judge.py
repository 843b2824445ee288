"""The statistical judge: is the canary worse than the primary, metric by metric, beyond noise?

Who calls this: the analysis (``canary.operator.checks``) with the samples of each compared metric
from both sides (range queries over the analysis window), and the decision-quality benchmark in
``bench/`` with simulated samples: both run exactly this code.  Pure: numpy and scipy, no I/O.
scipy.stats is imported on the first judgement, not with the module: it costs the controller about
70 MiB of memory, which a controller whose canaries compare nothing should not pay.

How it judges, after Kayenta (see docs/analysis.md):

* Per metric, NaN and infinite samples are dropped; a side with fewer than ``min_samples`` samples
  makes the metric *inconclusive* (hold the weight, do not judge on too little data).
* A one-sided Mann-Whitney U test in the direction that would be a regression (``increase``: the
  canary is higher, as for latency or errors; ``decrease``: lower, as for throughput; ``either``:
  two-sided) gives a p-value.  Mann-Whitney makes no assumption about the distributions' shape, which
  suits latency and error ratios.
* The effect is the Hodges-Lehmann estimate of the shift (the median of all canary-minus-primary
  differences, the estimator that goes with the U test).  A metric fails only if its Holm-adjusted
  p-value is below ``1 - confidence`` *and* the shift in the bad direction exceeds the tolerance: a
  relative tolerance of the primary's median, or an absolute one, whichever is larger.  So a
  statistically clear but negligible change does not roll a canary back.
* A success rate whose request counts are known (the builtin ``request-success-rate``) is compared
  by those counts instead, with Fisher's exact test on failed and succeeded requests; its shift is
  the difference of the two rates, in points.
* Holm's step-down correction across the judged metrics keeps the family-wise false-failure rate at
  the per-check level however many metrics are compared.
* The checks of a run judge accumulating data, so a chance failure at one check tends to repeat at
  the next and reach the failure threshold.  The per-check level is therefore not ``1 - confidence``
  but Pocock's constant level for the number of checks the run plans (``looks``; see
  ``per_check_level``): a healthy canary fails *any* check of its run with a chance of about
  ``1 - confidence``.
* The score is the share of judged metrics that passed, 0-100.  A failed ``critical`` metric fails
  the run whatever the score.  So do failures that leave the score below ``marginal_score`` even if
  every inconclusive metric passed (a clear regression is not held up by a metric still gathering
  samples).  Otherwise any inconclusive metric makes the judgement inconclusive, and then the score
  decides: at least ``pass_score`` passes, at least ``marginal_score`` is marginal (held, like
  inconclusive), below fails.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

import numpy as np


class Direction(StrEnum):
    """Which change of a metric is a regression."""

    INCREASE = "increase"
    DECREASE = "decrease"
    EITHER = "either"


class Verdict(StrEnum):
    PASS = "pass"  # noqa: S105 - a verdict, not a password
    MARGINAL = "marginal"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Comparison:
    """How one metric is compared."""

    name: str
    direction: Direction = Direction.INCREASE
    #: tolerated shift, as a fraction of the primary's median (0.1: 10%)
    tolerance: float = 0.0
    #: tolerated shift in the metric's own unit (for metrics whose primary median is about zero)
    absolute_tolerance: float = 0.0
    #: a failure of this metric fails the run on its own
    critical: bool = False
    #: fewer samples on either side: inconclusive
    min_samples: int = 10
    #: for a share measured against a ceiling (a success rate in percent: 100), the relative tolerance
    #: applies to the distance from it (the failure rate), not to the value itself: 10% of a 99.5%
    #: success rate would tolerate almost 10 points
    ceiling: float | None = None


@dataclass(frozen=True)
class Counts:
    """A success rate given by its counts: ``failed`` of ``total`` requests (over the window)."""

    failed: float
    total: float

    @property
    def rate(self) -> float:
        """The success rate in percent."""
        return 100.0 * (1 - self.failed / self.total) if self.total > 0 else math.nan


@dataclass(frozen=True)
class MetricResult:
    """The evidence for one metric."""

    name: str
    verdict: Verdict
    canary_samples: int
    primary_samples: int
    canary_median: float | None = None
    primary_median: float | None = None
    #: Hodges-Lehmann shift, canary minus primary, in the metric's unit
    shift: float | None = None
    p_value: float | None = None
    #: Holm-adjusted p-value (across the judged metrics)
    adjusted_p_value: float | None = None
    critical: bool = False

    def describe(self) -> str:
        if self.verdict is Verdict.INCONCLUSIVE and self.p_value is None:
            return (
                f"{self.name}: inconclusive, too few samples "
                f"(canary {self.canary_samples}, primary {self.primary_samples})"
            )
        return (
            f"{self.name}: {self.verdict.value} (canary median {_fmt(self.canary_median)}, "
            f"primary {_fmt(self.primary_median)}, shift {_fmt(self.shift)}, "
            f"p={_fmt(self.adjusted_p_value)}, n={self.canary_samples}/{self.primary_samples})"
        )


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    #: 0-100, or None when nothing could be judged
    score: float | None
    metrics: tuple[MetricResult, ...]

    def describe(self) -> str:
        score = "n/a" if self.score is None else f"{self.score:.0f}"
        return f"judge {self.verdict.value}, score {score}: " + "; ".join(m.describe() for m in self.metrics)


def _fmt(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:.4g}"


def _clean(samples: Sequence[float]) -> np.ndarray:
    arr = np.asarray(samples, dtype=float)
    finite: np.ndarray = arr[np.isfinite(arr)]
    return finite


def hodges_lehmann(canary: np.ndarray, primary: np.ndarray) -> float:
    """The median of all pairwise differences canary - primary."""
    return float(np.median(np.subtract.outer(canary, primary)))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the input order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def _test(c: np.ndarray, p: np.ndarray, direction: Direction) -> float:
    if np.ptp(np.concatenate([c, p])) == 0:
        return 1.0  # all samples equal: no evidence of any difference
    alternative = {Direction.INCREASE: "greater", Direction.DECREASE: "less", Direction.EITHER: "two-sided"}
    from scipy.stats import mannwhitneyu  # noqa: PLC0415 - see the module docstring

    return float(mannwhitneyu(c, p, alternative=alternative[direction], method="auto").pvalue)


def _too_far(shift: float, primary_median: float, comparison: Comparison) -> bool:
    base = primary_median if comparison.ceiling is None else comparison.ceiling - primary_median
    allowed = max(comparison.tolerance * abs(base), comparison.absolute_tolerance)
    if comparison.direction is Direction.INCREASE:
        return shift > allowed
    if comparison.direction is Direction.DECREASE:
        return -shift > allowed
    return abs(shift) > allowed


def _counted(comparison: Comparison, canary: Counts, primary: Counts) -> tuple[float, float, float, float]:
    """(p-value, shift in points, canary rate, primary rate) of two success rates given by counts.

    Fisher's exact test on the 2x2 table of failed and succeeded requests: exact at any count, and,
    unlike a rank test on per-step rates, it neither loses the requests' number (a step with 30
    requests weighs as much as one with 3,000) nor mistakes the canary's smaller share of traffic for
    a difference (few requests make its per-step rates coarse).
    """
    c_failed, p_failed = round(canary.failed), round(primary.failed)
    table = [[c_failed, round(canary.total) - c_failed], [p_failed, round(primary.total) - p_failed]]
    # The success rate falls when the canary's odds of failing rise.
    alternative = {Direction.DECREASE: "greater", Direction.INCREASE: "less", Direction.EITHER: "two-sided"}
    from scipy.stats import fisher_exact  # noqa: PLC0415 - see the module docstring

    p_value = float(fisher_exact(table, alternative=alternative[comparison.direction]).pvalue)
    return p_value, canary.rate - primary.rate, canary.rate, primary.rate


def _measure(
    comparison: Comparison,
    samples: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    counts: Mapping[str, tuple[Counts, Counts]] | None,
) -> tuple[int, int, tuple[float, float, float, float] | None]:
    """(canary n, primary n, and unless either is below ``min_samples``: p-value, shift, canary
    median or rate, primary median or rate) of one comparison, by counts or by samples."""
    if counts is not None and comparison.name in counts:
        canary, primary = counts[comparison.name]
        n_c, n_p = round(canary.total), round(primary.total)
        if min(n_c, n_p) < comparison.min_samples:
            return n_c, n_p, None
        return n_c, n_p, _counted(comparison, canary, primary)
    canary_raw, primary_raw = samples.get(comparison.name, ((), ()))
    c, p = _clean(canary_raw), _clean(primary_raw)
    if min(len(c), len(p)) < comparison.min_samples:
        return len(c), len(p), None
    measured = (
        _test(c, p, comparison.direction),
        hodges_lehmann(c, p),
        float(np.median(c)),
        float(np.median(p)),
    )
    return len(c), len(p), measured


#: The largest number of checks per run the per-check level is computed for (more are treated as this).
MAX_LOOKS = 60


@lru_cache(maxsize=256)
def per_check_level(alpha: float, looks: int) -> float:
    """The level for each of ``looks`` tests on accumulating data such that, when nothing differs,
    the chance that *any* of them fails is ``alpha`` (Pocock's constant boundary, one-sided).

    The tests of one run judge the data since the run started, so consecutive ones share most of
    their data: their statistics behave like a random walk seen at the checks, ``S_k / sqrt(k)``.
    Testing each at ``alpha`` would fail a healthy canary at some check far more often than
    ``alpha``; Bonferroni (``alpha / looks``) ignores how much the checks overlap and costs power.
    The boundary ``c`` with ``P(max_k S_k / sqrt(k) > c) = alpha`` is found by bisection, the
    probability by propagating the walk's density over a grid, numerically (no simulation).
    """
    looks = max(1, min(looks, MAX_LOOKS))
    if looks == 1:
        return alpha
    h = 0.025
    kernel_x = np.arange(-8.0, 8.0 + h / 2, h)
    kernel = np.exp(-0.5 * kernel_x**2) * h / math.sqrt(2 * math.pi)
    low = -8.0 * math.sqrt(looks)

    def crossing(c: float) -> float:
        grid = np.arange(low, c + h / 2, h)  # S_1 below c * sqrt(1)
        density = np.exp(-0.5 * grid**2) / math.sqrt(2 * math.pi)
        for k in range(2, looks + 1):
            top = c * math.sqrt(k)
            # The density of S_k: the last one convolved with one more standard normal step.
            spread = np.convolve(density, kernel)
            start = grid[0] + kernel_x[0]
            grid = start + h * np.arange(spread.size)
            keep = (grid <= top) & (grid >= low)
            grid, density = grid[keep], spread[keep]
        return 1.0 - float(density.sum() * h)

    lo, hi = 0.0, 6.0
    for _ in range(40):
        mid = (lo + hi) / 2
        if crossing(mid) > alpha:
            lo = mid
        else:
            hi = mid
    return 0.5 * math.erfc(hi / math.sqrt(2))


def judge(
    samples: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    comparisons: Sequence[Comparison],
    *,
    counts: Mapping[str, tuple[Counts, Counts]] | None = None,
    confidence: float = 0.98,
    pass_score: float = 95.0,
    marginal_score: float = 75.0,
    looks: int = 1,
) -> Judgement:
    """Judge every comparison from ``samples[name] = (canary samples, primary samples)``, or, for a
    success rate known by its request counts, ``counts[name] = (canary, primary)`` (then
    ``min_samples`` is a number of requests).

    ``looks``: how many checks of accumulating data the run plans; ``1 - confidence`` is the chance
    that a healthy canary fails any one of them (see ``per_check_level``), not each of them."""
    alpha = per_check_level(round(1.0 - confidence, 12), looks)
    partial: list[MetricResult] = []
    judged: list[tuple[int, float]] = []  # (index in partial, raw p-value)
    extra: dict[int, tuple[float, float, float, Comparison]] = {}
    for comparison in comparisons:
        n_c, n_p, measured = _measure(comparison, samples, counts)
        if measured is None:
            partial.append(
                MetricResult(comparison.name, Verdict.INCONCLUSIVE, n_c, n_p, critical=comparison.critical)
            )
            continue
        p_value, shift, c_mid, p_mid = measured
        extra[len(partial)] = (shift, c_mid, p_mid, comparison)
        judged.append((len(partial), p_value))
        partial.append(MetricResult(comparison.name, Verdict.PASS, n_c, n_p, p_value=p_value))

    adjusted = holm([pv for _, pv in judged])
    results = list(partial)
    for (index, p_value), adj in zip(judged, adjusted, strict=True):
        shift, c_med, p_med, comparison = extra[index]
        failed = adj < alpha and _too_far(shift, p_med, comparison)
        results[index] = MetricResult(
            comparison.name,
            Verdict.FAIL if failed else Verdict.PASS,
            results[index].canary_samples,
            results[index].primary_samples,
            canary_median=c_med,
            primary_median=p_med,
            shift=shift,
            p_value=p_value,
            adjusted_p_value=adj,
            critical=comparison.critical,
        )

    scored = [r for r in results if r.verdict in (Verdict.PASS, Verdict.FAIL)]
    score = 100.0 * sum(r.verdict is Verdict.PASS for r in scored) / len(scored) if scored else None
    # The best score the undecided metrics could still lead to, if every one of them passed.
    best = 100.0 * sum(r.verdict is not Verdict.FAIL for r in results) / len(results) if results else 100.0
    if any(r.critical and r.verdict is Verdict.FAIL for r in results) or best < marginal_score:
        verdict = Verdict.FAIL
    elif any(r.verdict is Verdict.INCONCLUSIVE for r in results) or score is None:
        verdict = Verdict.INCONCLUSIVE
    elif score >= pass_score:
        verdict = Verdict.PASS
    elif score >= marginal_score:
        verdict = Verdict.MARGINAL
    else:
        verdict = Verdict.FAIL
    return Judgement(verdict, score, tuple(results))
