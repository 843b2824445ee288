"""Ten thousand generated specs (tests/support/specgen.py: realistic specs with zero to four random
mutations) go through the models and, when they parse, through the decision core for a whole rollout
and a deletion, with checks passing, failing and holding at random.  Nothing crashes: every refusal is
a ValidationError naming a field, and the core always decides (no endless NeedChecks), keeping its
invariants (weights within 0..100 and summing to 100, a known phase)."""

from __future__ import annotations

import random
from collections import Counter

from pydantic import ValidationError

from canary.core.actions import SetWeights
from canary.core.observations import Cause, CheckFailure, CheckKind, CheckOutcome
from canary.models.canary import Canary, Phase, Provider
from canary.models.providers import UNSUPPORTED
from tests.support.specgen import generated
from tests.unit.core.sim import World

N = 10_000


def random_checks(rng: random.Random):  # type: ignore[no-untyped-def]
    def checks(kind: CheckKind, world: World) -> CheckOutcome:
        roll = rng.random()
        if kind is CheckKind.ROLLBACK:
            return CheckOutcome.ok() if roll < 0.05 else CheckOutcome.failed("rollback", "not asked")
        if roll < 0.15:
            return CheckOutcome.failed("m", "out of range", Cause.OUT_OF_RANGE)
        if roll < 0.25:
            return CheckOutcome.combine([CheckFailure("m", "no values", Cause.NO_VALUES)], [])
        return CheckOutcome.ok()

    return checks


def test_ten_thousand_generated_specs_never_crash_the_models_or_the_core() -> None:
    seen: Counter[str] = Counter()
    for i, (spec, changes) in enumerate(generated(N, seed=13)):
        try:
            canary = Canary.model_validate({"metadata": {"name": "gen"}, "spec": spec})
        except ValidationError as e:
            unnamed = [err for err in e.errors() if not err["loc"]]
            seen["refused by the models"] += 1
            seen["refusals naming no field"] += len(unnamed)
            continue
        seen["parsed"] += 1
        rng = random.Random(i)
        provider = canary.spec.provider or Provider.KUBERNETES
        if provider in UNSUPPORTED:  # the tick reports it on the Canary before the core is reached
            seen["refused by the router registry"] += 1
            continue
        world = World(canary.spec, provider=provider, checks=random_checks(rng))
        world.primary_rollout_ticks = rng.choice([0, 1, 3])
        slow = rng.random() < 0.1
        world.canary_ready = lambda w, slow=slow: not slow or w.tick_no > 20
        try:
            for tick in range(40):
                if tick == 3:
                    world.target_revision = "rev2"
                    world.images = {"app": "example/web:2"}
                if tick == 30:
                    world.delete()
                world.tick()
                routes = world.routes
                assert 0 <= routes.canary <= 100, (i, changes)
                assert routes.primary + routes.canary == 100, (i, changes)
                assert 0 <= world.status.canary_weight <= 100, (i, changes)
                assert world.status.phase in Phase, (i, changes)
        except AssertionError:
            raise
        except Exception as e:  # pragma: no cover - the failure message is the point
            raise AssertionError(f"spec {i} ({changes}) crashed the core: {type(e).__name__}: {e}") from e
        for tick_actions in world.history:
            for action in tick_actions:
                if isinstance(action, SetWeights):
                    assert action.primary + action.canary == 100
        seen["driven through the core"] += 1
        seen["finalized"] += world.status.phase is Phase.TERMINATED
    assert seen["refusals naming no field"] == 0
    assert seen["parsed"] + seen["refused by the models"] == N
    assert seen["parsed"] >= 2_000  # the generator reaches the core, not only the validators
    assert seen["refused by the models"] >= 2_000  # and tries what must be refused
    assert seen["driven through the core"] == seen["parsed"] - seen["refused by the router registry"]
    print(dict(seen))
