"""A Canary whose target does not exist is reported as Ready=False/InvalidSpec with a Warning event
naming spec.targetRef, and recovers by itself once the Deployment appears."""

from __future__ import annotations

import time

from tests.conftest import Cluster
from tests.operator.conftest import Controller, apply, canary, deployment, events, get_canary, wait_for_phase


def test_missing_target_is_reported_then_recovers(
    cluster: Cluster, namespace: str, controller: Controller
) -> None:
    apply(cluster, namespace, canary("ghost", {"stepWeight": 50}, provider="kubernetes"))
    deadline = time.monotonic() + 30
    ready: dict[str, str] = {}
    while time.monotonic() < deadline:
        conditions = get_canary(cluster, namespace, "ghost").get("status", {}).get("conditions") or []
        ready = next((c for c in conditions if c["type"] == "Ready"), {})
        if ready:
            break
        time.sleep(0.2)
    assert ready["status"] == "False"
    assert ready["reason"] == "InvalidSpec"
    assert "spec.targetRef" in ready["message"]
    assert ("Warning", "InvalidSpec") in [(t, r) for t, r, _ in events(cluster, namespace, "ghost")]

    apply(cluster, namespace, deployment("ghost", "example.invalid/ghost:1"))
    body = wait_for_phase(cluster, namespace, "ghost", "Initialized", timeout=60)
    ready_now = next(c for c in body["status"]["conditions"] if c["type"] == "Ready")
    assert ready_now["status"] == "True"
