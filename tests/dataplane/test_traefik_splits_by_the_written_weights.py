"""Through a real Traefik (Gateway API provider), the split of real requests between the primary's and
the canary's stand-in Pods matches, at every weight step, the HTTPRoute weights the controller wrote.

The controller walks a gatewayapi canary through 20, 40 and 60 percent.  A confirm-traffic-increase
gate and a confirm-promotion gate (one-shot tokens, answered by the test) hold each step until the
test has measured it: once Traefik's API shows the step's weights applied, 200 requests are sent
through Traefik and counted by the image of the Pod that answered.  Traefik's weighted round robin
is deterministic, so the count must equal the weight's share of the requests (within one request: a
window of 200 may start mid-cycle).  Before the release and after the promotion every request goes
to the primary.
"""

from __future__ import annotations

import threading
from typing import Any

from controlplane.hooks import HookServer
from controlplane.standins import StandIns
from controlplane.traefik import LocalTraefik
from tests.conftest import Cluster
from tests.dataplane.conftest import host_for, send_between_reloads, wait_for_applied, wait_for_split
from tests.operator.conftest import Controller, apply, canary, deployment, set_image, wait_for_phase

REQUESTS = 200
OLD, NEW = "example.invalid/web:1", "example.invalid/web:2"


class Gate:
    """confirm-traffic-increase: 200 once per token, 403 (wait) otherwise."""

    def __init__(self, hooks: HookServer) -> None:
        self.tokens = 0
        self.lock = threading.Lock()
        hooks.answer_with("/gate", self._answer)

    def _answer(self, body: dict[str, Any]) -> tuple[int, str]:
        with self.lock:
            if self.tokens > 0:
                self.tokens -= 1
                return 200, "go on"
        return 403, "the test is measuring this step"

    def open_once(self) -> None:
        with self.lock:
            self.tokens += 1


def test_the_split_through_traefik_matches_every_weight_step(
    cluster: Cluster,
    namespace: str,
    traefik: LocalTraefik,
    gateway: str,
    standins: StandIns,
    controller: Controller,
) -> None:
    host = host_for(namespace)
    hooks = HookServer()
    gate = Gate(hooks)
    try:
        analysis = {
            "stepWeight": 20,
            "maxWeight": 60,
            "webhooks": [
                {"name": "step", "type": "confirm-traffic-increase", "url": f"{hooks.url}/gate"},
                {"name": "promote", "type": "confirm-promotion", "url": f"{hooks.url}/gate"},
            ],
        }
        service = {"port": 9898, "targetPort": "http", "gatewayRefs": [{"name": gateway}], "hosts": [host]}
        apply(
            cluster,
            namespace,
            deployment("web", OLD),
            canary("web", analysis, provider="gatewayapi", service=service),
        )
        wait_for_phase(cluster, namespace, "web", "Initialized", timeout=60)
        wait_for_split(traefik, host, {OLD: 100})
        measured: list[tuple[tuple[int, int], dict[tuple[str, int], int]]] = []
        measured.append(((100, 0), dict(send_between_reloads(traefik, host, REQUESTS))))

        set_image(cluster, namespace, "web", NEW)
        for weight in (20, 40, 60):
            gate.open_once()
            wait_for_applied(traefik, namespace, "web", (100 - weight, weight), timeout=60)
            measured.append(((100 - weight, weight), dict(send_between_reloads(traefik, host, REQUESTS))))
        gate.open_once()  # the promotion
        done = wait_for_phase(cluster, namespace, "web", "Succeeded", "Failed", timeout=120)
        assert done["status"]["phase"] == "Succeeded"
        wait_for_split(traefik, host, {NEW: 100})
        measured.append(((100, 0), dict(send_between_reloads(traefik, host, REQUESTS))))
    finally:
        hooks.close()

    print(f"\nweights written -> requests served by image (of {REQUESTS}):")
    for (primary, canary_weight), counts in measured:
        print(f"  {primary}/{canary_weight}: {counts}")
    for i, ((primary, canary_weight), counts) in enumerate(measured):
        assert sum(counts.values()) == REQUESTS
        assert all(status == 200 for _, status in counts), (i, counts, standins.history)  # all answered
        primary_image = NEW if i == len(measured) - 1 else OLD
        expected_canary = REQUESTS * canary_weight // 100
        served_canary = counts.get((NEW, 200), 0) if i not in (0, len(measured) - 1) else 0
        served_primary = counts.get((primary_image, 200), 0)
        assert abs(served_canary - expected_canary) <= 1, (primary, canary_weight, counts)
        assert served_primary + served_canary == REQUESTS, counts
