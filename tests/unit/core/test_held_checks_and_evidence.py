"""Checks that cannot decide (no values yet, an inconclusive or marginal judgement) hold the weight
without counting as failed checks, up to analysis.maxHeldChecks, after which the canary fails safe;
every analysis check leaves its evidence in status.lastAnalysis and the Analysis condition; each cause
has its own event reason."""

from __future__ import annotations

from canary.core.actions import PromoteToPrimary, SetWeights
from canary.core.observations import Cause, CheckFailure, CheckKind, CheckOutcome, evidence
from canary.models.canary import Phase
from tests.unit.core.sim import World, make_spec

METRICS = {"stepWeight": 20, "threshold": 2, "metrics": [{"name": "request-success-rate"}]}


def no_values(kind: CheckKind, world: World) -> CheckOutcome:
    if kind is not CheckKind.ANALYSIS:
        return CheckOutcome.ok()
    failure = CheckFailure("request-success-rate", "no values: web is not receiving traffic", Cause.NO_VALUES)
    seen = evidence("request-success-rate", "held", "no values")
    return CheckOutcome.combine([failure], [seen])


def test_no_values_hold_the_weight_and_fail_safe_after_max_held_checks() -> None:
    world = World(make_spec({**METRICS, "maxHeldChecks": 4}), checks=no_values)
    world.initialize()
    world.target_revision = "rev2"
    world.run_until(Phase.FAILED)
    # The first analysed tick runs only pre-rollout hooks and takes the first step; from then on the
    # metric never has values: held four times (never a failed check), then rolled back.
    assert world.canary_weights() == [20, 0]
    assert world.reasons().count("NoValues") == 3
    assert world.reasons()[-1] == "RolledBack"
    assert "failing safe" in world.events[-1].message
    assert "4 of 4" in world.events[-1].message
    assert world.status.failed_checks == 0
    assert world.status.held_checks == 4
    assert world.primary_revision == "rev1"


def test_a_held_check_then_passing_checks_promote() -> None:
    calls = {"n": 0}

    def held_once(kind: CheckKind, world: World) -> CheckOutcome:
        if kind is CheckKind.ANALYSIS:
            calls["n"] += 1
            if calls["n"] == 1:
                return no_values(kind, world)
            return CheckOutcome.combine([], [evidence("request-success-rate", "passed", "99.9 >= 99")])
        return CheckOutcome.ok()

    world = World(make_spec(METRICS), checks=held_once)
    world.initialize()
    world.target_revision = "rev2"
    world.run_until(Phase.SUCCEEDED)
    assert world.canary_weights()[:3] == [20, 40, 60]
    assert world.reasons().count("NoValues") == 1
    assert world.status.failed_checks == 0
    assert world.primary_revision == "rev2"


def test_evidence_and_the_analysis_condition_follow_the_last_check() -> None:
    def out_of_range(kind: CheckKind, world: World) -> CheckOutcome:
        if kind is not CheckKind.ANALYSIS:
            return CheckOutcome.ok()
        message = "98.1 is below the minimum 99"
        return CheckOutcome.combine(
            [CheckFailure("request-success-rate", message, Cause.OUT_OF_RANGE)],
            [evidence("request-success-rate", "failed", message, value=98.1)],
        )

    world = World(make_spec(METRICS), checks=out_of_range)
    world.initialize()
    world.target_revision = "rev2"
    world.tick()  # new revision, scale up
    world.tick()  # first analysed tick: pre-rollout, first step
    world.tick()  # metrics: out of range, 1 of 2
    assert world.reasons()[-1] == "OutOfRange"
    last = world.status.last_analysis
    assert last is not None
    assert last.result == "failed"
    assert last.metrics is not None
    assert (last.metrics[0].name, last.metrics[0].value) == ("request-success-rate", 98.1)
    condition = next(c for c in world.status.conditions or [] if c.type == "Analysis")
    assert (condition.status, condition.reason) == ("False", "OutOfRange")
    assert condition.message is not None
    assert "request-success-rate" in condition.message
    assert "below the minimum 99" in condition.message
    world.run_until(Phase.FAILED)
    assert world.status.failed_checks == 2


def test_a_counted_failure_wins_over_a_held_one() -> None:
    outcome = CheckOutcome.combine(
        [
            CheckFailure("latency", "too few samples", Cause.INCONCLUSIVE),
            CheckFailure("errors", "query failed: connection refused", Cause.QUERY_FAILED),
        ],
        [],
    )
    assert not outcome.passed
    assert not outcome.held
    assert outcome.cause is Cause.QUERY_FAILED
    held = CheckOutcome.combine([CheckFailure("latency", "too few samples", Cause.INCONCLUSIVE)], [])
    assert held.held
    assert held.result == "held"
    assert CheckOutcome.combine([], []).passed


def test_a_blind_analysis_holds_and_the_run_resumes_when_the_provider_answers_again() -> None:
    """Prometheus down for three checks: no step, no failed check, no promotion; then the run goes on."""
    calls = {"n": 0}

    def blind_for_three(kind: CheckKind, world: World) -> CheckOutcome:
        if kind is not CheckKind.ANALYSIS:
            return CheckOutcome.ok()
        calls["n"] += 1
        if 2 <= calls["n"] <= 4:
            failure = CheckFailure("request-success-rate", "http://prom unreachable", Cause.UNAVAILABLE)
            return CheckOutcome.combine([failure], [evidence("request-success-rate", "held", "unreachable")])
        return CheckOutcome.combine([], [evidence("request-success-rate", "passed", "100 >= 99")])

    world = World(make_spec(METRICS), checks=blind_for_three)
    world.initialize()
    world.target_revision = "rev2"
    world.run_until(Phase.SUCCEEDED)
    assert world.canary_weights() == [20, 40, 60, 80, 100, 0]  # every step taken, once each
    assert world.reasons().count("MetricsUnavailable") == 3
    assert world.status.failed_checks == 0
    blind = [t for t in world.history if any(getattr(a, "reason", None) == "MetricsUnavailable" for a in t)]
    assert len(blind) == 3
    assert not any(isinstance(a, SetWeights | PromoteToPrimary) for tick in blind for a in tick)
