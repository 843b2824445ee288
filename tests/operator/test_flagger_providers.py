"""Flagger's provider values on the real controller: a traefik blue/green mirrors the primary's
traffic to the canary through the TraefikService before switching, and a provider canary has no
router for (gloo) is reported on the Canary (Ready=False, InvalidSpec, a Warning event naming
spec.provider and the reason) with nothing created, instead of being refused by the schema."""

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


def traefik_state(apex: str) -> Any:
    def extract(obj: dict[str, Any]) -> tuple[Any, ...] | None:
        if obj["metadata"]["name"] != apex:
            return None
        spec = obj.get("spec") or {}
        if "mirroring" in spec:
            mirrors = spec["mirroring"].get("mirrors") or []
            return ("mirror", spec["mirroring"]["name"], *[(m["name"], m.get("percent")) for m in mirrors])
        weights = {s["name"]: s.get("weight") for s in (spec.get("weighted") or {}).get("services") or []}
        return weights.get(f"{apex}-primary", 0), weights.get(f"{apex}-canary", 0)

    return extract


def test_traefik_blue_green_mirrors_to_the_canary_then_switches(
    cluster: Cluster, namespace: str, controller: Controller
) -> None:
    apply(
        cluster,
        namespace,
        deployment("web", "example.invalid/web:1"),
        canary("web", {"iterations": 2, "mirror": True, "mirrorWeight": 50}, provider="traefik"),
    )
    wait_for_phase(cluster, namespace, "web", "Initialized", timeout=60)
    recorder = Recorder(
        client.CustomObjectsApi(cluster.api).list_namespaced_custom_object,
        traefik_state("web"),
        group="traefik.io",
        version="v1alpha1",
        namespace=namespace,
        plural="traefikservices",
    )
    set_image(cluster, namespace, "web", "example.invalid/web:2")
    done = wait_for_phase(cluster, namespace, "web", "Succeeded", "Failed", timeout=90)
    seen = recorder.stop()
    assert done["status"]["phase"] == "Succeeded"
    mirror = ("mirror", "web-primary", ("web-canary", 50))
    assert seen[0] == (100, 0)
    assert mirror in seen
    assert seen[-1] == (100, 0)
    primary = client.AppsV1Api(cluster.api).read_namespaced_deployment("web-primary", namespace)
    assert primary.spec.template.spec.containers[0].image == "example.invalid/web:2"


def test_a_flagger_provider_without_a_router_is_reported_with_the_reason(
    cluster: Cluster, namespace: str, controller: Controller
) -> None:
    spec = canary("web", {"stepWeight": 10}, provider="gloo")
    spec["spec"]["upstreamRef"] = {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "name": "web"}
    apply(cluster, namespace, deployment("web", "example.invalid/web:1"), spec)  # the schema takes it
    ready = wait_for_condition(cluster, namespace, "web", "Ready", "False")
    assert ready["reason"] == "InvalidSpec"
    assert ready["message"].startswith("spec.provider: canary has no gloo router: its CRDs")
    assert "use provider gatewayapi" in ready["message"]
    warnings = [(r, m) for kind, r, m in events(cluster, namespace, "web") if kind == "Warning"]
    assert ("InvalidSpec", ready["message"]) in warnings
    names = [
        d.metadata.name for d in client.AppsV1Api(cluster.api).list_namespaced_deployment(namespace).items
    ]
    assert names == ["web"]  # no primary: nothing was taken over for a canary that cannot route
