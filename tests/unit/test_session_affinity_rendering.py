"""Session affinity without a cluster: the core gives each run its own cookie (and keeps the last
one to expire), and the istio and gatewayapi routers render cookies as matches and Set-Cookie
headers only while the canary has traffic; reading the weights back ignores the pinning routes."""

from __future__ import annotations

import re
from typing import Any

from canary.adapters.routers.base import RouteContext
from canary.adapters.routers.gatewayapi import GatewayAPIRouter
from canary.adapters.routers.istio import IstioRouter
from canary.adapters.routers.session import Session, session_for
from canary.core.observations import Routes
from canary.models.canary import Phase
from tests.unit.core.sim import World, make_spec

AFFINITY = {"cookieName": "pin", "primaryCookieName": "ppin", "maxAge": 60, "secure": True, "sameSite": "Lax"}


def spec(**analysis: Any) -> Any:
    return make_spec({"stepWeight": 50, "sessionAffinity": AFFINITY, **analysis}, provider="istio")


def test_each_run_gets_its_own_cookie_and_remembers_the_last() -> None:
    world = World(spec())
    world.initialize()
    world.target_revision = "rev2"
    world.run_until(Phase.SUCCEEDED)
    first = world.status.session_affinity_cookie
    assert first is not None
    assert first.startswith("pin=")
    assert world.status.primary_session_affinity_cookie is not None
    assert world.status.primary_session_affinity_cookie.startswith("ppin=")
    world.target_revision = "rev3"
    world.run_until(Phase.SUCCEEDED)
    assert world.status.session_affinity_cookie not in (None, first)
    assert world.status.previous_session_affinity_cookie == first


def test_no_cookies_without_session_affinity() -> None:
    world = World(make_spec({"stepWeight": 50}))
    world.initialize()
    world.target_revision = "rev2"
    world.run_until(Phase.SUCCEEDED)
    assert world.status.session_affinity_cookie is None


def context(previous: str | None = None) -> RouteContext:
    s = spec()
    session = Session(
        canary="pin=abc", primary="ppin=abc", previous=previous, affinity=s.analysis.session_affinity
    )
    return RouteContext(s, "ns", "web", "app", "web", session)


def test_istio_pins_sessions_while_the_canary_has_traffic() -> None:
    router = IstioRouter()
    ctx = context(previous="pin=old")
    http = router.virtual_service(ctx, Routes(70, 30))["spec"]["http"]
    assert [r.get("name") for r in http] == ["canary-session", "primary-session", "previous-session", None]
    canary_pin, primary_pin, stale, weighted = http
    assert [d["weight"] for d in canary_pin["route"]] == [0, 100]
    assert [d["weight"] for d in primary_pin["route"]] == [100, 0]
    assert [d["weight"] for d in stale["route"]] == [100, 0]
    assert stale["headers"]["response"]["add"] == {"Set-Cookie": "pin=; Max-Age=0"}
    assert re.fullmatch(canary_pin["match"][0]["headers"]["Cookie"]["regex"], "x=1; pin=abc")
    assert weighted["route"][1]["headers"]["response"]["add"] == {
        "Set-Cookie": "pin=abc; Max-Age=60; Secure; SameSite=Lax"
    }
    # Reading back finds the weighted route, not a pinning one.
    assert router._read({"spec": {"http": http}}, ctx) == Routes(70, 30)
    # No canary traffic: no pinning at all.
    idle = router.virtual_service(ctx, Routes(100, 0))["spec"]["http"]
    assert len(idle) == 1
    assert "headers" not in idle[0]["route"][1]


def test_gateway_api_keeps_the_weighted_rule_first() -> None:
    router = GatewayAPIRouter()
    ctx = context()
    rules = router.rules(ctx, Routes(50, 50))
    assert len(rules) == 3
    assert "matches" not in rules[0]
    assert router._read({"spec": {"rules": rules}}, ctx) == Routes(50, 50)
    assert [len(router.rules(ctx, Routes(100, 0)))] == [1]


def test_session_for_follows_the_status() -> None:
    world = World(spec())
    assert session_for(world.spec, world.status) is None  # no run yet
    ab = make_spec(
        {"iterations": 2, "match": [{"headers": {"x": {"exact": "1"}}}], "sessionAffinity": AFFINITY}
    )
    world.initialize()
    world.target_revision = "rev2"
    world.run_until(Phase.PROGRESSING)
    assert session_for(world.spec, world.status) is not None
    assert session_for(ab, world.status) is None  # A/B testing routes by match, not by cookie


def test_gateway_api_mirror_weight() -> None:
    s = make_spec({"iterations": 2, "mirror": True, "mirrorWeight": 25}, provider="gatewayapi")
    rule = GatewayAPIRouter().rules(RouteContext(s, "ns", "web", "app", "web"), Routes(100, 0, True))[0]  # type: ignore[arg-type]
    assert rule["filters"][0]["requestMirror"]["percent"] == 25


def test_gateway_api_headers_rewrite_and_retries() -> None:
    s = make_spec(
        {"stepWeight": 10},
        provider="gatewayapi",
        service={
            "port": 80,
            "gatewayRefs": [{"name": "gw"}],
            "headers": {
                "request": {"set": {"x-env": "canary"}, "remove": ["x-debug"]},
                "response": {"add": {"x-by": "c"}},
            },
            "rewrite": {"uri": "/v2", "authority": "api.internal", "type": "ReplacePrefixMatch"},
            "retries": {"attempts": 3, "perTryTimeout": "2s", "retryOn": "gateway-error,429,reset"},
        },
    )
    rule = GatewayAPIRouter().rules(RouteContext(s, "ns", "web", "app", "web"), Routes(90, 10))[0]  # type: ignore[arg-type]
    assert rule["filters"] == [
        {
            "type": "RequestHeaderModifier",
            "requestHeaderModifier": {"set": [{"name": "x-env", "value": "canary"}], "remove": ["x-debug"]},
        },
        {
            "type": "ResponseHeaderModifier",
            "responseHeaderModifier": {"add": [{"name": "x-by", "value": "c"}]},
        },
        {
            "type": "URLRewrite",
            "urlRewrite": {
                "hostname": "api.internal",
                "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/v2"},
            },
        },
    ]
    assert rule["retry"] == {"attempts": 3, "codes": [429, 502, 503, 504]}
    assert rule["timeouts"] == {"backendRequest": "2s"}
