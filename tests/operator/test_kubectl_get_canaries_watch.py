"""``kubectl get canaries -w`` prints every weight step of a rollout (the status is written once per
tick, so each step is one line), with Flagger's columns."""

from __future__ import annotations

import subprocess

from tests.conftest import VENV_BIN, Cluster
from tests.operator.conftest import (
    Controller,
    apply,
    deployment,
    gateway_canary,
    set_image,
    wait_for_phase,
)


def test_watch_shows_every_weight_step(cluster: Cluster, namespace: str, controller: Controller) -> None:
    apply(
        cluster,
        namespace,
        deployment("web", "example.invalid/web:1"),
        gateway_canary("web", {"stepWeight": 25}),
    )
    wait_for_phase(cluster, namespace, "web", "Initialized", timeout=60)
    watch = subprocess.Popen(
        [
            str(VENV_BIN / "kubectl"),
            f"--kubeconfig={cluster.kubeconfig}",
            f"--cache-dir={cluster.cache_dir}",
            "get",
            "canaries",
            "-n",
            namespace,
            "-w",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        set_image(cluster, namespace, "web", "example.invalid/web:2")
        wait_for_phase(cluster, namespace, "web", "Succeeded", "Failed", timeout=90)
    finally:
        watch.terminate()
        out, _ = watch.communicate(timeout=10)
    lines = [line.split() for line in out.splitlines()]
    assert lines[0][:4] == ["NAME", "STATUS", "WEIGHT", "LASTTRANSITIONTIME"]
    weights: list[int] = []
    for row in lines[1:]:
        w = int(row[2])
        if not weights or weights[-1] != w:
            weights.append(w)
    assert weights == [0, 25, 50, 75, 100, 0]
    assert lines[-1][1] == "Succeeded"
