"""Two controller replicas never drive the same canary: one holds the Lease and acts, the other
only watches; when the leader dies mid-rollout, the standby takes over once the Lease expires and
continues without repeating or skipping a step.  Every event names the replica that acted, and the
acting replica changes exactly once."""

from __future__ import annotations

from itertools import groupby
from pathlib import Path

from kubernetes import client

from tests.conftest import Cluster
from tests.operator.conftest import (
    Controller,
    apply,
    deployment,
    gateway_canary,
    record_httproute,
    set_image,
    wait_for_phase,
    wait_for_weight,
)

LEASE = ("--lease-seconds", "4", "--renew-seconds", "1")


def acting_replicas(cluster: Cluster, namespace: str) -> list[str]:
    items = (
        client.CoreV1Api(cluster.api)
        .list_namespaced_event(namespace, field_selector="involvedObject.kind=Canary,involvedObject.name=web")
        .items
    )
    items.sort(key=lambda e: (e.first_timestamp, e.metadata.creation_timestamp))
    return [e.reporting_instance for e in items]


def test_two_replicas_one_leader_and_a_clean_failover(
    cluster: Cluster, namespace: str, crds: None, tmp_path: Path
) -> None:
    replicas = {
        name: Controller(cluster, namespace, tmp_path / f"{name}.log", ("--identity", name, *LEASE))
        for name in ("replica-a", "replica-b")
    }
    for replica in replicas.values():
        replica.start()
    try:
        spec = gateway_canary("web", {"stepWeight": 20, "interval": "2s"})
        apply(cluster, namespace, deployment("web", "example.invalid/web:1"), spec)
        wait_for_phase(cluster, namespace, "web", "Initialized", timeout=60)
        actors = set(acting_replicas(cluster, namespace))
        assert len(actors) == 1, f"both replicas acted: {actors}"
        leader = actors.pop()
        standby = next(name for name in replicas if name != leader)

        recorder = record_httproute(cluster, namespace, "web")
        set_image(cluster, namespace, "web", "example.invalid/web:2")
        wait_for_weight(cluster, namespace, "web", 40)
        replicas[leader].kill()

        done = wait_for_phase(cluster, namespace, "web", "Succeeded", "Failed", timeout=90)
        assert done["status"]["phase"] == "Succeeded"
        assert recorder.stop() == [(100, 0), (80, 20), (60, 40), (40, 60), (20, 80), (0, 100), (100, 0)]
        runs = [name for name, _ in groupby(acting_replicas(cluster, namespace))]
        assert runs == [leader, standby], f"the acting replica changed more than once: {runs}"
    finally:
        for replica in replicas.values():
            replica.stop()
