"""A new revision starts from a watch, not at the next tick: with a one-hour analysis interval, a
changed Deployment still moves the Canary to Progressing (only a watch can explain that; how fast it
reacts is measured in bench/, not asserted here), while no analysis step runs before the interval."""

from __future__ import annotations

from tests.conftest import Cluster
from tests.operator.conftest import (
    Controller,
    apply,
    canary,
    deployment,
    get_canary,
    set_image,
    wait_for_phase,
)


def test_new_revision_starts_from_a_watch(cluster: Cluster, namespace: str, controller: Controller) -> None:
    apply(
        cluster,
        namespace,
        deployment("web", "example.invalid/web:1"),
        canary("web", {"stepWeight": 50, "interval": "1h"}, provider="kubernetes"),
    )
    wait_for_phase(cluster, namespace, "web", "Initialized", timeout=60)
    set_image(cluster, namespace, "web", "example.invalid/web:2")
    wait_for_phase(cluster, namespace, "web", "Progressing", timeout=60)
    # The interval has not elapsed: the canary is scaled up but no analysis step has run.
    status = get_canary(cluster, namespace, "web")["status"]
    assert status["canaryWeight"] == 0
    assert status["iterations"] == 0


def test_config_change_starts_from_a_watch(cluster: Cluster, namespace: str, controller: Controller) -> None:
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"COLOR": "blue"}}
    apply(
        cluster,
        namespace,
        config,
        deployment("app", "example.invalid/app:1", env_from_configmap="cfg"),
        canary("app", {"stepWeight": 50, "interval": "1h"}, provider="kubernetes"),
    )
    initialized = wait_for_phase(cluster, namespace, "app", "Initialized", timeout=60)
    assert initialized["status"]["trackedConfigs"].keys() == {"configmap/cfg"}
    apply(cluster, namespace, {**config, "data": {"COLOR": "green"}})
    wait_for_phase(cluster, namespace, "app", "Progressing", timeout=60)
