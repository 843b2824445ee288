"""Rollback happens in the tick whose failed check reaches ``threshold`` (Flagger needs one tick more),
and a failure below the threshold halts the weight instead."""

from __future__ import annotations

import pytest

from canary.core.observations import CheckKind, CheckOutcome
from canary.models.canary import Phase
from tests.unit.core.sim import World, make_spec

METRICS = [{"name": "error-rate", "query": "sum(x)", "thresholdRange": {"max": 1}}]


def failing_analysis(kind: CheckKind, world: World) -> CheckOutcome:
    if kind is CheckKind.ANALYSIS:
        return CheckOutcome.failed("error-rate", "5.00 > 1")
    return CheckOutcome.ok()


@pytest.mark.parametrize("threshold", [1, 2, 5])
def test_rolls_back_after_exactly_threshold_failed_checks(threshold: int) -> None:
    world = World(
        make_spec({"stepWeight": 10, "threshold": threshold, "metrics": METRICS}), checks=failing_analysis
    )
    world.initialize()
    world.target_revision = "rev2"
    world.tick()  # NewRevision: scale up
    world.tick()  # first analysed tick: pre-rollout (none) -> weight 10
    assert world.status.canary_weight == 10

    analysed = 0
    while world.status.phase is Phase.PROGRESSING:
        world.tick()
        analysed += 1
        assert analysed <= threshold, "rolled back too late"
    assert analysed == threshold
    assert world.status.phase is Phase.FAILED
    assert world.status.failed_checks == threshold
    assert world.asked.count(CheckKind.ANALYSIS) == threshold
    assert world.reasons()[-threshold:] == ["Halted"] * (threshold - 1) + ["RolledBack"]
    rolled_back = world.events[-1]
    assert f"{threshold} of {threshold} checks failed" in rolled_back.message
    assert "error-rate: 5.00 > 1" in rolled_back.message
    assert world.routes.primary == 100
    assert world.target_replicas == 0
    promoted = {c.type: c for c in world.status.conditions or []}["Promoted"]
    assert promoted.status == "False"
    assert "error-rate: 5.00 > 1" in (promoted.message or "")


def test_a_failed_revision_stays_failed_until_the_target_changes() -> None:
    world = World(make_spec({"stepWeight": 10, "metrics": METRICS}), checks=failing_analysis)
    world.initialize()
    world.target_revision = "rev2"
    world.run_until(Phase.FAILED)
    for _ in range(3):
        world.tick()
    assert world.status.phase is Phase.FAILED
    assert world.primary_revision == "rev1"

    world.checks = lambda kind, w: CheckOutcome.ok()
    world.target_revision = "rev3"
    world.run_until(Phase.SUCCEEDED)
    assert world.primary_revision == "rev3"


def test_halted_weight_resumes_when_checks_pass_again() -> None:
    calls = {"n": 0}

    def flaky(kind: CheckKind, world: World) -> CheckOutcome:
        if kind is CheckKind.ANALYSIS:
            calls["n"] += 1
            if calls["n"] == 2:
                return CheckOutcome.failed("error-rate", "2.00 > 1")
        return CheckOutcome.ok()

    world = World(make_spec({"stepWeight": 25, "threshold": 3, "metrics": METRICS}), checks=flaky)
    world.initialize()
    world.target_revision = "rev2"
    world.run_until(Phase.SUCCEEDED)
    assert world.canary_weights() == [25, 50, 75, 100, 0]
    assert "Halted" in world.reasons()
    assert world.status.phase is Phase.SUCCEEDED


def test_metrics_are_not_queried_on_the_first_step_without_pre_rollout_hooks() -> None:
    world = World(make_spec({"stepWeight": 50, "metrics": METRICS}))
    world.initialize()
    world.target_revision = "rev2"
    world.tick()
    world.tick()
    assert world.asked == []
    world.tick()
    assert world.asked == [CheckKind.ANALYSIS]


def test_failed_pre_rollout_hook_counts_as_a_failed_check() -> None:
    def pre_fails(kind: CheckKind, world: World) -> CheckOutcome:
        return (
            CheckOutcome.failed("smoke", "HTTP 500") if kind is CheckKind.PRE_ROLLOUT else CheckOutcome.ok()
        )

    hooks = [{"name": "smoke", "type": "pre-rollout", "url": "http://127.0.0.1:1/"}]
    world = World(make_spec({"stepWeight": 50, "threshold": 2, "webhooks": hooks}), checks=pre_fails)
    world.initialize()
    world.target_revision = "rev2"
    world.run_until(Phase.FAILED)
    assert world.asked == [CheckKind.PRE_ROLLOUT, CheckKind.PRE_ROLLOUT]
    assert world.canary_weights() == [0]
