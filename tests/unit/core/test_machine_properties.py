"""Property tests: whatever the spec and whatever the world does (checks failing at random, a canary
that is slow or never ready, any provider), the machine never crashes and keeps its invariants."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from canary.adapters.routers.registry import served
from canary.core.observations import Cause, CheckFailure, CheckKind, CheckOutcome
from canary.models.canary import Phase, Provider, Strategy
from tests.unit.core.sim import World, make_spec

HOOK_TYPES = [
    "pre-rollout",
    "rollout",
    "confirm-rollout",
    "confirm-promotion",
    "confirm-traffic-increase",
    "rollback",
]

analyses = st.fixed_dictionaries(
    {},
    optional={
        "stepWeight": st.integers(1, 100),
        "stepWeights": st.lists(st.integers(1, 100), min_size=1, max_size=6, unique=True).map(sorted),
        "maxWeight": st.integers(1, 100),
        "iterations": st.integers(1, 6),
        "threshold": st.integers(-1, 5),
        "stepWeightPromotion": st.integers(1, 100),
        "maxHeldChecks": st.integers(1, 6),
        "mirror": st.booleans(),
        "match": st.just([{"headers": {"x-canary": {"exact": "1"}}}]),
        "metrics": st.just([{"name": "m", "query": "q", "thresholdRange": {"max": 1}}]),
        "webhooks": st.lists(
            st.sampled_from(HOOK_TYPES).map(lambda t: {"name": t, "type": t, "url": "http://127.0.0.1:1/"}),
            max_size=4,
        ),
    },
).filter(lambda a: "stepWeight" in a or "stepWeights" in a or "iterations" in a)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    analysis=analyses,
    provider=st.sampled_from(served()),
    skip=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
    fail_rate=st.sampled_from([0.0, 0.2, 0.6, 1.0]),
    hold_rate=st.sampled_from([0.0, 0.3, 1.0]),
    ready_after=st.sampled_from([0, 1, 3, 10_000]),
    deadline=st.integers(10, 300),
)
def test_machine_never_crashes_and_keeps_its_invariants(
    analysis: dict[str, Any],
    provider: Provider,
    skip: bool,
    seed: int,
    fail_rate: float,
    hold_rate: float,
    ready_after: int,
    deadline: int,
) -> None:
    rng = random.Random(seed)

    def checks(kind: CheckKind, world: World) -> CheckOutcome:
        if rng.random() < fail_rate:
            return CheckOutcome.failed(kind.value, "random failure")
        if kind is CheckKind.ANALYSIS and rng.random() < hold_rate:
            return CheckOutcome.combine([CheckFailure(kind.value, "no values", Cause.NO_VALUES)], [])
        return CheckOutcome.ok()

    spec = make_spec(analysis, skipAnalysis=skip, progressDeadlineSeconds=deadline)
    start = {"tick": 0}
    world = World(
        spec,
        provider=provider,
        checks=checks,
        canary_ready=lambda w: w.tick_no - start["tick"] >= ready_after,
    )
    world.run_until(Phase.INITIALIZED, Phase.FAILED, limit=100)
    if world.status.phase is Phase.FAILED:
        return
    world.target_revision = "rev2"
    start["tick"] = world.tick_no
    for _ in range(400):
        world.tick()
        s = world.status
        assert sum(world.routes.__dict__[k] for k in ("primary", "canary")) == 100
        assert 0 <= s.canary_weight <= 100
        assert s.failed_checks <= max(spec.threshold, 1)
        assert s.held_checks <= spec.max_held_checks
        if (
            s.phase in (Phase.PROGRESSING, Phase.WAITING_PROMOTION)
            and spec.strategy is Strategy.CANARY
            and provider.family != "kubernetes"
        ):
            assert s.canary_weight <= spec.max_weight
        if s.phase in (Phase.SUCCEEDED, Phase.FAILED):
            break
    else:
        # only gates that never open may hold a rollout forever
        assert world.status.phase in (Phase.WAITING, Phase.WAITING_PROMOTION, Phase.PROGRESSING)
        assert fail_rate > 0  # held checks cannot: maxHeldChecks bounds them
        return
    if world.status.phase is Phase.SUCCEEDED:
        assert world.primary_revision == "rev2"
        assert world.target_replicas == 0
        assert world.routes.primary == 100
    else:
        assert world.routes.primary == 100 or world.reasons()[-1] == "PromotionFailed"
