"""Benchmark: how good are the decisions?  False rollbacks of healthy canaries and detection of
regressions, for Flagger-style fixed thresholds and for the canary-versus-primary judge.

Run: ``.venv/bin/python -m bench.judge_quality [--runs 1000] [--seed 1]``.

An offline simulation (numpy), no cluster: each run is one canary release of a progressive rollout
(stepWeight 10 up to maxWeight 50, interval 60 s, threshold 2, total traffic ``--rps``).  Every
interval, the simulator draws what Prometheus would return: per judge step (15 s, the default of a
quarter interval) and per side, the success rate of that step's requests (binomial) and their p99
latency (log-normal request latencies); the canary's share of the requests follows its weight.  The
instant values for thresholds are the same quantities over the whole interval.

The decisions are the controller's own code: ``canary.core.machine.step`` drives the rollout tick
by tick, and the analysis outcome of each tick is built by ``canary.adapters.metrics.analysis``
(``range_check`` for thresholds, ``judge_samples`` and ``judged_failures`` for the judge), from a
Canary spec written as a user would write it.  Methods:

* ``thresholds``: Flagger's builtin checks as its docs suggest them: request-success-rate min 99,
  request-duration max 500 ms.
* ``judge``: both metrics compared with the primary at the defaults (direction increase, tolerance
  10% of the primary's median, 10 samples minimum, confidence 0.98 for the whole run, Holm across
  the two), or at ``--confidence``.

Scenarios: healthy (the canary behaves like the primary: 0.5% errors, 100 ms median latency), error
rate +0.5 / +1 / +2 / +5 percentage points, latency +25% / +50% / +100%.  Printed per method and
scenario: the share of runs rolled back, the share rolled back within 5 intervals of the canary's
first traffic, and the median number of intervals until the rollback.  The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from canary.adapters.metrics.analysis import comparison, judge_samples, judged_failures, range_check
from canary.adapters.routers.registry import capabilities_of
from canary.core.actions import SetWeights
from canary.core.judge import Counts
from canary.core.machine import Decided, NeedChecks, step
from canary.core.observations import (
    CheckFailure,
    CheckKind,
    CheckOutcome,
    Observations,
    Readiness,
    Routes,
)
from canary.models.canary import Canary, CanaryMetric, CanarySpec, CanaryStatus, MetricStatus, Phase, Provider

INTERVAL = 60.0
STEP = 15.0
T0 = datetime(2026, 11, 22, tzinfo=UTC)
RATE, DURATION = "request-success-rate", "request-duration"


@dataclass(frozen=True)
class Scenario:
    name: str
    extra_error: float = 0.0  # added to the canary's error ratio
    latency_factor: float = 1.0  # multiplies the canary's latencies


SCENARIOS = [
    Scenario("healthy"),
    Scenario("errors +0.5pp", extra_error=0.005),
    Scenario("errors +1pp", extra_error=0.01),
    Scenario("errors +2pp", extra_error=0.02),
    Scenario("errors +5pp", extra_error=0.05),
    Scenario("latency +25%", latency_factor=1.25),
    Scenario("latency +50%", latency_factor=1.5),
    Scenario("latency x2", latency_factor=2.0),
]
BASE_ERROR, BASE_LATENCY_S, SIGMA = 0.005, 0.100, 0.5


def spec(method: str, confidence: float | None = None) -> CanarySpec:
    if method == "thresholds":
        metrics: list[dict[str, Any]] = [
            {"name": RATE, "thresholdRange": {"min": 99}},
            {"name": DURATION, "thresholdRange": {"max": 500}},
        ]
    else:
        metrics = [{"name": RATE, "compare": {}}, {"name": DURATION, "compare": {}}]
    body = {
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "app"},
        "service": {"port": 80},
        "analysis": {
            "interval": "60s",
            "stepWeight": 10,
            "maxWeight": 50,
            "threshold": 2,
            "metrics": metrics,
            **({"judge": {"confidence": confidence}} if confidence is not None else {}),
        },
    }
    return Canary.model_validate({"spec": body}).spec


class Traffic:
    """Draws what Prometheus would answer for one run."""

    def __init__(self, rng: np.random.Generator, rps: float, scenario: Scenario) -> None:
        self.rng, self.rps, self.scenario = rng, rps, scenario
        self.samples: dict[str, tuple[list[float], list[float]]] = {
            RATE: ([], []),
            DURATION: ([], []),
        }
        #: failed and all requests since the run started, per side (canary, primary)
        self.counts = ([0, 0], [0, 0])

    def _side(self, requests: int, canary: bool) -> tuple[float, float]:
        """(success rate in percent, p99 latency in ms) of ``requests`` requests; NaN without any."""
        if requests <= 0:
            return math.nan, math.nan
        error = BASE_ERROR + (self.scenario.extra_error if canary else 0.0)
        factor = self.scenario.latency_factor if canary else 1.0
        errors = self.rng.binomial(requests, error)
        side = self.counts[0 if canary else 1]
        side[0] += errors
        side[1] += requests
        latencies = self.rng.lognormal(math.log(BASE_LATENCY_S * factor), SIGMA, requests)
        return (1 - errors / requests) * 100, float(np.quantile(latencies, 0.99)) * 1000

    def interval(self, weight: int) -> tuple[float, float]:
        """One interval at ``weight``: add its judge samples; return the canary's instant values."""
        per_step = self.rps * STEP
        for _ in range(int(INTERVAL / STEP)):
            c_ok, c_lat = self._side(self.rng.poisson(per_step * weight / 100), canary=True)
            p_ok, p_lat = self._side(self.rng.poisson(per_step * (100 - weight) / 100), canary=False)
            self.samples[RATE][0].append(c_ok)
            self.samples[RATE][1].append(p_ok)
            self.samples[DURATION][0].append(c_lat)
            self.samples[DURATION][1].append(p_lat)
        # The instant value is another view of the same interval's canary requests, not new ones.
        saved = (list(self.counts[0]), list(self.counts[1]))
        value = self._side(self.rng.poisson(self.rps * INTERVAL * weight / 100), canary=True)
        self.counts = saved
        return value


def outcome(
    method: str, metrics: list[CanaryMetric], traffic: Traffic, weight: int, canary: CanarySpec
) -> CheckOutcome:
    success, latency = traffic.interval(weight)
    failures: list[CheckFailure] = []
    evidence: list[MetricStatus] = []
    if method == "thresholds":
        for metric, value in zip(metrics, (success, latency), strict=True):
            if math.isnan(value):
                continue
            failure, seen = range_check(metric, value)
            evidence.append(seen)
            if failure is not None:
                failures.append(failure)
        return CheckOutcome.combine(failures, evidence)
    comparisons = [comparison(m.name, m.compare) for m in metrics if m.compare is not None]
    (c_failed, c_total), (p_failed, p_total) = traffic.counts
    counted = {RATE: (Counts(c_failed, c_total), Counts(p_failed, p_total))}
    judgement = judge_samples(canary, traffic.samples, comparisons, counted, INTERVAL)
    return CheckOutcome.combine(judged_failures(judgement), evidence, judgement.score)


def run(
    method: str, canary: CanarySpec, scenario: Scenario, rng: np.random.Generator, rps: float
) -> int | None:
    """Roll one release out; the interval (counted from the canary's first traffic) of its rollback."""
    analysis = canary.effective_analysis
    assert analysis is not None
    assert analysis.metrics is not None
    traffic = Traffic(rng, rps, scenario)
    status = CanaryStatus(phase=Phase.PROGRESSING, last_applied_spec="v2", last_promoted_spec="v1")
    status = status.model_copy(update={"analysis_start_time": T0.isoformat().replace("+00:00", "Z")})
    routes, now, traffic_since = Routes(100, 0), T0, None
    for tick in range(40):
        obs = Observations(
            target=Readiness(True, True), primary=Readiness(True, True), target_hash="v2", routes=routes
        )
        result = step(canary, status, obs, now, capabilities=capabilities_of(Provider.GATEWAYAPI))
        if isinstance(result, NeedChecks):
            kinds = result.kinds
            checks = {
                k: outcome(method, analysis.metrics, traffic, routes.canary, canary)
                if k is CheckKind.ANALYSIS
                else CheckOutcome.ok()
                for k in kinds
            }
            result = step(
                canary,
                status,
                obs.with_checks(checks),
                now,
                capabilities=capabilities_of(Provider.GATEWAYAPI),
            )
        assert isinstance(result, Decided)
        for action in result.actions:
            if isinstance(action, SetWeights):
                routes = Routes(action.primary, action.canary)
        if traffic_since is None and routes.canary > 0:
            traffic_since = tick
        status = result.status
        now += timedelta(seconds=INTERVAL)
        if status.phase is Phase.FAILED:
            return tick - (traffic_since or 0)
        if status.phase in (Phase.PROMOTING, Phase.SUCCEEDED):
            return None
    return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rps", type=float, default=20.0, help="total requests per second")
    parser.add_argument("--scenarios", nargs="*", help="only these scenarios (names as printed)")
    parser.add_argument(
        "--confidence", type=float, help="the judge's confidence (default: the spec's default)"
    )
    parser.add_argument(
        "--methods", nargs="*", default=["thresholds", "judge"], choices=["thresholds", "judge"]
    )
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    results: list[dict[str, Any]] = []
    print(f"{'method':<11} {'scenario':<15} {'rolled back':>11} {'within 5':>9} {'median intervals':>17}")
    scenarios = [s for s in SCENARIOS if not args.scenarios or s.name in args.scenarios]
    for method in args.methods:
        canary = spec(method, args.confidence)
        for scenario in scenarios:
            latencies = [run(method, canary, scenario, rng, args.rps) for _ in range(args.runs)]
            rolled = [t for t in latencies if t is not None]
            row = {
                "method": method,
                "scenario": scenario.name,
                "rolled_back": round(len(rolled) / args.runs, 4),
                "within_5_intervals": round(sum(t <= 5 for t in rolled) / args.runs, 4),
                "median_intervals": float(np.median(rolled)) if rolled else None,
            }
            results.append(row)
            median = "-" if row["median_intervals"] is None else f"{row['median_intervals']:.1f}"
            print(
                f"{method:<11} {scenario.name:<15} {row['rolled_back']:>11.1%} "
                f"{row['within_5_intervals']:>9.1%} {median:>17}",
                flush=True,
            )
    summary = {"runs": args.runs, "rps": args.rps, "seed": args.seed, "confidence": args.confidence}
    print(json.dumps(summary | {"results": results}))


if __name__ == "__main__":
    main()
