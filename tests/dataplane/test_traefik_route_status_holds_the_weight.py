"""The data plane's word, from a real Traefik: a canary whose HTTPRoute Traefik does not accept (the
Gateway's listener is for another host name) holds at 0% with a RouteNotAccepted Warning and a
Routed=False condition quoting Traefik's reason; once the Gateway is fixed, Traefik accepts the route,
the run goes on to Succeeded, and Traefik serves the new revision."""

from __future__ import annotations

import json
import time
from typing import Any

from controlplane.standins import StandIns
from controlplane.traefik import LocalTraefik
from tests.conftest import Cluster
from tests.dataplane.conftest import GATEWAY_CLASS, host_for, wait_for_split
from tests.operator.conftest import (
    Controller,
    apply,
    canary,
    deployment,
    events,
    get_canary,
    set_image,
    wait_for_condition,
    wait_for_phase,
)

OLD, NEW = "example.invalid/web:1", "example.invalid/web:2"


def gateway(port: int, hostname: str) -> dict[str, Any]:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "edge"},
        "spec": {
            "gatewayClassName": GATEWAY_CLASS,
            "listeners": [
                {
                    "name": "web",
                    "protocol": "HTTP",
                    "port": port,
                    "hostname": hostname,
                    "allowedRoutes": {"namespaces": {"from": "Same"}},
                }
            ],
        },
    }


def test_a_route_traefik_does_not_accept_holds_the_weight_until_it_does(
    cluster: Cluster, namespace: str, traefik: LocalTraefik, standins: StandIns, controller: Controller
) -> None:
    host = host_for(namespace)
    apply(cluster, namespace, gateway(traefik.web_port, f"shop.{namespace}.example"))  # not the canary's host
    service = {"port": 9898, "targetPort": "http", "gatewayRefs": [{"name": "edge"}], "hosts": [host]}
    apply(
        cluster,
        namespace,
        deployment("web", OLD),
        canary("web", {"stepWeight": 50}, provider="gatewayapi", service=service),
    )
    wait_for_phase(cluster, namespace, "web", "Initialized", timeout=60)
    refused = wait_for_condition(cluster, namespace, "web", "Routed", "False")
    print("\nRouted:", refused["message"])
    assert refused["reason"] == "NotAccepted"
    assert refused["message"].startswith(
        "HTTPRoute web: traefik.io/gateway-controller reports Accepted=False"
    )

    set_image(cluster, namespace, "web", NEW)
    deadline = time.monotonic() + 30
    while not any(r == "RouteNotAccepted" for _, r, _ in events(cluster, namespace, "web")):
        assert time.monotonic() < deadline, events(cluster, namespace, "web")
        time.sleep(0.2)
    time.sleep(5)  # five analysis intervals
    held = get_canary(cluster, namespace, "web")["status"]
    assert (held["phase"], held["canaryWeight"]) == ("Progressing", 0)
    warnings = [
        m for kind, r, m in events(cluster, namespace, "web") if kind == "Warning" and r == "RouteNotAccepted"
    ]
    assert warnings[0] == f"Holding at 0%: the data plane does not accept the route: {refused['message']}"

    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(gateway(traefik.web_port, host)))
    accepted = wait_for_condition(cluster, namespace, "web", "Routed", "True")
    assert accepted["message"] == "HTTPRoute web accepted by traefik.io/gateway-controller (Gateway edge)"
    done = wait_for_phase(cluster, namespace, "web", "Succeeded", "Failed", timeout=120)
    assert done["status"]["phase"] == "Succeeded"
    wait_for_split(traefik, host, {NEW: 100})
