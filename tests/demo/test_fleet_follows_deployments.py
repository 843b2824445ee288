"""The demo's stand-in fleet and gateway against the real control plane and Prometheus: a stand-in per
Deployment that wants pods, serving what its pod template declares, replaced when the template changes,
stopped when scaled to zero, scraped by Prometheus under the pod labels the builtin queries select on;
and the gateway sending each Service's share by the HTTPRoute's weights."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from controlplane.prometheus import Prometheus
from demo.fleet import Behaviour, Fleet
from demo.gateway import Gateway
from tests.conftest import Cluster
from tests.operator.conftest import apply, deployment
from tests.support.waiting import wait_for


def status_of(address: str) -> int:
    try:
        with urllib.request.urlopen(f"http://{address}/", timeout=5) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        e.close()
        return e.code


def service(name: str, app: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": app}, "ports": [{"port": 9898}]},
    }


@pytest.fixture
def fleet(cluster: Cluster, namespace: str, prometheus: Prometheus) -> Iterator[Fleet]:
    changes: list[str] = []
    f = Fleet(
        cluster.api,
        namespace,
        prometheus=prometheus,
        catalogue={"acme/web:2": Behaviour(1.0, 5.0)},
        on_change=changes.append,
        period=0.2,
    )
    f.start()
    yield f
    f.stop()


def test_a_standin_follows_its_deployment(
    cluster: Cluster, namespace: str, prometheus: Prometheus, fleet: Fleet
) -> None:
    apply(cluster, namespace, deployment("web", "acme/web:1", replicas=1), service("web-svc", "web"))
    first = wait_for("a stand-in for web", lambda: fleet.address_of_service("web-svc"))
    assert fleet.serving()["web"] == ("acme/web:1", Behaviour())
    assert status_of(first) == 200

    # Prometheus scrapes it under the labels Kubernetes discovery would give its pod.
    pod = fleet.running["web"].pod
    assert pod.startswith("web-")
    assert pod.count("-") == 2
    prometheus.wait_for_target_up(first)
    series = wait_for(
        "the stand-in's requests in Prometheus",
        lambda: prometheus.api(
            "/api/v1/query",
            query=f'http_request_duration_seconds_count{{kubernetes_namespace="{namespace}"}}',
        )["result"],
    )
    assert series[0]["metric"]["kubernetes_pod_name"] == pod

    # A new image is a new stand-in with that image's behaviour (the catalogue: every request fails).
    cluster.kubectl("set", "image", "-n", namespace, "deployment/web", "web=acme/web:2")
    second = wait_for(
        "the stand-in to be replaced", lambda: (a := fleet.address_of_service("web-svc")) != first and a
    )
    assert status_of(second) == 500
    assert fleet.serving()["web"] == ("acme/web:2", Behaviour(1.0, 5.0))

    # An environment variable in the template overrides the catalogue.
    cluster.kubectl("set", "env", "-n", namespace, "deployment/web", "STANDIN_ERROR_RATE=0")
    third = wait_for(
        "the stand-in to follow the env", lambda: (a := fleet.address_of_service("web-svc")) != second and a
    )
    assert status_of(third) == 200

    # Scaled to zero: no stand-in, no scrape target.
    cluster.kubectl("scale", "-n", namespace, "deployment/web", "--replicas=0")
    wait_for("the stand-in to stop", lambda: "web" not in fleet.serving())
    assert fleet.address_of_service("web-svc") is None
    assert not (prometheus.sd / f"standin-{namespace}-web.json").exists()


def test_the_gateway_routes_by_the_httproute_weights(
    cluster: Cluster, namespace: str, crds: None, fleet: Fleet
) -> None:
    apply(
        cluster,
        namespace,
        deployment("web-primary", "acme/web:1", replicas=1),
        deployment("web", "acme/web:2", replicas=1),
        service("web-primary", "web-primary"),
        service("web-canary", "web"),
    )
    wait_for("both stand-ins", lambda: len(fleet.serving()) == 2)
    custom = client.CustomObjectsApi(cluster.api)
    route = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {
            "rules": [
                {
                    "backendRefs": [  # the upstream CRD's rules want a port on a Service reference
                        {"name": "web-primary", "port": 9898, "weight": 75},
                        {"name": "web-canary", "port": 9898, "weight": 25},
                    ]
                }
            ]
        },
    }
    custom.create_namespaced_custom_object("gateway.networking.k8s.io", "v1", namespace, "httproutes", route)
    gateway = Gateway(cluster.api, namespace, "web", fleet.address_of_service, period=0.2).start()
    try:
        statuses = [status_of(gateway.url[len("http://") :]) for _ in range(40)]
        # The canary's image fails every request (the catalogue): exactly its 25% share fails.
        assert statuses.count(500) == 10
        assert gateway.split() == {"web-primary": 30, "web-canary": 10}

        route["spec"]["rules"][0]["backendRefs"] = [
            {"name": "web-primary", "port": 9898, "weight": 100},
            {"name": "web-canary", "port": 9898, "weight": 0},
        ]
        custom.patch_namespaced_custom_object(
            "gateway.networking.k8s.io", "v1", namespace, "httproutes", "web", {"spec": route["spec"]}
        )
        wait_for("the gateway to read the new weights", lambda: gateway.backends[1].weight == 0)
        gateway.split()
        assert {status_of(gateway.url[len("http://") :]) for _ in range(20)} == {200}
        assert gateway.split() == {"web-primary": 20}
    finally:
        gateway.stop()
