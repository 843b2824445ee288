"""The knative provider against Knative Serving's own controller and autoscaler (built from its Go
module, ``controlplane/knative.py``), on the local control plane with Knative's upstream CRDs.

Knative makes the Revisions (their names, their Deployments, their readiness through its
PodAutoscalers; kwok runs the Pods), and its route controller turns the ``spec.traffic`` the
controller writes into the Route and the ingress object a networking layer would program.  No
networking layer runs here, so no request is served: what is measured is Knative's own translation
of every weight step (the ingress's splits), and whether the traffic stays on the primary revision
when a release fails.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from controlplane.hooks import HookServer
from controlplane.knative import KPA_CLASS, LocalKnative, ingress_splits
from tests.conftest import Cluster
from tests.deploy.test_runs_with_least_privilege import assert_never_forbidden, least_privileged_controller
from tests.operator.conftest import (
    Controller,
    Recorder,
    apply,
    events,
    wait_for_condition,
    wait_for_phase,
    wait_gone,
)

SERVING = ("serving.knative.dev", "v1")


@pytest.fixture(scope="module")
def knative(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKnative]:
    serving = LocalKnative(cluster.kubeconfig, tmp_path_factory.mktemp("knative"))
    serving.start()
    yield serving
    serving.stop()


def knative_service(name: str, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {
            "template": {
                "metadata": {"annotations": dict(KPA_CLASS)},
                "spec": {"containers": [{"image": image, "ports": [{"containerPort": 8080}]}]},
            }
        },
    }


def knative_canary(name: str, analysis: dict[str, Any], **spec: Any) -> dict[str, Any]:
    """As Flagger's knative tutorial writes it: no service block."""
    return {
        "apiVersion": "canary.dev/v1alpha1",
        "kind": "Canary",
        "metadata": {"name": name},
        "spec": {
            "provider": "knative",
            "targetRef": {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": name},
            "analysis": {"interval": "1s", **analysis},
            **spec,
        },
    }


def get_service(cluster: Cluster, namespace: str, name: str) -> dict[str, Any]:
    body: dict[str, Any] = client.CustomObjectsApi(cluster.api).get_namespaced_custom_object(
        *SERVING, namespace, "services", name
    )
    return body


def set_image(cluster: Cluster, namespace: str, name: str, image: str) -> None:
    patch = [{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": image}]
    cluster.kubectl(
        "patch",
        "-n",
        namespace,
        f"services.serving.knative.dev/{name}",
        "--type=json",
        "-p",
        json.dumps(patch),
    )


def wait_for_ready_revision(cluster: Cluster, namespace: str, revision: str, timeout: float = 60) -> None:
    """Until Knative has made ``revision`` and says it is Ready (``kubectl wait`` fails at once on an
    object not made yet)."""
    api = client.CustomObjectsApi(cluster.api)
    deadline = time.monotonic() + timeout
    conditions: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        try:
            body = api.get_namespaced_custom_object(*SERVING, namespace, "revisions", revision)
        except client.ApiException as e:
            if e.status != 404:
                raise
        else:
            conditions = (body.get("status") or {}).get("conditions") or []
            if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
                return
        time.sleep(0.2)
    raise AssertionError(f"revision {revision} never became ready: {conditions}")


def record_splits(cluster: Cluster, namespace: str, name: str) -> Recorder:
    """Every change of the splits of Knative's ingress object for the Service ``name``."""
    return Recorder(
        client.CustomObjectsApi(cluster.api).list_namespaced_custom_object,
        lambda ingress: ingress_splits(ingress) if ingress["metadata"]["name"] == name else None,
        group="networking.internal.knative.dev",
        version="v1alpha1",
        namespace=namespace,
        plural="ingresses",
    )


def pinned(name: str, percent: int = 100) -> dict[str, Any]:
    return {"revisionName": name, "percent": percent, "latestRevision": False}


@pytest.fixture
def controller(
    cluster: Cluster, namespace: str, crds: None, knative: LocalKnative, tmp_path: Path
) -> Iterator[Controller]:
    ctl = Controller(cluster, namespace, tmp_path / "controller.log")
    ctl.start()
    yield ctl
    ctl.stop()


def test_a_healthy_revision_is_promoted_step_by_step_as_knative_splits_it(
    cluster: Cluster, namespace: str, controller: Controller
) -> None:
    apply(cluster, namespace, knative_service("web", "example.com/web:1"))
    wait_for_ready_revision(cluster, namespace, "web-00001")
    apply(cluster, namespace, knative_canary("web", {"stepWeight": 25, "maxWeight": 75, "threshold": 2}))
    wait_for_phase(cluster, namespace, "web", "Initialized", timeout=60)
    service = get_service(cluster, namespace, "web")
    assert service["metadata"]["annotations"]["canary.dev/primary-revision"] == "web-00001"
    assert service["spec"]["traffic"] == [pinned("web-00001")]

    splits = record_splits(cluster, namespace, "web")
    set_image(cluster, namespace, "web", "example.com/web:2")
    done = wait_for_phase(cluster, namespace, "web", "Succeeded", "Failed", timeout=120)
    seen = splits.stop()

    assert done["status"]["phase"] == "Succeeded", events(cluster, namespace, "web")
    assert done["status"]["lastAppliedSpec"] == "web-00002"  # the revision analysed, by its name
    service = get_service(cluster, namespace, "web")
    assert service["metadata"]["annotations"]["canary.dev/primary-revision"] == "web-00002"
    assert service["spec"]["traffic"] == [pinned("web-00002")]
    # Knative's route controller made each written step its ingress's split, in order.
    steps = [s for s in seen if s != {"web-00001": 100}]
    assert steps == [
        {"web-00001": 75, "web-00002": 25},
        {"web-00001": 50, "web-00002": 50},
        {"web-00001": 25, "web-00002": 75},
        {"web-00002": 100},
    ], seen
    reasons = [reason for _, reason, _ in events(cluster, namespace, "web")]
    assert "Promoted" in reasons or "Succeeded" in reasons, reasons


def test_a_failing_revision_is_rolled_back_and_the_next_one_promoted(
    cluster: Cluster, namespace: str, controller: Controller, hooks: HookServer
) -> None:
    hooks.answer("/check", 500, "the release is broken")
    hook = {"name": "smoke", "type": "rollout", "url": f"{hooks.url}/check", "timeout": "2s"}
    apply(cluster, namespace, knative_service("shop", "example.com/shop:1"))
    wait_for_ready_revision(cluster, namespace, "shop-00001")
    apply(
        cluster,
        namespace,
        knative_canary("shop", {"stepWeight": 20, "maxWeight": 60, "threshold": 2, "webhooks": [hook]}),
    )
    wait_for_phase(cluster, namespace, "shop", "Initialized", timeout=60)
    splits = record_splits(cluster, namespace, "shop")
    set_image(cluster, namespace, "shop", "example.com/shop:2")
    failed = wait_for_phase(cluster, namespace, "shop", "Failed", timeout=120)
    seen = splits.stop()

    assert failed["status"]["canaryWeight"] == 0
    service = get_service(cluster, namespace, "shop")
    assert service["metadata"]["annotations"]["canary.dev/primary-revision"] == "shop-00001"
    assert service["spec"]["traffic"] == [pinned("shop-00001")]
    assert seen[-1] == {"shop-00001": 100}, seen  # Knative routes it all back to the primary revision
    assert {"shop-00001": 80, "shop-00002": 20} in seen, seen  # the canary had its first step

    # The next release passes: the failed revision is never promoted, the new one is.
    hooks.answer("/check", 200, "fine")
    set_image(cluster, namespace, "shop", "example.com/shop:3")
    done = wait_for_phase(cluster, namespace, "shop", "Succeeded", timeout=120)
    assert done["status"]["lastAppliedSpec"] == "shop-00003"
    assert get_service(cluster, namespace, "shop")["spec"]["traffic"] == [pinned("shop-00003")]


def test_with_only_the_deployed_permissions_a_release_and_the_deletion_give_the_service_back_to_knative(
    cluster: Cluster, namespace: str, crds: None, knative: LocalKnative, tmp_path: Path
) -> None:
    controller = least_privileged_controller(cluster, namespace, tmp_path)
    controller.start()
    try:
        apply(cluster, namespace, knative_service("api", "example.com/api:1"))
        wait_for_ready_revision(cluster, namespace, "api-00001")
        apply(
            cluster,
            namespace,
            knative_canary("api", {"stepWeight": 50, "threshold": 2}, revertOnDeletion=True),
        )
        wait_for_phase(cluster, namespace, "api", "Initialized", timeout=60)
        set_image(cluster, namespace, "api", "example.com/api:2")
        done = wait_for_phase(cluster, namespace, "api", "Succeeded", "Failed", timeout=90)
        assert done["status"]["phase"] == "Succeeded"
        cluster.kubectl("delete", "-n", namespace, "canary/api", "--wait=false")
        wait_gone(cluster, namespace, "api")
    finally:
        controller.stop()
    assert_never_forbidden(controller)
    service = get_service(cluster, namespace, "api")
    assert "canary.dev/primary-revision" not in (service["metadata"].get("annotations") or {})
    assert service["spec"]["traffic"] == [{"latestRevision": True, "percent": 100}]


def test_a_knative_service_with_another_provider_is_refused_by_the_schema(
    cluster: Cluster, namespace: str, crds: None
) -> None:
    body = knative_canary("web", {"stepWeight": 10}, provider="istio")
    done = cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(body), check=False)
    assert done.returncode != 0
    assert "provider knative goes with a Knative Service target" in done.stderr
    plain = knative_canary("web", {"stepWeight": 10})
    plain["spec"]["targetRef"]["apiVersion"] = "v1"
    done = cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(plain), check=False)
    assert "a Service target must be a Knative Service" in done.stderr


def test_a_knative_target_with_the_default_provider_or_a_service_block_is_reported(
    cluster: Cluster, namespace: str, controller: Controller
) -> None:
    """The schema sees only a provider the spec names: the controller's default one (kubernetes
    here) and a service block, which would do nothing for a Knative Service, are reported on the
    Canary (Ready=False, InvalidSpec, a Warning event naming the field)."""
    apply(cluster, namespace, knative_service("web", "example.com/web:1"))
    unnamed = knative_canary("web", {"stepWeight": 10})
    del unnamed["spec"]["provider"]
    apply(cluster, namespace, unnamed)
    condition = wait_for_condition(cluster, namespace, "web", "Ready", "False")
    assert condition["reason"] == "InvalidSpec"
    assert condition["message"].startswith("spec.provider: a Knative Service target is routed by Knative")
    with_service = knative_canary("web", {"stepWeight": 10}, service={"port": 9898})
    apply(cluster, namespace, with_service)
    deadline = time.monotonic() + 60
    while "spec.service:" not in (
        message := wait_for_condition(cluster, namespace, "web", "Ready", "False")["message"]
    ):
        assert time.monotonic() < deadline, message
        time.sleep(0.2)
    assert message.startswith("spec.service: a Knative Service target has no generated Services")
    assert any(
        kind == "Warning" and m.startswith("spec.service:")
        for kind, _, m in events(cluster, namespace, "web")
    )
