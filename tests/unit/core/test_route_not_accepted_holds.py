"""The data plane's word: while the implementation does not accept the routing objects (an HTTPRoute
whose parent says Accepted=False), a progressing canary holds its weight, with a RouteNotAccepted
Warning and a Routed=False condition naming the reason; once it accepts, the run goes on.  The
checks still run meanwhile: a failing canary is rolled back all the same."""

from __future__ import annotations

from canary.core.observations import CheckOutcome, Routes, RouteVerdict
from canary.models.canary import Phase
from tests.unit.core.sim import World, make_spec

REFUSED = RouteVerdict(
    False, "HTTPRoute web: traefik.io/gateway-controller reports Accepted=False (NoMatchingListenerHostname)"
)
ACCEPTED = RouteVerdict(True, "HTTPRoute web accepted by traefik.io/gateway-controller (Gateway gw)")


METRIC = {"name": "request-success-rate", "thresholdRange": {"min": 99}}


def _conditions(world: World) -> dict[str, tuple[str, str, str]]:
    return {c.type: (c.status, c.reason, c.message or "") for c in world.status.conditions or []}


def test_a_route_not_accepted_holds_the_weight_until_it_is() -> None:
    world = World(
        make_spec(
            {"stepWeight": 20, "metrics": [{"name": "request-success-rate", "thresholdRange": {"min": 99}}]}
        )
    )
    world.initialize()
    world.route = REFUSED
    world.target_revision = "rev2"
    for _ in range(6):
        world.tick()
    assert world.status.phase is Phase.PROGRESSING
    assert world.status.canary_weight == 0
    assert world.canary_weights() == []  # no weight moved
    assert world.status.failed_checks == 0  # holding is not failing
    held = [e for e in world.events if e.reason == "RouteNotAccepted"]
    assert len(held) == 5  # every tick after the one that noticed the revision and scaled it up
    assert all(
        e.message == f"Holding at 0%: the data plane does not accept the route: {REFUSED.message}"
        for e in held
    )
    assert _conditions(world)["Routed"] == ("False", "NotAccepted", REFUSED.message)

    world.route = ACCEPTED
    world.run_until(Phase.SUCCEEDED)
    assert world.canary_weights()[:1] == [20]
    assert _conditions(world)["Routed"] == ("True", "Accepted", ACCEPTED.message)


def test_nothing_is_said_while_the_data_plane_says_nothing() -> None:
    world = World(make_spec({"stepWeight": 50}))
    world.initialize()
    world.target_revision = "rev2"
    world.run_until(Phase.SUCCEEDED)
    assert "Routed" not in _conditions(world)


def test_a_failing_canary_is_rolled_back_while_its_route_is_not_accepted() -> None:
    failing = CheckOutcome.failed("request-success-rate", "92 < 99")
    world = World(make_spec({"stepWeight": 20, "threshold": 2, "metrics": [METRIC]}))
    world.initialize()
    world.target_revision = "rev2"
    while world.status.canary_weight < 20:
        world.tick()
    world.route = REFUSED
    world.checks = lambda kind, w: failing
    world.run_until(Phase.FAILED)
    assert world.routes == Routes(100, 0)
    assert "RolledBack" in world.reasons()
