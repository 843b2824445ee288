"""A/B testing with the contour router: for each iteration, requests matching the header conditions
go to the canary (the HTTPProxy's first route) while every other request stays on the primary (the
default route, the prefix alone); then the canary is promoted and all routes go back to the
primary.  A match Contour cannot express is refused, naming the field."""

from __future__ import annotations

import time
from typing import Any

from kubernetes import client

from tests.conftest import Cluster
from tests.operator.conftest import (
    Controller,
    apply,
    canary,
    deployment,
    set_image,
    wait_for_condition,
    wait_for_phase,
)
from tests.operator.test_contour_canary_rollout import (
    GROUP,
    PLURAL,
    VERSION,
    first_route_weights,
    record_proxy,
)

MATCH = {"headers": {"x-canary": {"exact": "insider"}, "user-agent": {"prefix": "Mozilla/5.0 (X11"}}}


def test_ab_testing_routes_matching_requests_to_the_canary(
    cluster: Cluster, namespace: str, controller: Controller
) -> None:
    spec = canary("shop", {"iterations": 2, "match": [MATCH]}, provider="contour")
    apply(cluster, namespace, deployment("shop", "example.invalid/shop:1"), spec)
    wait_for_phase(cluster, namespace, "shop", "Initialized", timeout=60)
    recorder = record_proxy(cluster, namespace, "shop")
    custom = client.CustomObjectsApi(cluster.api)
    set_image(cluster, namespace, "shop", "example.invalid/shop:2")

    def in_ab_iteration() -> dict[str, Any] | None:
        proxy: dict[str, Any] = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "shop")
        return proxy if first_route_weights("shop")(proxy) == (0, 100) else None

    deadline = time.monotonic() + 60
    while (proxy := in_ab_iteration()) is None:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    ab, default = proxy["spec"]["routes"]
    assert ab["conditions"] == [
        {"prefix": "/"},
        {"header": {"name": "user-agent", "regex": r"^Mozilla/5\.0\ \(X11.*"}},
        {"header": {"name": "x-canary", "exact": "insider"}},
    ]
    assert default["conditions"] == [{"prefix": "/"}]
    assert {s["name"]: s["weight"] for s in default["services"]} == {"shop-primary": 100, "shop-canary": 0}

    done = wait_for_phase(cluster, namespace, "shop", "Succeeded", "Failed", timeout=90)
    assert done["status"]["phase"] == "Succeeded"
    assert recorder.stop() == [(100, 0), (0, 100), (100, 0)]
    primary = client.AppsV1Api(cluster.api).read_namespaced_deployment("shop-primary", namespace)
    assert primary.spec.template.spec.containers[0].image == "example.invalid/shop:2"


def test_a_match_contour_cannot_express_is_an_invalid_spec(
    cluster: Cluster, namespace: str, controller: Controller
) -> None:
    analysis = {
        "iterations": 2,
        "match": [{"headers": {"x-canary": {"exact": "a"}}, "method": {"exact": "GET"}}],
    }
    apply(
        cluster,
        namespace,
        deployment("api", "example.invalid/api:1"),
        canary("api", analysis, provider="contour"),
    )
    ready = wait_for_condition(cluster, namespace, "api", "Ready", "False")
    assert ready["reason"] == "InvalidSpec"
    assert ready["message"].startswith("spec.analysis.match[0].method: the contour provider")
