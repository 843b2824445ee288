"""The linkerd router drives an SMI TrafficSplit ``<apex>``: a progressive canary walks its backend
weights step by step to a promotion, blue/green moves them all at once, and A/B testing (which a
TrafficSplit cannot express) is refused with a Ready=False/InvalidSpec condition and a Warning
event naming spec.analysis.match."""

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
    wait_for_condition,
    wait_for_phase,
)

GROUP, VERSION, PLURAL = "split.smi-spec.io", "v1alpha2", "trafficsplits"


def split_weights(apex: str) -> Any:
    def extract(split: dict[str, Any]) -> tuple[int, int] | None:
        if split["metadata"]["name"] != apex:
            return None
        backends = {b["service"]: b["weight"] for b in split.get("spec", {}).get("backends") or []}
        return backends.get(f"{apex}-primary", 0), backends.get(f"{apex}-canary", 0)

    return extract


def record_split(cluster: Cluster, namespace: str, apex: str) -> Recorder:
    return Recorder(
        client.CustomObjectsApi(cluster.api).list_namespaced_custom_object,
        split_weights(apex),
        group=GROUP,
        version=VERSION,
        namespace=namespace,
        plural=PLURAL,
    )


def get_split(cluster: Cluster, namespace: str, name: str) -> dict[str, Any]:
    split: dict[str, Any] = client.CustomObjectsApi(cluster.api).get_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, name
    )
    return split


def test_linkerd_canary_walks_the_traffic_split_weights_to_succeeded(
    cluster: Cluster, namespace: str, controller: Controller
) -> None:
    spec = canary(
        "web",
        {"stepWeight": 20, "maxWeight": 60},
        provider="linkerd",
        service={"port": 9898, "targetPort": "http", "apex": {"labels": {"team": "shop"}}},
    )
    apply(cluster, namespace, deployment("web", "example.invalid/web:1"), spec)
    wait_for_phase(cluster, namespace, "web", "Initialized", timeout=60)
    split = get_split(cluster, namespace, "web")
    assert split["spec"] == {
        "service": "web",
        "backends": [{"service": "web-primary", "weight": 100}, {"service": "web-canary", "weight": 0}],
    }
    assert split["metadata"]["labels"]["team"] == "shop"
    assert "ownerReferences" not in split["metadata"]

    recorder = record_split(cluster, namespace, "web")
    set_image(cluster, namespace, "web", "example.invalid/web:2")
    done = wait_for_phase(cluster, namespace, "web", "Succeeded", "Failed", timeout=120)
    seen = recorder.stop()

    assert done["status"]["phase"] == "Succeeded"
    assert seen == [(100, 0), (80, 20), (60, 40), (40, 60), (100, 0)]
    apps = client.AppsV1Api(cluster.api)
    primary = apps.read_namespaced_deployment("web-primary", namespace)
    assert primary.spec.template.spec.containers[0].image == "example.invalid/web:2"
    assert apps.read_namespaced_deployment("web", namespace).spec.replicas == 0
    reasons = [reason for _, reason, _ in events(cluster, namespace, "web")]
    for expected in ("Initialized", "NewRevision", "WeightIncreased", "Promoting", "Promoted"):
        assert expected in reasons


def test_linkerd_blue_green_switches_all_traffic_for_the_iterations(
    cluster: Cluster, namespace: str, controller: Controller
) -> None:
    apply(
        cluster,
        namespace,
        deployment("api", "example.invalid/api:1"),
        canary("api", {"iterations": 2}, provider="linkerd"),
    )
    wait_for_phase(cluster, namespace, "api", "Initialized", timeout=60)
    recorder = record_split(cluster, namespace, "api")
    set_image(cluster, namespace, "api", "example.invalid/api:2")
    done = wait_for_phase(cluster, namespace, "api", "Succeeded", "Failed", timeout=90)
    assert done["status"]["phase"] == "Succeeded"
    assert recorder.stop() == [(100, 0), (0, 100), (100, 0)]
    primary = client.AppsV1Api(cluster.api).read_namespaced_deployment("api-primary", namespace)
    assert primary.spec.template.spec.containers[0].image == "example.invalid/api:2"


def test_linkerd_refuses_ab_testing_naming_the_field(
    cluster: Cluster, namespace: str, controller: Controller
) -> None:
    analysis = {"iterations": 2, "match": [{"headers": {"x-canary": {"exact": "insider"}}}]}
    apply(
        cluster,
        namespace,
        deployment("ab", "example.invalid/ab:1"),
        canary("ab", analysis, provider="linkerd"),
    )
    ready = wait_for_condition(cluster, namespace, "ab", "Ready", "False")
    assert ready["reason"] == "InvalidSpec"
    assert ready["message"].startswith(
        "spec.analysis.match[0].headers: the linkerd provider has no header match"
    )
    assert "providers with header match: contour, gatewayapi, istio, nginx" in ready["message"]
    warnings = [
        (reason, message) for kind, reason, message in events(cluster, namespace, "ab") if kind == "Warning"
    ]
    assert ("InvalidSpec", ready["message"]) in warnings
    splits = client.CustomObjectsApi(cluster.api).list_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL
    )
    assert splits["items"] == []  # nothing routes traffic by a spec that cannot work
