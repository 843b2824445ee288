"""The contour router drives an HTTPProxy ``<apex>`` (meant to be included from a root HTTPProxy):
a progressive canary walks the route's service weights step by step to a promotion, on the prefix
of the first service.match entry, with the timeout and retry policies of spec.service."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from tests.conftest import Cluster
from tests.operator.conftest import (
    Controller,
    Recorder,
    apply,
    canary,
    deployment,
    events,
    set_image,
    wait_for_phase,
)

GROUP, VERSION, PLURAL = "projectcontour.io", "v1", "httpproxies"


def first_route_weights(apex: str) -> Any:
    def extract(proxy: dict[str, Any]) -> tuple[int, int] | None:
        routes = proxy.get("spec", {}).get("routes") or []
        if proxy["metadata"]["name"] != apex or not routes:
            return None
        services = {s["name"]: s["weight"] for s in routes[0]["services"]}
        return services[f"{apex}-primary"], services[f"{apex}-canary"]

    return extract


def record_proxy(cluster: Cluster, namespace: str, apex: str) -> Recorder:
    return Recorder(
        client.CustomObjectsApi(cluster.api).list_namespaced_custom_object,
        first_route_weights(apex),
        group=GROUP,
        version=VERSION,
        namespace=namespace,
        plural=PLURAL,
    )


def get_proxy(cluster: Cluster, namespace: str, name: str) -> dict[str, Any]:
    proxy: dict[str, Any] = client.CustomObjectsApi(cluster.api).get_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, name
    )
    return proxy


def test_contour_canary_walks_the_httpproxy_weights_to_succeeded(
    cluster: Cluster, namespace: str, controller: Controller
) -> None:
    spec = canary(
        "web",
        {"stepWeight": 20, "maxWeight": 60},
        provider="contour",
        service={
            "port": 9898,
            "targetPort": "http",
            "match": [{"uri": {"prefix": "/shop"}}],
            "timeout": "15s",
            "retries": {"attempts": 3, "perTryTimeout": "5s"},
            "apex": {"annotations": {"example.com/owner": "shop"}},
        },
    )
    apply(cluster, namespace, deployment("web", "example.invalid/web:1"), spec)
    wait_for_phase(cluster, namespace, "web", "Initialized", timeout=60)
    proxy = get_proxy(cluster, namespace, "web")
    assert proxy["spec"] == {
        "routes": [
            {
                "conditions": [{"prefix": "/shop"}],
                "services": [
                    {"name": "web-primary", "port": 9898, "weight": 100},
                    {"name": "web-canary", "port": 9898, "weight": 0},
                ],
                "timeoutPolicy": {"response": "15s"},
                "retryPolicy": {"count": 3, "perTryTimeout": "5s"},
            }
        ]
    }
    assert proxy["metadata"]["annotations"]["example.com/owner"] == "shop"

    recorder = record_proxy(cluster, namespace, "web")
    set_image(cluster, namespace, "web", "example.invalid/web:2")
    done = wait_for_phase(cluster, namespace, "web", "Succeeded", "Failed", timeout=120)
    seen = recorder.stop()

    assert done["status"]["phase"] == "Succeeded"
    assert seen == [(100, 0), (80, 20), (60, 40), (40, 60), (100, 0)]
    apps = client.AppsV1Api(cluster.api)
    primary = apps.read_namespaced_deployment("web-primary", namespace)
    assert primary.spec.template.spec.containers[0].image == "example.invalid/web:2"
    assert apps.read_namespaced_deployment("web", namespace).spec.replicas == 0
    final = get_proxy(cluster, namespace, "web")["spec"]["routes"]
    assert len(final) == 1
    assert final[0]["conditions"] == [{"prefix": "/shop"}]
    reasons = [reason for _, reason, _ in events(cluster, namespace, "web")]
    for expected in ("Initialized", "NewRevision", "WeightIncreased", "Promoting", "Promoted"):
        assert expected in reasons
