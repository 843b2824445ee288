"""``canary get canaries`` and ``canary get canary NAME --watch`` against the real controller: the list
names each canary with its phase, and the watched view is redrawn from a watch as the rollout moves
(one view after another when the output is not a terminal)."""

from __future__ import annotations

import os
import subprocess

from tests.conftest import Cluster
from tests.operator.conftest import Controller, apply, deployment, gateway_canary, set_image, wait_for_phase
from tests.support.cli import CANARY, cli


def test_the_list_and_a_watched_rollout(cluster: Cluster, namespace: str, controller: Controller) -> None:
    apply(
        cluster,
        namespace,
        deployment("web", "example.invalid/web:1.0.0"),
        gateway_canary("web", {"stepWeight": 50, "threshold": 2}),
    )
    wait_for_phase(cluster, namespace, "web", "Initialized", timeout=60)
    listed = subprocess.run(
        [CANARY, "get", "canaries", "-n", namespace],
        env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    row = next(line.split() for line in listed.stdout.splitlines() if " web " in f" {line} ")
    assert row[:4] == [namespace, "web", "Initialized", "0%"]

    watcher = subprocess.Popen(
        [CANARY, "get", "canary", "web", "-n", namespace, "--watch", "--timeout", "40"],
        env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        set_image(cluster, namespace, "web", "example.invalid/web:1.1.0")
        wait_for_phase(cluster, namespace, "web", "Succeeded", timeout=90)
        out, err = watcher.communicate(timeout=60)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.communicate()
    assert watcher.returncode == 0, err
    views = out.split("\n---\n")
    assert len(views) > 3
    phases = [next(line.split()[1] for line in v.splitlines() if line.startswith("Phase")) for v in views]
    assert "Progressing" in phases  # the first view may already be it: the watcher starts as CI does
    assert phases[-1] == "Succeeded"
    weights = {line.split()[-1] for v in views for line in v.splitlines() if line.startswith("Canary weight")}
    assert "50%" in weights
    assert "Promoted" in views[-1]  # its events

    missing = cli(cluster, namespace, "get", "canary", "nope")
    assert missing.returncode == 1
    assert f"Canary {namespace}/nope not found" in missing.stderr
