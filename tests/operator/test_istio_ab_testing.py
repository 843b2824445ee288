"""A/B testing with the istio router: for each iteration, requests matching the header go to the
canary (the VirtualService's first route) while every other request stays on the primary (the
default route); then the canary is promoted and all routes go back to the primary."""

from __future__ import annotations

import time
from typing import Any

from kubernetes import client

from tests.conftest import Cluster
from tests.operator.conftest import Controller, Recorder, apply, canary, deployment, set_image, wait_for_phase

MATCH = {"headers": {"x-canary": {"exact": "insider"}}}


def first_route_weights(vs: dict[str, Any]) -> tuple[int, int] | None:
    http = vs.get("spec", {}).get("http") or []
    if not http:
        return None
    weights = {r["destination"]["host"]: r.get("weight", 0) for r in http[0]["route"]}
    return weights["shop-primary"], weights["shop-canary"]


def test_ab_testing_routes_matching_requests_to_the_canary(
    cluster: Cluster, namespace: str, controller: Controller
) -> None:
    spec = canary(
        "shop",
        {"iterations": 2, "match": [MATCH]},
        provider="istio",
        service={
            "port": 9898,
            "hosts": ["shop.example.com"],
            "gateways": ["public-gateway"],
            "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}},
        },
    )
    apply(cluster, namespace, deployment("shop", "example.invalid/shop:1"), spec)
    wait_for_phase(cluster, namespace, "shop", "Initialized", timeout=60)
    custom = client.CustomObjectsApi(cluster.api)
    recorder = Recorder(
        custom.list_namespaced_custom_object,
        first_route_weights,
        group="networking.istio.io",
        version="v1beta1",
        namespace=namespace,
        plural="virtualservices",
    )
    set_image(cluster, namespace, "shop", "example.invalid/shop:2")

    def in_ab_iteration() -> dict[str, Any] | None:
        vs = custom.get_namespaced_custom_object(
            "networking.istio.io", "v1beta1", namespace, "virtualservices", "shop"
        )
        return vs if first_route_weights(vs) == (0, 100) else None

    deadline = time.monotonic() + 60
    while (vs := in_ab_iteration()) is None:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    http = vs["spec"]["http"]
    assert http[0]["match"] == [MATCH]
    assert "match" not in http[-1]
    default = {r["destination"]["host"]: r["weight"] for r in http[-1]["route"]}
    assert default == {"shop-primary": 100, "shop-canary": 0}
    assert vs["spec"]["hosts"] == ["shop.example.com", "shop"]
    assert vs["spec"]["gateways"] == ["public-gateway"]

    done = wait_for_phase(cluster, namespace, "shop", "Succeeded", "Failed", timeout=90)
    assert done["status"]["phase"] == "Succeeded"
    assert recorder.stop() == [(100, 0), (0, 100), (100, 0)]
    for name in ("shop-primary", "shop-canary"):
        rule = custom.get_namespaced_custom_object(
            "networking.istio.io", "v1beta1", namespace, "destinationrules", name
        )
        assert rule["spec"] == {"host": name, "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}}}
