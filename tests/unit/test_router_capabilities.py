"""Every provider against every capability a spec can ask for: a router that has it accepts the spec,
one that lacks it refuses it with InvalidSpec naming the field (never a silent no-op)."""

from __future__ import annotations

from typing import Any

import pytest

from canary.adapters.routers.applier import Traffic
from canary.adapters.routers.base import PLACEMENT_FIELDS, RouteContext, placement
from canary.adapters.routers.registry import readers_of, router_for, served
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


#: each placement field, set as a Flagger manifest would set it
PLACEMENTS: dict[str, tuple[str, Any]] = {
    "spec.service.gateways": ("gateways", ["public-gateway.istio-system.svc.cluster.local"]),
    "spec.service.gatewayRefs": ("gatewayRefs", [{"name": "public"}]),
    "spec.service.hosts": ("hosts", ["app.example.com"]),
    "spec.service.delegation": ("delegation", True),
    "spec.service.match": ("match", [{"uri": {"prefix": "/"}}]),
    "spec.ingressRef": ("ingressRef", {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "w"}),
}


def test_the_placement_table_covers_every_placement_field() -> None:
    assert set(PLACEMENTS) == set(PLACEMENT_FIELDS)
    readers = {field: readers_of(field) for field in PLACEMENT_FIELDS}
    assert readers["spec.service.gatewayRefs"] == ["gatewayapi"]
    assert readers["spec.service.gateways"] == ["istio"]
    assert readers["spec.ingressRef"] == ["nginx", "skipper"]
    assert readers["spec.service.match"] == ["contour", "gatewayapi", "istio"]


@pytest.mark.parametrize("field", list(PLACEMENTS))
@pytest.mark.parametrize("provider", [p.value for p in served()])
def test_a_placement_field_the_router_does_not_read_is_refused_not_ignored(provider: str, field: str) -> None:
    """Flagger ignores, say, ``service.gateways`` on gatewayapi or ``service.hosts`` on nginx, so a
    manifest written for another provider routes nothing the way it says; here it is refused."""
    key, value = PLACEMENTS[field]
    svc: dict[str, Any] = {"port": 80}
    if provider.startswith("gatewayapi") and key != "gatewayRefs":
        svc["gatewayRefs"] = [{"name": "public"}]
    top: dict[str, Any] = {}
    if key == "ingressRef":
        top[key] = value
    else:
        svc[key] = value
    spec = make_spec(CANARY, provider=provider, service=svc, **top)
    router = router_for(provider)
    traffic = Traffic(kube=None, router=router, provider=provider)  # type: ignore[arg-type] - check makes no request
    ctx = RouteContext(spec, "shop", "web", "app", "web")
    if field in router.reads:
        traffic.check(ctx)
    else:
        with pytest.raises(InvalidSpec) as refused:
            traffic.check(ctx)
        message = str(refused.value)
        assert message.startswith(f"{field}: the {provider} provider does not use it"), message
        assert ", ".join(readers_of(field)) in message


def test_delegation_false_and_empty_lists_set_nothing() -> None:
    spec = make_spec(CANARY, provider="kubernetes", service={"port": 80, "delegation": False, "hosts": []})
    assert placement(spec) == []
