"""Traffic mirroring through a real Traefik: a blue/green canary of the traefik provider with
``analysis.mirror`` and ``mirrorWeight: 50`` makes the controller write a ``mirroring``
TraefikService; Traefik then answers every request from the primary while it sends a copy of about
half of them to the canary's Pods, which count what they received.  Once the run ends, the mirror
stops and the new release serves."""

from __future__ import annotations

import time

from controlplane.standins import StandIns
from controlplane.traefik import LocalTraefik
from tests.conftest import Cluster
from tests.dataplane.conftest import host_for, send, wait_for_split, workload
from tests.dataplane.test_traefik_provider_analysis import ingress_route
from tests.operator.conftest import Controller, apply, canary, events, get_canary, wait_for_phase

OLD, NEW = "example.invalid/shop:1", "example.invalid/shop:2"
REQUESTS = 200


def mirrored(traefik: LocalTraefik, namespace: str) -> bool:
    """Whether Traefik has applied a mirroring service whose mirror is the canary's Service."""
    for service in traefik.services():
        mirrors = (service.get("mirroring") or {}).get("mirrors") or []
        if any(m.get("name", "").startswith(f"{namespace}-shop-canary-") for m in mirrors):
            return True
    return False


def test_traefik_mirrors_a_share_of_the_requests_to_the_canary(
    cluster: Cluster, namespace: str, traefik: LocalTraefik, standins: StandIns, controller: Controller
) -> None:
    host = host_for(namespace)
    analysis = {"interval": "2s", "iterations": 15, "mirror": True, "mirrorWeight": 50}
    apply(
        cluster,
        namespace,
        workload("shop", OLD),
        ingress_route(host),
        canary("shop", analysis, provider="traefik"),
    )
    wait_for_phase(cluster, namespace, "shop", "Initialized", timeout=60)
    wait_for_split(traefik, host, {OLD: 100})

    apply(cluster, namespace, workload("shop", NEW))
    deadline = time.monotonic() + 60
    while not mirrored(traefik, namespace):
        assert time.monotonic() < deadline, f"Traefik never applied the mirror\n{traefik.tail()}"
        time.sleep(0.1)
    for _ in range(5):  # a sample across a configuration reload (a new mirror's count) is taken again
        reloads = traefik.reloads()
        standins.served()  # count from here
        answers = send(traefik, host, REQUESTS)
        time.sleep(0.5)  # Traefik sends the copies without waiting for them: let the last ones land
        copies = standins.served()
        if traefik.reloads() == reloads:
            break
    still_mirroring = get_canary(cluster, namespace, "shop")["status"]["phase"] == "Progressing"
    print(f"\nanswers by (image, status): {dict(answers)}; requests received by Deployment: {copies}")
    assert still_mirroring, events(cluster, namespace, "shop")  # the sample was taken while mirroring
    assert answers == {(OLD, 200): REQUESTS}  # every answer came from the primary
    assert copies.get("shop-primary") == REQUESTS
    # Traefik mirrors by a running count, not at random: 50% of 200 is 100, give or take the request
    # in flight when the sample started.
    assert abs(copies.get("shop", 0) - REQUESTS // 2) <= 2, copies

    done = wait_for_phase(cluster, namespace, "shop", "Succeeded", "Failed", timeout=120)
    assert done["status"]["phase"] == "Succeeded", events(cluster, namespace, "shop")
    wait_for_split(traefik, host, {NEW: 100})
    assert not mirrored(traefik, namespace)
