"""The kubernetes provider runs blue/green by moving the apex Service's selector: primary Pods,
then the canary's for one analysed interval, then the (promoted) primary's again."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from tests.conftest import Cluster
from tests.operator.conftest import Controller, Recorder, apply, canary, deployment, set_image, wait_for_phase


def apex_selector(svc: dict[str, Any]) -> str | None:
    if svc.get("metadata", {}).get("name") != "shop":
        return None
    return str((svc.get("spec", {}).get("selector") or {}).get("app"))


def test_blue_green_switches_the_apex_service(
    cluster: Cluster, namespace: str, controller: Controller
) -> None:
    apply(
        cluster,
        namespace,
        deployment("shop", "example.invalid/shop:1"),
        canary("shop", {"iterations": 3}, provider="kubernetes"),
    )
    wait_for_phase(cluster, namespace, "shop", "Initialized", timeout=60)
    recorder = Recorder(
        client.CoreV1Api(cluster.api).list_namespaced_service, apex_selector, namespace=namespace
    )
    set_image(cluster, namespace, "shop", "example.invalid/shop:2")
    done = wait_for_phase(cluster, namespace, "shop", "Succeeded", "Failed", timeout=120)
    seen = recorder.stop()
    assert done["status"]["phase"] == "Succeeded"
    assert seen == ["shop-primary", "shop", "shop-primary"]
    primary = client.AppsV1Api(cluster.api).read_namespaced_deployment("shop-primary", namespace)
    assert primary.spec.template.spec.containers[0].image == "example.invalid/shop:2"
