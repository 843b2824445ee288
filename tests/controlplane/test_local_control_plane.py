"""The local control plane behaves like a real cluster: the deployment controller, the scheduler and
kwok turn a Deployment into Ready Pods; the unready kwok Stage keeps labelled Pods unready; the API
server validates custom resources against their structural schema."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from controlplane.localcluster import NODE_NAME, UNREADY_LABEL, wait_for_crds
from tests.conftest import Cluster

FIXTURES = Path(__file__).parent / "fixtures"


def wait_for(what: str, probe: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last observation: {last!r}")


def deployment_manifest(name: str, replicas: int, labels: dict[str, str] | None = None, **spec: Any) -> str:
    pod_labels = {"app": name, **(labels or {})}
    return json.dumps(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": pod_labels},
                    "spec": {"containers": [{"name": "app", "image": "registry.invalid/podinfo:6.0.0"}]},
                },
                **spec,
            },
        }
    )


def condition(obj: Any, kind: str) -> Any:
    return next((c for c in (obj.status.conditions or []) if c.type == kind), None)


def test_node_is_ready(cluster: Cluster) -> None:
    out = cluster.kubectl("get", "nodes", "--no-headers").stdout.split()
    assert out[:2] == [NODE_NAME, "Ready"]


def test_deployment_with_three_replicas_becomes_available(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=deployment_manifest("web", 3))
    apps = client.AppsV1Api(cluster.api)

    def available() -> Any:
        d = apps.read_namespaced_deployment("web", namespace)
        c = condition(d, "Available")
        return d if c is not None and c.status == "True" and d.status.ready_replicas == 3 else None

    dep = wait_for("Deployment web Available with 3 ready replicas", available)
    assert dep.status.available_replicas == 3
    assert dep.status.observed_generation == dep.metadata.generation

    # The status above was written by the real controllers: a ReplicaSet owned by the Deployment,
    # and three Pods bound to the kwok Node by the scheduler, Running and Ready.
    rs = client.AppsV1Api(cluster.api).list_namespaced_replica_set(namespace).items
    assert [r.metadata.owner_references[0].name for r in rs] == ["web"]
    pods = client.CoreV1Api(cluster.api).list_namespaced_pod(namespace, label_selector="app=web").items
    assert len(pods) == 3
    for pod in pods:
        assert pod.spec.node_name == NODE_NAME
        assert pod.status.phase == "Running"
        assert condition(pod, "Ready").status == "True"
        assert pod.metadata.owner_references[0].name == rs[0].metadata.name


def test_pods_labelled_unready_never_become_ready(cluster: Cluster, namespace: str) -> None:
    manifest = deployment_manifest("stuck", 2, {UNREADY_LABEL: "true"}, progressDeadlineSeconds=3)
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=manifest)
    apps = client.AppsV1Api(cluster.api)
    core = client.CoreV1Api(cluster.api)

    def running_pods() -> Any:
        pods = core.list_namespaced_pod(namespace, label_selector="app=stuck").items
        return pods if len(pods) == 2 and all(p.status.phase == "Running" for p in pods) else None

    for pod in wait_for("2 Running pods", running_pods):
        assert condition(pod, "Ready").status == "False"
        assert pod.status.container_statuses[0].ready is False

    # The real deployment controller gives up after progressDeadlineSeconds.
    def deadline_exceeded() -> Any:
        c = condition(apps.read_namespaced_deployment("stuck", namespace), "Progressing")
        return c if c is not None and c.reason == "ProgressDeadlineExceeded" else None

    wait_for("ProgressDeadlineExceeded", deadline_exceeded, timeout=60)
    assert not apps.read_namespaced_deployment("stuck", namespace).status.ready_replicas


@pytest.fixture(scope="module")
def widgets_crd(cluster: Cluster) -> str:
    cluster.kubectl("apply", "-f", str(FIXTURES / "widgets-crd.yaml"))
    wait_for_crds(cluster.kubectl_argv(), "crd/widgets.test.canary.dev")
    return "widgets.test.canary.dev"


def widget(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "test.canary.dev/v1", "kind": "Widget", "metadata": {"name": name}, "spec": spec}


@pytest.mark.parametrize(
    ("spec", "field_in_message"),
    [
        ({"size": 11, "color": "red"}, "spec.size"),
        ({"size": 3, "color": "purple"}, "spec.color"),
        ({"size": 3}, "spec.color"),
        ({"size": 3, "color": "red", "interval": "1 minute"}, "spec.interval"),
        ({"size": 3, "color": "red", "stepWeight": 60, "maxWeight": 50}, "spec.maxWeight"),
    ],
    ids=["maximum", "enum", "required", "pattern", "cel-rule"],
)
def test_crd_schema_rejects_invalid_object_with_422(
    cluster: Cluster, namespace: str, widgets_crd: str, spec: dict[str, Any], field_in_message: str
) -> None:
    api = client.CustomObjectsApi(cluster.api)
    with pytest.raises(client.ApiException) as err:
        api.create_namespaced_custom_object(
            "test.canary.dev", "v1", namespace, "widgets", widget("bad", **spec)
        )
    assert err.value.status == 422
    body = json.loads(err.value.body)
    assert body["reason"] == "Invalid"
    assert field_in_message in body["message"]


def test_crd_schema_accepts_valid_object_and_applies_defaults(
    cluster: Cluster, namespace: str, widgets_crd: str
) -> None:
    api = client.CustomObjectsApi(cluster.api)
    created = api.create_namespaced_custom_object(
        "test.canary.dev", "v1", namespace, "widgets", widget("good", size=3, color="red", interval="30s")
    )
    assert created["spec"] == {
        "size": 3,
        "color": "red",
        "interval": "30s",
        "stepWeight": 10,
        "maxWeight": 50,
    }
