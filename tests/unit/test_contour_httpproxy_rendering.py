"""The contour router without a cluster: the HTTPProxy it writes (prefix, weighted services, timeout
and retry policies, apex metadata, no virtualhost), A/B routes with Contour's header and query
conditions, the weights it reads back, and the A/B matches it refuses."""

from __future__ import annotations

import re
from typing import Any

import pytest

from canary.adapters.kube.primary import CANARY_LABEL
from canary.adapters.routers.base import RouteContext
from canary.adapters.routers.contour import ContourRouter
from canary.core.errors import InvalidSpec
from canary.core.observations import Routes
from tests.unit.core.sim import make_spec

ROUTER = ContourRouter()


def context(analysis: dict[str, Any] | None = None, **service: Any) -> RouteContext:
    spec = make_spec(analysis or {"stepWeight": 10}, provider="contour", service={"port": 9898, **service})
    return RouteContext(spec, "shop", "web", "app", "web")


def weights(route: dict[str, Any]) -> dict[str, int]:
    return {s["name"]: s["weight"] for s in route["services"]}


def test_one_weighted_route_on_the_first_match_prefix_with_timeout_and_retries() -> None:
    ctx = context(
        match=[{"uri": {"prefix": "/api"}}, {"uri": {"prefix": "/other"}}],
        timeout="15s",
        retries={"attempts": 3, "perTryTimeout": "5s", "retryOn": "5xx"},
    )
    proxy = ROUTER.proxy(ctx, Routes(80, 20))
    assert proxy["apiVersion"] == "projectcontour.io/v1"
    assert proxy["kind"] == "HTTPProxy"
    assert proxy["metadata"]["name"] == "web"
    assert proxy["spec"] == {
        "routes": [
            {
                "conditions": [{"prefix": "/api"}],
                "services": [
                    {"name": "web-primary", "port": 9898, "weight": 80},
                    {"name": "web-canary", "port": 9898, "weight": 20},
                ],
                "timeoutPolicy": {"response": "15s"},
                "retryPolicy": {"count": 3, "perTryTimeout": "5s"},
            }
        ]
    }


def test_without_service_settings_the_route_matches_everything_and_has_no_policies() -> None:
    (route,) = ROUTER.proxy(context(), Routes(100, 0))["spec"]["routes"]
    assert route["conditions"] == [{"prefix": "/"}]
    assert set(route) == {"conditions", "services"}
    assert weights(route) == {"web-primary": 100, "web-canary": 0}


def test_only_what_retries_sets_reaches_the_retry_policy() -> None:
    (route,) = ROUTER.proxy(context(retries={"perTryTimeout": "2s"}), Routes(100, 0))["spec"]["routes"]
    assert route["retryPolicy"] == {"perTryTimeout": "2s"}


def test_apex_metadata_goes_on_the_proxy_which_has_no_virtualhost() -> None:
    ctx = context(name="front", apex={"labels": {"team": "a"}, "annotations": {"note": "x"}})
    proxy = ROUTER.proxy(ctx, Routes(100, 0))
    assert proxy["metadata"]["labels"]["team"] == "a"
    assert proxy["metadata"]["labels"][CANARY_LABEL] == "web"
    assert proxy["metadata"]["annotations"] == {"note": "x"}
    assert "virtualhost" not in proxy["spec"]
    assert "ingressClassName" not in proxy["spec"]
    assert {s["name"] for s in proxy["spec"]["routes"][0]["services"]} == {"front-primary", "front-canary"}


AB = {
    "iterations": 3,
    "match": [
        {
            "headers": {
                "x-canary": {"exact": "insider"},
                "x-beta": {"prefix": "yes."},
                "user-agent": {"regex": ".*Firefox.*"},
                "x-env": {"suffix": "-qa"},
                "x-flag": {},
            }
        },
        {"queryParams": {"canary": {"exact": "1"}}},
    ],
}


def test_ab_routes_come_first_with_the_conditions_and_the_default_route_keeps_the_primary() -> None:
    ctx = context(AB, match=[{"uri": {"prefix": "/api"}}])
    routes = ROUTER.proxy(ctx, Routes(0, 100))["spec"]["routes"]
    assert len(routes) == 3
    first, second, default = routes
    assert first["conditions"] == [
        {"prefix": "/api"},
        {"header": {"name": "user-agent", "regex": ".*Firefox.*"}},
        {"header": {"name": "x-beta", "regex": r"^yes\..*"}},
        {"header": {"name": "x-canary", "exact": "insider"}},
        {"header": {"name": "x-env", "regex": ".*\\-qa$"}},
        {"header": {"name": "x-flag", "present": True}},
    ]
    assert second["conditions"] == [{"prefix": "/api"}, {"queryParameter": {"name": "canary", "exact": "1"}}]
    assert weights(first) == weights(second) == {"web-primary": 0, "web-canary": 100}
    assert default["conditions"] == [{"prefix": "/api"}]
    assert weights(default) == {"web-primary": 100, "web-canary": 0}
    # The weights are read from the first A/B route, not the default route.
    assert ROUTER._read({"spec": {"routes": routes}}, ctx) == Routes(0, 100)


def test_prefix_and_suffix_regexes_are_anchored() -> None:
    routes = ROUTER.proxy(context(AB), Routes(0, 100))["spec"]["routes"]
    headers = {c["header"]["name"]: c["header"] for c in routes[0]["conditions"] if "header" in c}
    prefix, suffix = headers["x-beta"]["regex"], headers["x-env"]["regex"]
    assert re.fullmatch(prefix, "yes.please")
    assert not re.fullmatch(prefix, "oh-yes.please")
    assert not re.fullmatch(prefix, "yesXplease")  # the dot is literal
    assert re.fullmatch(suffix, "eu-qa")
    assert not re.fullmatch(suffix, "eu-qa-2")


def test_matches_are_ignored_without_iterations_as_flagger_derives_the_strategy() -> None:
    analysis = {"stepWeight": 10, "match": AB["match"]}
    (route,) = ROUTER.proxy(context(analysis), Routes(90, 10))["spec"]["routes"]
    assert route["conditions"] == [{"prefix": "/"}]


@pytest.mark.parametrize(
    ("match", "field"),
    [
        ([{"uri": {"prefix": "/x"}, "headers": {"a": {"exact": "b"}}}], "spec.analysis.match[0].uri"),
        (
            [{"headers": {"a": {"exact": "b"}}}, {"withoutHeaders": {"a": {"exact": "c"}}}],
            "spec.analysis.match[1].withoutHeaders",
        ),
        ([{"method": {"exact": "GET"}}], "spec.analysis.match[0].method"),
        ([{"name": "nothing"}], "spec.analysis.match[0]:"),
    ],
)
def test_what_contour_cannot_match_is_refused_naming_the_field(match: list[Any], field: str) -> None:
    ctx = context({"iterations": 2, "match": match})
    with pytest.raises(InvalidSpec, match=f"^{re.escape(field)}"):
        ROUTER.proxy(ctx, Routes(100, 0))


def test_weights_are_read_as_percentages() -> None:
    ctx = context()
    proxy = ROUTER.proxy(ctx, Routes(35, 65))
    assert ROUTER._read(proxy, ctx) == Routes(35, 65)
    services = [{"name": "web-primary", "weight": 1}, {"name": "web-canary", "weight": 1}]
    assert ROUTER._read({"spec": {"routes": [{"services": services}]}}, ctx) == Routes(50, 50)
    assert ROUTER._read({"spec": {}}, ctx) == Routes(100, 0)
