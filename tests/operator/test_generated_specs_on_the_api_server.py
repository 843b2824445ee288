"""Five hundred and twenty generated Canaries (tests/support/specgen.py) applied to the real API
server while the controller runs: the API server refuses some with a message naming the field, and
the controller takes every one it admits without crashing.  Each admitted Canary is reported (a Ready
condition; when False, its message names the field, or the kind and the verb), no tick fails on user
input, no worker is left stuck (a valid Canary created afterwards initializes), and every one of them
can be deleted."""

from __future__ import annotations

import json
import time
from typing import Any

from kubernetes import client

from tests.conftest import Cluster
from tests.operator.conftest import Controller, apply, canary, deployment, wait_for_phase
from tests.support.specgen import generated
from tests.support.waiting import wait_for

N = 520


def ready_of(body: dict[str, Any]) -> dict[str, Any] | None:
    conditions = (body.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == "Ready"), None)


def test_generated_canaries_are_refused_by_field_or_taken_without_a_crash(
    cluster: Cluster, namespace: str, controller: Controller
) -> None:
    custom = client.CustomObjectsApi(cluster.api)
    created: list[str] = []
    refusals: list[str] = []
    for i, (spec, _changes) in enumerate(generated(N, seed=7)):
        name = f"gen-{i}"
        if isinstance(spec.get("targetRef"), dict):
            spec["targetRef"]["name"] = name  # a target of its own: canaries never share one
        if i % 10 == 0:
            apply(cluster, namespace, deployment(name, "example.invalid/app:1", replicas=1))
        body = {
            "apiVersion": "canary.dev/v1alpha1",
            "kind": "Canary",
            "metadata": {"name": name},
            "spec": spec,
        }
        try:
            custom.create_namespaced_custom_object("canary.dev", "v1alpha1", namespace, "canaries", body)
            created.append(name)
        except client.ApiException as e:
            refusals.append(f"{e.status} {json.loads(e.body)['message']}")
    assert all(r.startswith(("400 ", "422 ")) for r in refusals), [
        r for r in refusals if r[:3] not in "400 422"
    ]
    assert all("spec" in r for r in refusals), [r for r in refusals if "spec" not in r][:5]  # names the field
    assert len(created) + len(refusals) == N
    assert len(created) >= 100
    assert len(refusals) >= 100

    def reported() -> list[dict[str, Any]] | None:
        items = custom.list_namespaced_custom_object("canary.dev", "v1alpha1", namespace, "canaries")["items"]
        mine = [b for b in items if b["metadata"]["name"] in created]
        return mine if all(ready_of(b) for b in mine) else None

    bodies = wait_for("a Ready condition on every admitted Canary", reported, timeout=240)
    unnamed = []
    for body in bodies:
        ready = ready_of(body) or {}
        if ready.get("status") == "False":
            named = "spec" in (ready.get("message") or "") or ready.get("reason") in (
                "MissingKind",
                "Forbidden",
            )
            if not named:
                unnamed.append((body["metadata"]["name"], ready.get("reason"), ready.get("message")))
    assert not unnamed, unnamed[:10]

    # No worker is stuck: a valid Canary created now initializes.
    apply(
        cluster,
        namespace,
        deployment("probe", "example.invalid/probe:1"),
        canary("probe", {"stepWeight": 50}),
    )
    wait_for_phase(cluster, namespace, "probe", "Initialized", timeout=120)
    assert controller.proc is not None
    assert controller.proc.poll() is None, "the controller exited"
    log = controller.log.read_text()
    assert "tick of canary" not in log, log[log.find("tick of canary") - 200 :][:3000]
    assert "Traceback" not in log, log[log.find("Traceback") :][:3000]

    # Every one of them can be deleted (their finalizers go).
    custom.delete_collection_namespaced_custom_object("canary.dev", "v1alpha1", namespace, "canaries")
    deadline = time.monotonic() + 240
    left: list[Any] = []
    while time.monotonic() < deadline:
        left = custom.list_namespaced_custom_object("canary.dev", "v1alpha1", namespace, "canaries")["items"]
        if not left:
            break
        time.sleep(1)
    assert not left, [b["metadata"]["name"] for b in left[:10]]
