"""A rollout whose target scales with a KEDA ScaledObject needs nothing beyond deploy/rbac.yaml: the
controller watches ScaledObjects, clones the target's for the primary and pauses and resumes the
target's with the deployed permissions only, and never meets a Forbidden."""

from __future__ import annotations

from pathlib import Path

from kubernetes import client

from tests.conftest import Cluster
from tests.deploy.test_runs_with_least_privilege import assert_never_forbidden, least_privileged_controller
from tests.operator.conftest import apply, deployment, gateway_canary, set_image, wait_for_phase
from tests.operator.test_keda_scaled_object import PAUSED, scaled_object, scaler_ref


def test_keda_rollout_with_only_the_deployed_permissions(
    cluster: Cluster, namespace: str, crds: None, tmp_path: Path
) -> None:
    controller = least_privileged_controller(cluster, namespace, tmp_path)
    controller.start()
    try:
        apply(
            cluster,
            namespace,
            deployment("web", "example.invalid/web:1"),
            scaled_object("web"),
            gateway_canary("web", {"stepWeight": 50}, autoscalerRef=scaler_ref("web")),
        )
        wait_for_phase(cluster, namespace, "web", "Initialized", timeout=60)
        set_image(cluster, namespace, "web", "example.invalid/web:2")
        done = wait_for_phase(cluster, namespace, "web", "Succeeded", "Failed", timeout=90)
        assert done["status"]["phase"] == "Succeeded"
    finally:
        controller.stop()
    assert_never_forbidden(controller)
    objects = client.CustomObjectsApi(cluster.api)
    target = objects.get_namespaced_custom_object("keda.sh", "v1alpha1", namespace, "scaledobjects", "web")
    assert target["metadata"]["annotations"][PAUSED] == "0"
    primary = objects.get_namespaced_custom_object(
        "keda.sh", "v1alpha1", namespace, "scaledobjects", "web-primary"
    )
    assert primary["spec"]["scaleTargetRef"]["name"] == "web-primary"
