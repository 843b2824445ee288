"""The nginx router clones the Ingress as <ingress>-canary, points it at the canary Service, and
walks its canary-weight annotation through every step; the original Ingress is left alone."""

from __future__ import annotations

import time
from typing import Any

from kubernetes import client

from tests.conftest import Cluster
from tests.operator.conftest import Controller, Recorder, apply, canary, deployment, set_image, wait_for_phase

WEIGHT = "nginx.ingress.kubernetes.io/canary-weight"


def ingress(name: str) -> dict[str, Any]:
    backend = {"service": {"name": name, "port": {"number": 9898}}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "annotations": {"kubernetes.io/ingress.class": "nginx"}},
        "spec": {
            "rules": [
                {
                    "host": f"{name}.example.com",
                    "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]},
                }
            ],
        },
    }


def canary_weight(obj: dict[str, Any]) -> str | None:
    if obj["metadata"]["name"] != "web-canary":
        return None
    return (obj["metadata"].get("annotations") or {}).get(WEIGHT)


def test_nginx_canary_walks_the_canary_weight_annotation(
    cluster: Cluster, namespace: str, controller: Controller
) -> None:
    spec = canary(
        "web",
        {"stepWeight": 25},
        provider="nginx",
        ingressRef={"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "web"},
    )
    apply(cluster, namespace, deployment("web", "example.invalid/web:1"), ingress("web"), spec)
    wait_for_phase(cluster, namespace, "web", "Initialized", timeout=60)
    net = client.NetworkingV1Api(cluster.api)
    clone = net.read_namespaced_ingress("web-canary", namespace)
    assert clone.metadata.annotations["nginx.ingress.kubernetes.io/canary"] == "true"
    assert clone.spec.rules[0].http.paths[0].backend.service.name == "web-canary"
    assert clone.spec.rules[0].host == "web.example.com"

    recorder = Recorder(net.list_namespaced_ingress, canary_weight, namespace=namespace)
    set_image(cluster, namespace, "web", "example.invalid/web:2")
    done = wait_for_phase(cluster, namespace, "web", "Succeeded", "Failed", timeout=90)
    assert done["status"]["phase"] == "Succeeded"
    assert recorder.stop() == ["0", "25", "50", "75", "100", "0"]
    original = net.read_namespaced_ingress("web", namespace)
    assert original.spec.rules[0].http.paths[0].backend.service.name == "web"
    assert WEIGHT not in (original.metadata.annotations or {})


def test_nginx_without_ingress_ref_is_an_invalid_spec(
    cluster: Cluster, namespace: str, controller: Controller
) -> None:
    apply(
        cluster,
        namespace,
        deployment("api", "example.invalid/api:1"),
        canary("api", {"stepWeight": 25}, provider="nginx"),
    )
    deadline = time.monotonic() + 60
    while True:
        api = client.CustomObjectsApi(cluster.api)
        body = api.get_namespaced_custom_object("canary.dev", "v1alpha1", namespace, "canaries", "api")
        ready = next(
            (c for c in body.get("status", {}).get("conditions") or [] if c["type"] == "Ready"), None
        )
        if ready and ready["status"] == "False":
            break
        assert time.monotonic() < deadline, body.get("status")
        time.sleep(0.2)
    assert ready["reason"] == "InvalidSpec"
    assert ready["message"].startswith("spec.ingressRef:")
