"""A controller killed (SIGKILL) in the middle of a rollout and started again continues from the
Canary's status: the HTTPRoute walks every weight exactly once, none repeated, none skipped."""

from __future__ import annotations

import time

from tests.conftest import Cluster
from tests.operator.conftest import (
    Controller,
    apply,
    deployment,
    gateway_canary,
    get_canary,
    record_httproute,
    set_image,
    wait_for_phase,
    wait_for_weight,
)


def test_restart_in_the_middle_of_a_rollout_neither_repeats_nor_skips_a_step(
    cluster: Cluster, namespace: str, controller: Controller
) -> None:
    spec = gateway_canary("web", {"stepWeight": 20, "interval": "2s"})
    apply(cluster, namespace, deployment("web", "example.invalid/web:1"), spec)
    wait_for_phase(cluster, namespace, "web", "Initialized", timeout=60)
    recorder = record_httproute(cluster, namespace, "web")
    set_image(cluster, namespace, "web", "example.invalid/web:2")

    wait_for_weight(cluster, namespace, "web", 40)
    controller.kill()
    time.sleep(3)  # longer than an interval: the rollout is frozen while nobody drives it
    frozen = get_canary(cluster, namespace, "web")["status"]["canaryWeight"]
    assert frozen == 40
    controller.start()

    done = wait_for_phase(cluster, namespace, "web", "Succeeded", "Failed", timeout=90)
    assert done["status"]["phase"] == "Succeeded"
    assert recorder.stop() == [(100, 0), (80, 20), (60, 40), (40, 60), (20, 80), (0, 100), (100, 0)]
