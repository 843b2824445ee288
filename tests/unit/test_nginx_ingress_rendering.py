"""The nginx router without a cluster: the canary Ingress it clones, its annotations, and its refusal
of A/B matches ingress-nginx cannot express (one header or cookie, by exact value or regex)."""

from __future__ import annotations

from typing import Any

import pytest

from canary.adapters.routers.base import RouteContext
from canary.adapters.routers.nginx import NginxRouter
from canary.core.errors import InvalidSpec
from canary.core.observations import Routes
from tests.unit.core.sim import make_spec

ROUTER = NginxRouter()
P = "nginx.ingress.kubernetes.io"
SOURCE = {
    "metadata": {"name": "web", "namespace": "shop", "annotations": {"kubernetes.io/ingress.class": "nginx"}},
    "spec": {
        "rules": [
            {
                "host": "web.example",
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": "web", "port": {"number": 80}}},
                        }
                    ]
                },
            }
        ]
    },
}


def context(analysis: dict[str, Any]) -> RouteContext:
    ingress = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "web"}
    spec = make_spec(analysis, provider="nginx", service={"port": 80, "name": "web"}, ingressRef=ingress)
    return RouteContext(spec, "shop", "web", "app", "web")


def render(analysis: dict[str, Any], routes: Routes) -> dict[str, Any]:
    ctx = context(analysis)
    found = {ref: SOURCE for ref in ROUTER.inputs(ctx)}
    ((_, body),) = ROUTER.render(ctx, routes, found)
    return body


def test_the_clone_sends_its_weight_to_the_canary_service() -> None:
    body = render({"stepWeight": 10}, Routes(70, 30))
    assert body["metadata"]["name"] == "web-canary"
    backend = body["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == "web-canary"
    annotations = body["metadata"]["annotations"]
    assert annotations[f"{P}/canary"] == "true"
    assert annotations[f"{P}/canary-weight"] == "30"
    assert annotations["kubernetes.io/ingress.class"] == "nginx"
    assert annotations[f"{P}/canary-by-header"] is None  # removed if an earlier run set it


def test_one_header_by_exact_value_or_regex_and_a_cookie_by_name() -> None:
    exact = render(
        {"iterations": 2, "match": [{"headers": {"x-canary": {"exact": "insider"}}}]}, Routes(0, 100)
    )
    a = exact["metadata"]["annotations"]
    assert (a[f"{P}/canary-by-header"], a[f"{P}/canary-by-header-value"], a[f"{P}/canary-weight"]) == (
        "x-canary",
        "insider",
        "0",
    )
    regex = render(
        {"iterations": 2, "match": [{"headers": {"x-canary": {"regex": "^in.*"}}}]}, Routes(0, 100)
    )
    assert regex["metadata"]["annotations"][f"{P}/canary-by-header-pattern"] == "^in.*"
    cookie = render(
        {"iterations": 2, "match": [{"headers": {"cookie": {"exact": "canary"}}}]}, Routes(0, 100)
    )
    assert cookie["metadata"]["annotations"][f"{P}/canary-by-cookie"] == "canary"


@pytest.mark.parametrize(
    ("match", "field"),
    [
        (
            [{"headers": {"x-a": {"exact": "1"}}}, {"headers": {"x-b": {"exact": "1"}}}],
            "spec.analysis.match[1]",
        ),
        ([{"headers": {"x-a": {"exact": "1"}, "x-b": {"exact": "1"}}}], "spec.analysis.match[0].headers"),
        ([{"headers": {"x-a": {"prefix": "in"}}}], "spec.analysis.match[0].headers.x-a"),
        ([{"headers": {"cookie": {"regex": "can.*"}}}], "spec.analysis.match[0].headers.cookie"),
    ],
)
def test_what_ingress_nginx_cannot_express_is_refused_naming_the_field(match: list[Any], field: str) -> None:
    with pytest.raises(InvalidSpec) as refused:
        render({"iterations": 2, "match": match}, Routes(0, 100))
    assert str(refused.value).startswith(f"{field}: "), refused.value
