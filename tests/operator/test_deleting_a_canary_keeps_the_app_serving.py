"""Deleting a Canary never takes the application down.

Without revertOnDeletion (even in the middle of a rollout), the primary keeps serving: the route
sends it all traffic, the apex Service keeps selecting its Pods, and nothing is garbage-collected.
With revertOnDeletion, the target is scaled up and, once ready, gets the apex Service and the route
back; only then is the primary removed."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from tests.conftest import Cluster
from tests.operator.conftest import (
    Controller,
    apply,
    deployment,
    gateway_canary,
    set_image,
    wait_for_phase,
    wait_for_weight,
    wait_gone,
)


def route_backends(cluster: Cluster, namespace: str, name: str) -> dict[str, int]:
    route: dict[str, Any] = client.CustomObjectsApi(cluster.api).get_namespaced_custom_object(
        "gateway.networking.k8s.io", "v1", namespace, "httproutes", name
    )
    return {b["name"]: b["weight"] for b in route["spec"]["rules"][0]["backendRefs"]}


def ready_replicas(cluster: Cluster, namespace: str, name: str) -> int:
    return (
        client.AppsV1Api(cluster.api).read_namespaced_deployment(name, namespace).status.ready_replicas or 0
    )


def test_without_revert_the_primary_keeps_serving_even_mid_rollout(
    cluster: Cluster, namespace: str, controller: Controller
) -> None:
    apply(
        cluster,
        namespace,
        deployment("web", "example.invalid/web:1"),
        gateway_canary("web", {"stepWeight": 10, "interval": "3s"}),
    )
    wait_for_phase(cluster, namespace, "web", "Initialized", timeout=60)
    set_image(cluster, namespace, "web", "example.invalid/web:2")
    wait_for_weight(cluster, namespace, "web", 10)
    assert route_backends(cluster, namespace, "web")["web-canary"] > 0

    cluster.kubectl("delete", "-n", namespace, "canary/web", "--wait=false")
    wait_gone(cluster, namespace, "web")

    assert route_backends(cluster, namespace, "web") == {"web-primary": 100, "web-canary": 0}
    core = client.CoreV1Api(cluster.api)
    assert core.read_namespaced_service("web", namespace).spec.selector == {"app": "web-primary"}
    assert ready_replicas(cluster, namespace, "web-primary") == 2
    primary = client.AppsV1Api(cluster.api).read_namespaced_deployment("web-primary", namespace)
    assert primary.spec.template.spec.containers[0].image == "example.invalid/web:1"  # never promoted
    assert client.AppsV1Api(cluster.api).read_namespaced_deployment("web", namespace).spec.replicas == 0


def test_with_revert_the_target_takes_the_traffic_back_before_the_primary_goes(
    cluster: Cluster, namespace: str, controller: Controller
) -> None:
    apply(
        cluster,
        namespace,
        deployment("api", "example.invalid/api:1", replicas=3),
        gateway_canary("api", {"stepWeight": 50}, revertOnDeletion=True),
    )
    wait_for_phase(cluster, namespace, "api", "Initialized", timeout=60)
    assert client.AppsV1Api(cluster.api).read_namespaced_deployment("api", namespace).spec.replicas == 0

    cluster.kubectl("delete", "-n", namespace, "canary/api", "--wait=false")
    wait_gone(cluster, namespace, "api")

    apps = client.AppsV1Api(cluster.api)
    assert ready_replicas(cluster, namespace, "api") == 3
    core = client.CoreV1Api(cluster.api)
    assert core.read_namespaced_service("api", namespace).spec.selector == {"app": "api"}
    assert route_backends(cluster, namespace, "api") == {"api": 100}
    names = {d.metadata.name for d in apps.list_namespaced_deployment(namespace).items}
    assert names == {"api"}
    services = {s.metadata.name for s in core.list_namespaced_service(namespace).items}
    assert services == {"api"}
