"""A controller killed (SIGKILL) in the middle of a rollout and started again continues from the
Canary's status: the HTTPRoute walks every weight exactly once, none repeated, none skipped."""

from __future__ import annotations

import time

from kubernetes import client

from tests.conftest import Cluster
from tests.operator.conftest import (
    Controller,
    Recorder,
    apply,
    canary,
    deployment,
    get_canary,
    set_image,
    wait_for_phase,
)
from tests.operator.test_gatewayapi_canary_rollout import weights


def test_restart_in_the_middle_of_a_rollout_neither_repeats_nor_skips_a_step(
    cluster: Cluster, namespace: str, controller: Controller
) -> None:
    spec = canary(
        "web",
        {"stepWeight": 20, "interval": "2s"},
        provider="gatewayapi",
        service={"port": 9898, "gatewayRefs": [{"name": "gw"}]},
    )
    apply(cluster, namespace, deployment("web", "example.invalid/web:1"), spec)
    wait_for_phase(cluster, namespace, "web", "Initialized", timeout=60)
    recorder = Recorder(
        client.CustomObjectsApi(cluster.api).list_namespaced_custom_object,
        weights,
        group="gateway.networking.k8s.io",
        version="v1",
        namespace=namespace,
        plural="httproutes",
    )
    set_image(cluster, namespace, "web", "example.invalid/web:2")

    deadline = time.monotonic() + 60
    while get_canary(cluster, namespace, "web").get("status", {}).get("canaryWeight", 0) < 40:
        assert time.monotonic() < deadline, "the rollout never reached 40%"
        time.sleep(0.1)
    controller.kill()
    time.sleep(3)  # longer than an interval: the rollout is frozen while nobody drives it
    frozen = get_canary(cluster, namespace, "web")["status"]["canaryWeight"]
    assert frozen == 40
    controller.start()

    done = wait_for_phase(cluster, namespace, "web", "Succeeded", "Failed", timeout=90)
    assert done["status"]["phase"] == "Succeeded"
    assert recorder.stop() == [(100, 0), (80, 20), (60, 40), (40, 60), (20, 80), (0, 100), (100, 0)]
