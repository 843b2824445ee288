"""A Gateway API canary goes from Initialized through every weight step to Succeeded, with the
HTTPRoute's backend weights observed at each step, maxWeight acting as a cap, and the primary
running the new pod template at the end."""

from __future__ import annotations

from kubernetes import client

from tests.conftest import Cluster
from tests.operator.conftest import (
    Controller,
    apply,
    canary,
    deployment,
    events,
    record_httproute,
    set_image,
    wait_for_phase,
)


def test_gateway_api_canary_walks_every_weight_step_to_succeeded(
    cluster: Cluster, namespace: str, controller: Controller
) -> None:
    spec = canary(
        "web",
        {"stepWeight": 20, "maxWeight": 50, "threshold": 2},
        provider="gatewayapi:v1",
        service={
            "port": 9898,
            "targetPort": "http",
            "gatewayRefs": [{"name": "gw", "namespace": "gateways"}],
            "hosts": ["web.example.com"],
        },
    )
    apply(cluster, namespace, deployment("web", "example.invalid/web:1.0.0"), spec)
    wait_for_phase(cluster, namespace, "web", "Initialized", timeout=60)

    apps = client.AppsV1Api(cluster.api)
    assert apps.read_namespaced_deployment("web", namespace).spec.replicas == 0
    primary = apps.read_namespaced_deployment("web-primary", namespace)
    assert primary.spec.template.spec.containers[0].image == "example.invalid/web:1.0.0"
    assert primary.spec.selector.match_labels == {"app": "web-primary"}
    services = {
        s.metadata.name: s.spec.selector
        for s in client.CoreV1Api(cluster.api).list_namespaced_service(namespace).items
    }
    assert services == {
        "web": {"app": "web-primary"},
        "web-primary": {"app": "web-primary"},
        "web-canary": {"app": "web"},
    }

    recorder = record_httproute(cluster, namespace, "web")
    set_image(cluster, namespace, "web", "example.invalid/web:1.1.0")
    done = wait_for_phase(cluster, namespace, "web", "Succeeded", "Failed", timeout=120)
    seen = recorder.stop()

    assert done["status"]["phase"] == "Succeeded"
    assert seen == [(100, 0), (80, 20), (60, 40), (50, 50), (100, 0)]  # 50 is a cap, not 60
    primary = apps.read_namespaced_deployment("web-primary", namespace)
    assert primary.spec.template.spec.containers[0].image == "example.invalid/web:1.1.0"
    assert apps.read_namespaced_deployment("web", namespace).spec.replicas == 0
    route = client.CustomObjectsApi(cluster.api).get_namespaced_custom_object(
        "gateway.networking.k8s.io", "v1", namespace, "httproutes", "web"
    )
    # The upstream CRD defaults a parentRef's group and kind.
    assert route["spec"]["parentRefs"] == [
        {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "gw", "namespace": "gateways"}
    ]
    assert route["spec"]["hostnames"] == ["web.example.com"]

    reasons = [reason for _, reason, _ in events(cluster, namespace, "web")]
    for expected in ("Initialized", "NewRevision", "WeightIncreased", "Promoting", "Promoted"):
        assert expected in reasons
    assert (
        cluster.kubectl(
            "wait", "-n", namespace, "canary/web", "--for=condition=Promoted", "--timeout=5s"
        ).returncode
        == 0
    )
