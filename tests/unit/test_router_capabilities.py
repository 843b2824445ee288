"""Every provider against every capability a spec can ask for: a router that has it accepts the spec,
one that lacks it refuses it with InvalidSpec naming the field (never a silent no-op)."""

from __future__ import annotations

from typing import Any

import pytest

from canary.adapters.routers.applier import Traffic
from canary.adapters.routers.base import RouteContext
from canary.adapters.routers.registry import router_for, served
from canary.core.capabilities import Capability, asked
from canary.core.errors import InvalidSpec
from tests.unit.core.sim import make_spec

AB = {"iterations": 3}
CANARY = {"stepWeight": 10}

#: capability -> (analysis, service settings, the field the refusal must name)
ASKS: dict[Capability, tuple[dict[str, Any], dict[str, Any], str]] = {
    Capability.HEADER_MATCH: (
        {**AB, "match": [{"headers": {"x-canary": {"exact": "1"}}}]},
        {},
        "spec.analysis.match[0].headers",
    ),
    Capability.QUERY_MATCH: (
        {**AB, "match": [{"queryParams": {"canary": {"exact": "1"}}}]},
        {},
        "spec.analysis.match[0].queryParams",
    ),
    Capability.PATH_MATCH: (
        {**AB, "match": [{"uri": {"prefix": "/beta"}}]},
        {},
        "spec.analysis.match[0].uri",
    ),
    Capability.MIRRORING: ({**AB, "mirror": True}, {}, "spec.analysis.mirror"),
    Capability.SESSION_AFFINITY: (
        {**CANARY, "sessionAffinity": {"cookieName": "canary-cookie"}},
        {},
        "spec.analysis.sessionAffinity",
    ),
    Capability.TIMEOUTS: (CANARY, {"timeout": "5s"}, "spec.service.timeout"),
    Capability.RETRIES: (CANARY, {"retries": {"attempts": 3}}, "spec.service.retries"),
    Capability.HEADER_OPERATIONS: (
        CANARY,
        {"headers": {"request": {"add": {"x-team": "shop"}}}},
        "spec.service.headers",
    ),
    Capability.REWRITE: (CANARY, {"rewrite": {"uri": "/"}}, "spec.service.rewrite"),
    Capability.CORS: (
        CANARY,
        {"corsPolicy": {"allowOrigins": [{"exact": "https://a.example"}]}},
        "spec.service.corsPolicy",
    ),
    Capability.TRAFFIC_POLICY: (
        CANARY,
        {"trafficPolicy": {"tls": {"mode": "DISABLE"}}},
        "spec.service.trafficPolicy",
    ),
}


def test_the_table_asks_for_every_capability_but_weights() -> None:
    assert set(ASKS) == set(Capability) - {Capability.WEIGHTS}


def context(provider: str, analysis: dict[str, Any], service: dict[str, Any]) -> RouteContext:
    svc = {"port": 80, **service}
    if provider.startswith("gatewayapi"):
        svc["gatewayRefs"] = [{"name": "public"}]
    spec = make_spec(analysis, provider=provider, service=svc)
    return RouteContext(spec, "shop", "web", "app", "web")


@pytest.mark.parametrize("capability", list(ASKS))
@pytest.mark.parametrize("provider", [p.value for p in served()])
def test_a_spec_asking_what_the_router_lacks_is_refused_naming_the_field(
    provider: str, capability: Capability
) -> None:
    analysis, service, field = ASKS[capability]
    router = router_for(provider)
    ctx = context(provider, analysis, service)
    traffic = Traffic(kube=None, router=router, provider=provider)  # type: ignore[arg-type] - check makes no request
    weighted = Capability.WEIGHTS in router.capabilities
    if not weighted and capability in (
        Capability.HEADER_MATCH,
        Capability.QUERY_MATCH,
        Capability.PATH_MATCH,
    ):
        # Without weights every canary is blue/green (the machine says so in a Warning event): a
        # match is not asked of the router.
        assert asked(ctx.spec, router.capabilities) == []
        traffic.check(ctx)
    elif capability in router.capabilities:
        assert (capability, field) in asked(ctx.spec, router.capabilities)
        traffic.check(ctx)
    else:
        with pytest.raises(InvalidSpec) as refused:
            traffic.check(ctx)
        message = str(refused.value)
        assert message.startswith(f"{field}: the {provider} provider has no {capability.value}"), message


def test_a_spec_asking_nothing_special_is_accepted_everywhere() -> None:
    for provider in served():
        router = router_for(provider)
        Traffic(kube=None, router=router, provider=provider.value).check(context(provider.value, CANARY, {}))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "key"), [("spec.routeRef", "routeRef"), ("spec.upstreamRef", "upstreamRef")]
)
def test_flaggers_apisix_and_gloo_references_are_refused_not_ignored(field: str, key: str) -> None:
    for provider in served():
        svc: dict[str, Any] = {"port": 80}
        if provider.value.startswith("gatewayapi"):
            svc["gatewayRefs"] = [{"name": "public"}]
        ref = {"apiVersion": "example.io/v1", "kind": "Route", "name": "web"}
        spec = make_spec(CANARY, provider=provider.value, service=svc, **{key: ref})
        ctx = RouteContext(spec, "shop", "web", "app", "web")
        traffic = Traffic(kube=None, router=router_for(provider), provider=provider.value)  # type: ignore[arg-type]
        with pytest.raises(InvalidSpec, match=rf"^{field}: only Flagger's"):
            traffic.check(ctx)
