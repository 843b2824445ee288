"""A KEDA ScaledObject as spec.autoscalerRef: reported like a missing HPA until it exists, then cloned
as <so>-primary (aimed at the primary, with primaryScalerQueries and primaryScalerReplicas), and the
target's one is paused (paused-replicas "0") whenever the target is parked at zero and resumed while a
new revision runs.  On deletion the primary's copy goes with the primary (revertOnDeletion, the
target's scaler resumed) or stays with it (the target parked and paused).  No KEDA operator runs
here: the test-only CRD holds the objects, and what the controller writes is what is checked."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kubernetes import client

from tests.conftest import Cluster
from tests.operator.conftest import (
    Controller,
    Recorder,
    apply,
    deployment,
    gateway_canary,
    get_canary,
    set_image,
    wait_for_phase,
    wait_gone,
)

PAUSED = "autoscaling.keda.sh/paused-replicas"
PRIMARY_QUERY = 'sum(rate(http_requests_total{app="web-primary"}[1m]))'


def scaled_object(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": name},
        "spec": {
            "scaleTargetRef": {"name": name},
            "minReplicaCount": 1,
            "maxReplicaCount": 4,
            "triggers": [
                {
                    "type": "prometheus",
                    "name": "requests",
                    "metadata": {
                        "serverAddress": "http://prometheus:9090",
                        "query": f'sum(rate(http_requests_total{{app="{name}"}}[1m]))',
                        "threshold": "100",
                    },
                },
                {"type": "cpu", "metricType": "Utilization", "metadata": {"value": "80"}},
            ],
        },
    }


def scaler_ref(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "name": name,
        "primaryScalerQueries": {"requests": PRIMARY_QUERY},
        "primaryScalerReplicas": {"minReplicas": 2, "maxReplicas": 6},
    }


def read_so(cluster: Cluster, namespace: str, name: str) -> dict[str, Any] | None:
    try:
        body: dict[str, Any] = client.CustomObjectsApi(cluster.api).get_namespaced_custom_object(
            "keda.sh", "v1alpha1", namespace, "scaledobjects", name
        )
    except client.ApiException as e:
        if e.status == 404:
            return None
        raise
    return body


def paused(so: dict[str, Any] | None) -> str | None:
    assert so is not None
    value: str | None = (so["metadata"].get("annotations") or {}).get(PAUSED)
    return value


def wait_until(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def ready_condition(cluster: Cluster, namespace: str, name: str) -> dict[str, Any]:
    conditions = get_canary(cluster, namespace, name).get("status", {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == "Ready"), {})


def record_pauses(cluster: Cluster, namespace: str, name: str) -> Recorder:
    """Record every change between "paused" and "running" of the ScaledObject ``name``."""

    def extract(so: dict[str, Any]) -> str | None:
        if so["metadata"]["name"] != name:
            return None
        return "paused" if paused(so) == "0" else "running"

    return Recorder(
        client.CustomObjectsApi(cluster.api).list_namespaced_custom_object,
        extract,
        group="keda.sh",
        version="v1alpha1",
        namespace=namespace,
        plural="scaledobjects",
    )


def test_scaled_object_is_cloned_for_the_primary_and_paused_while_the_target_is_parked(
    cluster: Cluster, namespace: str, controller: Controller
) -> None:
    apply(
        cluster,
        namespace,
        deployment("web", "example.invalid/web:1"),
        gateway_canary("web", {"stepWeight": 50}, autoscalerRef=scaler_ref("web")),
    )
    wait_until(lambda: bool(ready_condition(cluster, namespace, "web")), "no Ready condition")
    ready = ready_condition(cluster, namespace, "web")
    assert (ready["status"], ready["reason"]) == ("False", "InvalidSpec")
    assert "spec.autoscalerRef: ScaledObject web not found" in ready["message"]

    apply(cluster, namespace, scaled_object("web"))
    wait_for_phase(cluster, namespace, "web", "Initialized", timeout=60)
    primary = read_so(cluster, namespace, "web-primary")
    assert primary is not None
    spec = primary["spec"]
    assert spec["scaleTargetRef"]["name"] == "web-primary"
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (2, 6)
    requests, cpu = spec["triggers"]
    assert requests["metadata"]["query"] == PRIMARY_QUERY
    assert requests["metadata"]["threshold"] == "100"
    assert cpu == scaled_object("web")["spec"]["triggers"][1]
    assert paused(primary) is None
    assert primary["metadata"]["labels"]["canary.dev/canary"] == "web"
    assert paused(read_so(cluster, namespace, "web")) == "0"

    recorder = record_pauses(cluster, namespace, "web")
    set_image(cluster, namespace, "web", "example.invalid/web:2")
    done = wait_for_phase(cluster, namespace, "web", "Succeeded", "Failed", timeout=120)
    seen = recorder.stop()
    assert done["status"]["phase"] == "Succeeded"
    assert seen == ["paused", "running", "paused"]  # resumed for the run only
    assert paused(read_so(cluster, namespace, "web")) == "0"
    assert paused(read_so(cluster, namespace, "web-primary")) is None

    # Without revertOnDeletion the primary keeps serving, with its scaler; the target stays parked.
    cluster.kubectl("delete", "-n", namespace, "canary/web", "--wait=false")
    wait_gone(cluster, namespace, "web")
    assert paused(read_so(cluster, namespace, "web")) == "0"
    assert read_so(cluster, namespace, "web-primary") is not None
    assert client.AppsV1Api(cluster.api).read_namespaced_deployment("web", namespace).spec.replicas == 0


def test_with_revert_on_deletion_the_targets_scaler_resumes_and_the_copy_goes(
    cluster: Cluster, namespace: str, controller: Controller
) -> None:
    apply(
        cluster,
        namespace,
        deployment("api", "example.invalid/api:1"),
        scaled_object("api"),
        gateway_canary("api", {"stepWeight": 50}, autoscalerRef=scaler_ref("api"), revertOnDeletion=True),
    )
    wait_for_phase(cluster, namespace, "api", "Initialized", timeout=60)
    assert paused(read_so(cluster, namespace, "api")) == "0"
    assert read_so(cluster, namespace, "api-primary") is not None

    cluster.kubectl("delete", "-n", namespace, "canary/api", "--wait=false")
    wait_gone(cluster, namespace, "api")
    assert paused(read_so(cluster, namespace, "api")) is None
    assert read_so(cluster, namespace, "api-primary") is None
    assert client.AppsV1Api(cluster.api).read_namespaced_deployment("api", namespace).spec.replicas == 2
    names = {
        d.metadata.name for d in client.AppsV1Api(cluster.api).list_namespaced_deployment(namespace).items
    }
    assert names == {"api"}
