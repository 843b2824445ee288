"""Blue/green runs its iterations, then routes all traffic to the canary for one analysed interval
before promoting; the kubernetes provider is always blue/green; A/B testing routes matching requests
for its iterations."""

from __future__ import annotations

from canary.core.observations import CheckKind, CheckOutcome
from canary.models.canary import Phase, Provider
from tests.unit.core.sim import World, make_spec


def test_blue_green_with_the_kubernetes_provider() -> None:
    world = World(make_spec({"iterations": 3}), provider=Provider.KUBERNETES)
    world.initialize()
    world.target_revision = "rev2"
    world.run_until(Phase.SUCCEEDED)
    assert world.weights == [(0, 100), (100, 0)]
    assert world.reasons() == [
        "NewRevision",
        "StartedAnalysis",
        "Iteration",
        "Iteration",
        "WeightIncreased",
        "Promoting",
        "WaitingForReady",
        "Promoting",
        "Promoted",
    ]
    assert world.primary_revision == "rev2"


def test_kubernetes_provider_turns_a_weighted_spec_into_ten_iterations_with_a_warning() -> None:
    world = World(make_spec({"stepWeight": 20}), provider=Provider.KUBERNETES)
    world.initialize()
    world.target_revision = "rev2"
    world.run_until(Phase.SUCCEEDED)
    # The first and the last iteration are events; the ones between only move status.iterations.
    iterations = [e.message for e in world.events if e.reason.value == "Iteration"]
    assert [m.split(" (")[0] for m in iterations] == [
        "Blue/green iteration 1 of 10",
        "Blue/green iteration 10 of 10",
    ]
    assert "Unsupported" in world.reasons()
    assert 20 not in world.canary_weights()


def test_ab_testing_routes_matching_requests_for_its_iterations() -> None:
    spec = make_spec({"iterations": 2, "match": [{"headers": {"x-canary": {"exact": "insider"}}}]})
    world = World(spec, provider=Provider.ISTIO)
    world.initialize()
    world.target_revision = "rev2"
    world.run_until(Phase.SUCCEEDED)
    assert world.weights[:2] == [(0, 100), (0, 100)]
    assert world.reasons().count("Iteration") == 2
    assert world.weights[-1] == (100, 0)


def test_confirm_promotion_gate_holds_in_waiting_promotion_until_approved() -> None:
    approved = {"yes": False}

    def gate(kind: CheckKind, world: World) -> CheckOutcome:
        if kind is CheckKind.CONFIRM_PROMOTION and not approved["yes"]:
            return CheckOutcome.failed("approve", "gate closed")
        return CheckOutcome.ok()

    hooks = [{"name": "approve", "type": "confirm-promotion", "url": "http://127.0.0.1:1/gate"}]
    world = World(make_spec({"stepWeight": 50, "webhooks": hooks}), checks=gate)
    world.initialize()
    world.target_revision = "rev2"
    world.run_until(Phase.WAITING_PROMOTION)
    for _ in range(3):
        world.tick()
    assert world.status.phase is Phase.WAITING_PROMOTION
    assert world.reasons().count("WaitingPromotion") == 1  # one event, not one per tick
    approved["yes"] = True
    world.run_until(Phase.SUCCEEDED)
    assert world.primary_revision == "rev2"


def test_confirm_rollout_gate_waits_before_scaling_up() -> None:
    approved = {"yes": False}

    def gate(kind: CheckKind, world: World) -> CheckOutcome:
        if kind is CheckKind.CONFIRM_ROLLOUT and not approved["yes"]:
            return CheckOutcome.failed("approve", "gate closed")
        return CheckOutcome.ok()

    hooks = [{"name": "approve", "type": "confirm-rollout", "url": "http://127.0.0.1:1/gate"}]
    world = World(make_spec({"stepWeight": 50, "webhooks": hooks}), checks=gate)
    world.initialize()
    world.target_revision = "rev2"
    world.tick()
    world.tick()
    assert world.status.phase is Phase.WAITING
    assert world.target_replicas == 0
    approved["yes"] = True
    world.tick()
    assert world.status.phase is Phase.PROGRESSING
    assert world.target_replicas == 2


def test_mirroring_comes_before_the_first_weight_with_istio() -> None:
    world = World(make_spec({"stepWeight": 50, "mirror": True}), provider=Provider.ISTIO)
    world.initialize()
    world.target_revision = "rev2"
    world.run_until(Phase.SUCCEEDED)
    assert world.weights[0] == (100, 0)
    assert "Mirroring" in world.reasons()


def test_manual_rollback_hook_rolls_back() -> None:
    def rollback_now(kind: CheckKind, world: World) -> CheckOutcome:
        return CheckOutcome.ok()  # for the rollback hook, a pass means: roll back

    hooks = [{"name": "panic", "type": "rollback", "url": "http://127.0.0.1:1/rollback"}]
    world = World(make_spec({"stepWeight": 20, "webhooks": hooks}), checks=rollback_now)
    world.initialize()
    world.target_revision = "rev2"
    world.run_until(Phase.FAILED)
    assert "rollback webhook" in world.events[-1].message
