"""Changing only a ConfigMap the target uses starts a new revision; the primary gets its own copy of
the ConfigMap, updated on promotion (so the change reaches the primary only after analysis)."""

from __future__ import annotations

from kubernetes import client

from tests.conftest import Cluster
from tests.operator.conftest import Controller, apply, canary, deployment, wait_for_phase


def test_configmap_change_alone_starts_a_new_revision(
    cluster: Cluster, namespace: str, controller: Controller
) -> None:
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"COLOR": "blue"}}
    apply(
        cluster,
        namespace,
        config,
        deployment("app", "example.invalid/app:1", env_from_configmap="cfg"),
        canary("app", {"stepWeight": 50}, provider="kubernetes"),
    )
    initialized = wait_for_phase(cluster, namespace, "app", "Initialized", timeout=60)
    assert initialized["status"]["trackedConfigs"].keys() == {"configmap/cfg"}
    core = client.CoreV1Api(cluster.api)
    apps = client.AppsV1Api(cluster.api)
    assert core.read_namespaced_config_map("cfg-primary", namespace).data == {"COLOR": "blue"}
    primary = apps.read_namespaced_deployment("app-primary", namespace)
    assert primary.spec.template.spec.containers[0].env_from[0].config_map_ref.name == "cfg-primary"
    first = initialized["status"]["lastPromotedSpec"]

    apply(cluster, namespace, {**config, "data": {"COLOR": "green"}})
    wait_for_phase(cluster, namespace, "app", "Progressing", timeout=30)
    assert core.read_namespaced_config_map("cfg-primary", namespace).data == {"COLOR": "blue"}
    done = wait_for_phase(cluster, namespace, "app", "Succeeded", "Failed", timeout=120)
    assert done["status"]["phase"] == "Succeeded"
    assert done["status"]["lastPromotedSpec"] != first
    assert core.read_namespaced_config_map("cfg-primary", namespace).data == {"COLOR": "green"}
