"""A missing target is reported as Ready=False/InvalidSpec with a Warning event naming the field,
without touching traffic; the canary recovers when the target appears."""

from __future__ import annotations

from canary.adapters.routers.registry import capabilities_of
from canary.core.machine import Decided, step
from canary.core.observations import Observations, Readiness
from canary.models.canary import CanaryStatus, Phase, Provider
from tests.unit.core.sim import T0, make_spec


def test_missing_target_is_an_invalid_spec() -> None:
    spec = make_spec({"stepWeight": 10})
    obs = Observations(
        target=Readiness.missing("web"), primary=Readiness.missing("web-primary"), target_hash=None
    )
    result = step(spec, CanaryStatus(), obs, T0, capabilities=capabilities_of(Provider.GATEWAYAPI))
    assert isinstance(result, Decided)
    assert [(e.type.value, e.reason.value) for e in result.events] == [("Warning", "InvalidSpec")]
    assert "spec.targetRef" in result.events[0].message
    assert len(result.actions) == 1
    ready = {c.type: c for c in result.status.conditions or []}["Ready"]
    assert (ready.status, ready.reason) == ("False", "InvalidSpec")

    fixed = Observations(
        target=Readiness(exists=True, ready=True),
        primary=Readiness.missing("web-primary"),
        target_hash="rev1",
    )
    again = step(spec, result.status, fixed, T0, capabilities=capabilities_of(Provider.GATEWAYAPI))
    assert isinstance(again, Decided)
    assert again.status.phase is Phase.INITIALIZING
    assert {c.type: c for c in again.status.conditions or []}["Ready"].status == "True"
