"""A canary whose Pods never become ready is rolled back at its progress deadline, with an event and
a status saying so; the primary keeps serving the old version."""

from __future__ import annotations

from kubernetes import client

from controlplane.localcluster import UNREADY_LABEL
from tests.conftest import Cluster
from tests.operator.conftest import Controller, apply, canary, deployment, events, wait_for_phase


def test_never_ready_canary_is_rolled_back_at_its_progress_deadline(
    cluster: Cluster, namespace: str, controller: Controller
) -> None:
    apply(
        cluster,
        namespace,
        deployment("api", "example.invalid/api:1"),
        canary("api", {"iterations": 2}, provider="kubernetes", progressDeadlineSeconds=4),
    )
    wait_for_phase(cluster, namespace, "api", "Initialized", timeout=60)
    # The new revision's Pods carry the label the kwok stage keeps unready (as a crash loop would).
    broken = deployment("api", "example.invalid/api:2", labels={UNREADY_LABEL: "true"})
    apply(cluster, namespace, broken)
    failed = wait_for_phase(cluster, namespace, "api", "Failed", "Succeeded", timeout=60)

    assert failed["status"]["phase"] == "Failed"
    promoted = {c["type"]: c for c in failed["status"]["conditions"]}["Promoted"]
    assert promoted["status"] == "False"
    assert "progressDeadlineSeconds (4s)" in promoted["message"]
    warnings = [
        (reason, message) for kind, reason, message in events(cluster, namespace, "api") if kind == "Warning"
    ]
    assert [reason for reason, _ in warnings] == ["ProgressDeadlineExceeded"]
    assert "did not become ready" in warnings[0][1]

    apps = client.AppsV1Api(cluster.api)
    assert apps.read_namespaced_deployment("api", namespace).spec.replicas == 0
    primary = apps.read_namespaced_deployment("api-primary", namespace)
    assert primary.spec.template.spec.containers[0].image == "example.invalid/api:1"
    apex = client.CoreV1Api(cluster.api).read_namespaced_service("api", namespace)
    assert apex.spec.selector == {"app": "api-primary"}
