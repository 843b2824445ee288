"""The pure rules of a metric check: Flagger's threshold semantics (thresholdRange; the deprecated
threshold as a minimum success rate or a maximum), the judge's defaults per metric, and how a
judgement becomes failed, held or passed."""

from __future__ import annotations

from canary.adapters.metrics.analysis import comparison, judged_failures, range_check
from canary.core.judge import Direction, Judgement, MetricResult, Verdict
from canary.core.observations import Cause, CheckOutcome
from canary.models.canary import CanaryMetric, MetricComparison


def metric(**fields: object) -> CanaryMetric:
    return CanaryMetric.model_validate({"name": "request-success-rate", **fields})


def test_threshold_range_and_the_deprecated_threshold() -> None:
    failure, evidence = range_check(metric(thresholdRange={"min": 99}), 98.5)
    assert failure is not None
    assert failure.cause is Cause.OUT_OF_RANGE
    assert failure.message == "98.5 is below the minimum 99"
    assert evidence.value == 98.5
    failure, evidence = range_check(metric(thresholdRange={"min": 99, "max": 100}), 99.5)
    assert failure is None
    assert evidence.message == "99.5 within [99, 100]"
    # threshold: a minimum for the success rate, a maximum for anything else (Flagger)
    assert range_check(metric(threshold=99), 98)[0] is not None
    assert range_check(metric(threshold=99), 99.9)[0] is None
    duration = CanaryMetric.model_validate({"name": "request-duration", "threshold": 500})
    assert range_check(duration, 501)[0] is not None
    assert range_check(duration, 20)[0] is None


def test_judge_defaults_per_metric() -> None:
    rate = comparison("request-success-rate", MetricComparison())
    assert rate.direction is Direction.DECREASE  # a success rate regresses when it falls
    assert rate.ceiling == 100  # and its tolerance is a share of the failure rate, not of ~100%
    latency = comparison("request-duration", MetricComparison())
    assert latency.direction is Direction.INCREASE
    assert (latency.tolerance, latency.min_samples, latency.critical) == (0.1, 10, False)
    explicit = comparison(
        "rps", MetricComparison(direction="either", tolerance=0.3, minSamples=5, critical=True)
    )
    assert (explicit.direction, explicit.tolerance, explicit.min_samples, explicit.critical) == (
        Direction.EITHER,
        0.3,
        5,
        True,
    )


def result(name: str, verdict: Verdict) -> MetricResult:
    return MetricResult(name, verdict, 12, 12, 1.0, 1.0, 0.0, 0.5, 0.5)


def test_judgements_become_failed_held_or_passed_outcomes() -> None:
    failed = Judgement(Verdict.FAIL, 50, (result("latency", Verdict.FAIL), result("errors", Verdict.PASS)))
    outcome = CheckOutcome.combine(judged_failures(failed), [])
    assert (outcome.passed, outcome.held, outcome.cause) == (False, False, Cause.REGRESSION)
    assert [f.name for f in outcome.failures] == ["latency"]

    marginal = Judgement(Verdict.MARGINAL, 80, (result("latency", Verdict.FAIL),))
    outcome = CheckOutcome.combine(judged_failures(marginal), [])
    assert (outcome.held, outcome.cause) == (True, Cause.MARGINAL)
    assert "marginal score 80" in outcome.describe()

    inconclusive = Judgement(
        Verdict.INCONCLUSIVE, None, (MetricResult("latency", Verdict.INCONCLUSIVE, 3, 12),)
    )
    outcome = CheckOutcome.combine(judged_failures(inconclusive), [])
    assert (outcome.held, outcome.cause) == (True, Cause.INCONCLUSIVE)
    assert "too few samples (canary 3, primary 12)" in outcome.describe()

    passed = Judgement(Verdict.PASS, 100, (result("latency", Verdict.PASS),))
    assert CheckOutcome.combine(judged_failures(passed), []).passed
