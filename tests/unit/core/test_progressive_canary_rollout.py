"""A progressive canary goes Initialized -> Progressing through every weight step -> Promoting ->
Finalising -> Succeeded, and the primary ends up running the new revision."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from canary.adapters.routers.registry import capabilities_of
from canary.core.actions import EventType
from canary.core.machine import Decided, parse_timestamp, samples_since, step
from canary.models.canary import Phase
from tests.unit.core.sim import World, make_spec


def test_initialization_creates_nothing_until_the_primary_is_ready() -> None:
    world = World(make_spec({"stepWeight": 20}), primary_rollout_ticks=3)
    phases = world.run_until(Phase.INITIALIZED)
    assert phases == [Phase.INITIALIZING] * 3 + [Phase.INITIALIZED]
    assert world.reasons() == ["Initializing", "WaitingForReady", "Initialized"]
    assert world.target_replicas == 0  # the target is parked; the primary serves
    assert world.routes.primary == 100
    assert world.status.last_applied_spec == world.status.last_promoted_spec == "rev1"
    promoted = {c.type: c for c in world.status.conditions or []}["Promoted"]
    assert (promoted.status, promoted.reason) == ("True", "Initialized")


def test_full_rollout_with_step_weight_and_max_weight_cap() -> None:
    world = World(make_spec({"stepWeight": 20, "maxWeight": 50}))
    world.initialize()
    world.target_revision = "rev2"
    phases = world.run_until(Phase.SUCCEEDED)

    assert world.canary_weights() == [20, 40, 50, 0]  # capped at 50, then all back to the primary
    assert world.primary_revision == "rev2"
    assert world.target_replicas == 0
    assert world.status.last_promoted_spec == "rev2"
    assert world.status.canary_weight == 0
    assert phases[0] == Phase.PROGRESSING
    assert phases[-3:] == [Phase.PROMOTING, Phase.FINALISING, Phase.SUCCEEDED]
    assert world.reasons() == [
        "NewRevision",
        "StartedAnalysis",
        "WeightIncreased",
        "WeightIncreased",
        "WeightIncreased",
        "Promoting",
        "WaitingForReady",
        "Promoting",
        "Promoted",
    ]
    assert all(e.type is EventType.NORMAL for e in world.events)
    promoted = {c.type: c for c in world.status.conditions or []}["Promoted"]
    assert (promoted.status, promoted.reason) == ("True", "Succeeded")


def test_step_weights_ladder() -> None:
    world = World(make_spec({"stepWeights": [1, 5, 30]}))
    world.initialize()
    world.target_revision = "rev2"
    world.run_until(Phase.SUCCEEDED)
    assert world.canary_weights() == [1, 5, 30, 0]


def test_step_weight_promotion_moves_traffic_back_gradually() -> None:
    world = World(make_spec({"stepWeight": 50, "stepWeightPromotion": 30}))
    world.initialize()
    world.target_revision = "rev2"
    world.run_until(Phase.SUCCEEDED)
    assert world.weights == [(50, 50), (0, 100), (30, 70), (60, 40), (90, 10), (100, 0)]


def test_going_back_to_the_promoted_spec_is_not_a_new_revision() -> None:
    world = World(make_spec({"stepWeight": 50}))
    world.initialize()
    world.target_revision = "rev1"  # unchanged
    for _ in range(3):
        world.tick()
    assert world.status.phase is Phase.INITIALIZED
    assert world.events == []

    world.target_revision = "rev2"
    world.run_until(Phase.SUCCEEDED)
    world.events.clear()
    world.target_revision = "rev1"  # someone re-applies the older, formerly promoted spec: that is new
    world.tick()
    assert world.status.phase is Phase.PROGRESSING


def test_a_new_revision_during_analysis_restarts_it() -> None:
    world = World(make_spec({"stepWeight": 20}))
    world.initialize()
    world.target_revision = "rev2"
    for _ in range(3):
        world.tick()
    assert world.status.canary_weight == 40
    world.target_revision = "rev3"
    world.tick()
    assert world.reasons()[-1] == "Restarted"
    assert world.status.canary_weight == 0
    assert world.routes.primary == 100
    assert world.status.last_applied_spec == "rev3"
    world.run_until(Phase.SUCCEEDED)
    assert world.primary_revision == "rev3"


def test_skip_analysis_promotes_without_weight_steps() -> None:
    world = World(make_spec({"stepWeight": 20}, skipAnalysis=True))
    world.initialize()
    world.target_revision = "rev2"
    phases = world.run_until(Phase.SUCCEEDED)
    assert Phase.PROMOTING in phases
    assert 20 not in world.canary_weights()
    assert world.primary_revision == "rev2"


def test_no_analysis_block_means_skip_analysis() -> None:
    world = World(make_spec(None))
    world.initialize()
    world.target_revision = "rev2"
    world.run_until(Phase.SUCCEEDED)
    assert world.primary_revision == "rev2"


def test_suspended_canary_does_nothing() -> None:
    world = World(make_spec({"stepWeight": 20}, suspend=True))
    for _ in range(3):
        world.tick()
    assert world.status.phase is Phase.NONE
    assert world.weights == []
    assert set(world.reasons()) == {"Suspended"}


def test_ticks_woken_by_a_watch_react_but_do_not_step() -> None:
    world = World(make_spec({"stepWeight": 20}))
    world.initialize()
    world.target_revision = "rev2"
    world.tick()  # NewRevision
    world.tick()  # first step
    weight = world.status.canary_weight
    obs = replace(world.observe(), due=False)
    result = step(world.spec, world.status, obs, world.now, capabilities=capabilities_of(world.provider))
    assert isinstance(result, Decided)
    assert result.actions == ()
    assert result.status.canary_weight == weight

    world.target_revision = "rev3"  # but a new revision is noticed at once
    obs = replace(world.observe(), due=False)
    result = step(world.spec, world.status, obs, world.now, capabilities=capabilities_of(world.provider))
    assert isinstance(result, Decided)
    assert result.status.last_applied_spec == "rev3"


def test_samples_begin_when_the_canary_first_gets_traffic_not_before() -> None:
    """The previous revision's pods match the same pattern: a run counts no sample from before its
    canary's first traffic (a second later, since stamps are whole seconds)."""
    world = World(make_spec({"stepWeight": 25, "maxWeight": 50}))
    world.initialize()
    world.target_revision = "rev2"
    world.tick()  # the new revision: scaled up, no traffic yet
    assert world.status.canary_traffic_since is None
    assert samples_since(world.status) == parse_timestamp(world.status.analysis_start_time or "")
    world.tick()  # the first step sends it 25%
    stamp = world.status.canary_traffic_since
    assert stamp is not None
    assert samples_since(world.status) == parse_timestamp(stamp) + timedelta(seconds=1)
    world.tick()
    assert world.status.canary_traffic_since == stamp  # kept for the run
    world.target_revision = "rev3"
    world.tick()
    assert world.status.canary_traffic_since is None  # a new run starts from nothing
