"""The target's HorizontalPodAutoscaler (spec.autoscalerRef) is cloned as <hpa>-primary, aimed at
the primary, with primaryScalerReplicas overriding its bounds, and kept in sync with the target's."""

from __future__ import annotations

import time
from typing import Any

from kubernetes import client

from tests.conftest import Cluster
from tests.operator.conftest import Controller, apply, canary, deployment, wait_for_phase


def hpa(name: str, max_replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": 2,
            "maxReplicas": max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
                }
            ],
        },
    }


def test_primary_autoscaler_is_cloned_and_kept_in_sync(
    cluster: Cluster, namespace: str, controller: Controller
) -> None:
    ref = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "name": "web",
        "primaryScalerReplicas": {"minReplicas": 3},
    }
    apply(
        cluster,
        namespace,
        deployment("web", "example.invalid/web:1"),
        hpa("web", 4),
        canary("web", {"stepWeight": 50}, provider="kubernetes", autoscalerRef=ref),
    )
    wait_for_phase(cluster, namespace, "web", "Initialized", timeout=60)
    scaling = client.AutoscalingV2Api(cluster.api)
    primary = scaling.read_namespaced_horizontal_pod_autoscaler("web-primary", namespace)
    assert primary.spec.scale_target_ref.name == "web-primary"
    assert (primary.spec.min_replicas, primary.spec.max_replicas) == (3, 4)
    assert primary.spec.metrics[0].resource.target.average_utilization == 80

    apply(cluster, namespace, hpa("web", 8))
    deadline = time.monotonic() + 30
    while scaling.read_namespaced_horizontal_pod_autoscaler("web-primary", namespace).spec.max_replicas != 8:
        assert time.monotonic() < deadline, "the primary autoscaler never followed the target's"
        time.sleep(0.2)
