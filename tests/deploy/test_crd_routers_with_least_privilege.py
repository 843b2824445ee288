"""The routers that write CRDs or clone an Ingress (linkerd, smi:v1alpha3, contour, traefik, skipper)
need nothing beyond deploy/rbac.yaml: with only those permissions the controller watches, creates and
patches the TrafficSplit, HTTPProxy, TraefikService or Ingress clone through a whole rollout, and on
the deletion of a Canary with revertOnDeletion hands traffic back (deleting the TrafficSplit or the
clone; pointing the HTTPProxy or TraefikService at the apex Service), never meeting a Forbidden."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes import client

from tests.conftest import Cluster
from tests.deploy.test_runs_with_least_privilege import assert_never_forbidden, least_privileged_controller
from tests.operator.conftest import (
    apply,
    canary,
    deployment,
    set_image,
    wait_for_phase,
    wait_gone,
)


def proxy_routes(cluster: Cluster, namespace: str) -> list[dict[str, object]]:
    proxy = client.CustomObjectsApi(cluster.api).get_namespaced_custom_object(
        "projectcontour.io", "v1", namespace, "httpproxies", "web"
    )
    routes: list[dict[str, object]] = proxy["spec"]["routes"]
    return routes


def trafficsplit_names(cluster: Cluster, namespace: str, version: str = "v1alpha2") -> list[str]:
    splits = client.CustomObjectsApi(cluster.api).list_namespaced_custom_object(
        "split.smi-spec.io", version, namespace, "trafficsplits"
    )
    return [s["metadata"]["name"] for s in splits["items"]]


def ingress_names(cluster: Cluster, namespace: str) -> list[str]:
    return sorted(
        i.metadata.name for i in client.NetworkingV1Api(cluster.api).list_namespaced_ingress(namespace).items
    )


def source_ingress() -> dict[str, object]:
    backend = {"service": {"name": "web", "port": {"number": 9898}}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "web", "annotations": {"kubernetes.io/ingress.class": "skipper"}},
        "spec": {
            "rules": [
                {
                    "host": "web.example",
                    "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]},
                }
            ]
        },
    }


SPLITS = {"linkerd": "v1alpha2", "smi:v1alpha3": "v1alpha3"}


@pytest.mark.parametrize("provider", ["linkerd", "smi:v1alpha3", "contour", "traefik", "skipper"])
def test_rollout_and_revert_with_only_the_deployed_permissions(
    cluster: Cluster, namespace: str, crds: None, tmp_path: Path, provider: str
) -> None:
    controller = least_privileged_controller(cluster, namespace, tmp_path)
    controller.start()
    try:
        extra: dict[str, object] = {}
        if provider == "skipper":
            apply(cluster, namespace, source_ingress())
            extra["ingressRef"] = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "web"}
        apply(
            cluster,
            namespace,
            deployment("web", "example.invalid/web:1"),
            canary("web", {"stepWeight": 50}, provider=provider, revertOnDeletion=True, **extra),
        )
        wait_for_phase(cluster, namespace, "web", "Initialized", timeout=60)
        set_image(cluster, namespace, "web", "example.invalid/web:2")
        done = wait_for_phase(cluster, namespace, "web", "Succeeded", "Failed", timeout=90)
        assert done["status"]["phase"] == "Succeeded"
        if provider in SPLITS:
            assert trafficsplit_names(cluster, namespace, SPLITS[provider]) == ["web"]
        if provider == "skipper":
            assert ingress_names(cluster, namespace) == ["web", "web-canary"]
        cluster.kubectl("delete", "-n", namespace, "canary/web", "--wait=false")
        wait_gone(cluster, namespace, "web")
    finally:
        controller.stop()
    assert_never_forbidden(controller)
    core = client.CoreV1Api(cluster.api)
    assert core.read_namespaced_service("web", namespace).spec.selector == {"app": "web"}
    if provider in SPLITS:
        assert trafficsplit_names(cluster, namespace, SPLITS[provider]) == []
    elif provider == "skipper":
        assert ingress_names(cluster, namespace) == ["web"]
    elif provider == "traefik":
        service = client.CustomObjectsApi(cluster.api).get_namespaced_custom_object(
            "traefik.io", "v1alpha1", namespace, "traefikservices", "web"
        )
        assert service["spec"] == {
            "weighted": {"services": [{"name": "web", "namespace": namespace, "port": 9898, "weight": 100}]}
        }
    else:
        (route,) = proxy_routes(cluster, namespace)
        assert route["services"] == [{"name": "web", "port": 9898, "weight": 100}]
        assert route["conditions"] == [{"prefix": "/"}]
