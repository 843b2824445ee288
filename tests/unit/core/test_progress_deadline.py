"""A canary that never becomes ready is rolled back at its progress deadline, even when its Deployment
never reports ProgressDeadlineExceeded (a crash-looping Pod); a primary that breaks during promotion
leaves the traffic on the healthy canary."""

from __future__ import annotations

from canary.models.canary import Phase
from tests.unit.core.sim import World, make_spec


def test_never_ready_canary_is_rolled_back_at_the_deadline() -> None:
    # interval 10s, deadline 60s: waiting starts on the first analysed tick and ends 60s later
    world = World(make_spec({"stepWeight": 10}, progressDeadlineSeconds=60), canary_ready=lambda w: False)
    world.initialize()
    world.target_revision = "rev2"
    world.tick()  # NewRevision
    started = world.now
    phases = world.run_until(Phase.FAILED)
    assert (
        world.now - started
    ).total_seconds() == 70  # 60s waited, the tick that notices, then one more interval
    assert phases.count(Phase.PROGRESSING) == 6
    assert world.reasons() == ["NewRevision", "WaitingForReady", "ProgressDeadlineExceeded"]
    message = world.events[-1].message
    assert "did not become ready within progressDeadlineSeconds (60s)" in message
    assert "0 of 2 updated replicas are available" in message
    assert world.target_replicas == 0
    assert world.routes.primary == 100
    promoted = {c.type: c for c in world.status.conditions or []}["Promoted"]
    assert promoted.status == "False"
    assert "progressDeadlineSeconds" in (promoted.message or "")


def test_deployment_reporting_deadline_exceeded_rolls_back_at_once() -> None:
    world = World(make_spec({"stepWeight": 10}), canary_ready=lambda w: False)
    world.initialize()
    world.target_revision = "rev2"
    world.tick()
    world.canary_deadline_exceeded = True
    world.tick()
    assert world.status.phase is Phase.FAILED


def test_slow_but_ready_in_time_canary_proceeds() -> None:
    world = World(
        make_spec({"stepWeight": 50}, progressDeadlineSeconds=60), canary_ready=lambda w: w.tick_no >= 6
    )
    world.initialize()
    world.target_revision = "rev2"
    world.run_until(Phase.SUCCEEDED)
    assert world.status.canary_unready_since is None
    assert world.primary_revision == "rev2"


def test_primary_that_never_becomes_ready_after_promotion_keeps_traffic_on_the_canary() -> None:
    world = World(make_spec({"stepWeight": 100}, progressDeadlineSeconds=30))
    world.initialize()
    world.primary_rollout_ticks = 1000  # the promoted primary never becomes ready
    world.target_revision = "rev2"
    world.run_until(Phase.FAILED)
    assert world.reasons()[-1] == "PromotionFailed"
    assert world.routes.canary == 100
    assert world.status.canary_weight == 100
    assert world.target_replicas > 0  # the canary keeps serving
