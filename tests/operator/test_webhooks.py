"""The real controller calls a Canary's webhooks, served on 127.0.0.1: pre-rollout and rollout hooks
with Flagger's payload, a confirm-promotion gate holding the canary in WaitingPromotion until it
opens, a rollback hook rolling a progressing canary back, confirm-traffic-increase holding the
weight, post-rollout hooks when the run ends, and event hooks receiving every event, without a hung
event receiver delaying the rollout."""

from __future__ import annotations

import time
from typing import Any

from controlplane.hooks import HookServer
from tests.conftest import Cluster
from tests.operator.conftest import (
    Controller,
    apply,
    canary,
    deployment,
    events,
    gateway_canary,
    get_canary,
    set_image,
    wait_for_phase,
    wait_for_weight,
)


def webhook(server: HookServer, kind: str, **fields: Any) -> dict[str, Any]:
    return {"name": kind, "type": kind, "url": f"{server.url}/{kind}", "timeout": "5s", **fields}


def test_gates_and_hooks_drive_a_rollout(
    cluster: Cluster, namespace: str, controller: Controller, hooks: HookServer
) -> None:
    for path in ("/pre-rollout", "/rollout", "/post-rollout", "/event"):
        hooks.answer(path, 200)
    hooks.answer("/confirm-promotion", 403, "Forbidden: waiting for the release manager")
    hooks.hold("/event")  # a receiver that never answers until the end of the test
    spec = gateway_canary(
        "cart",
        {
            "stepWeight": 50,
            "threshold": 2,
            "webhooks": [
                webhook(hooks, "pre-rollout", metadata={"type": "cmd", "cmd": "hey -z 1m http://cart"}),
                webhook(hooks, "rollout"),
                webhook(hooks, "confirm-promotion"),
                webhook(hooks, "post-rollout"),
                webhook(hooks, "event", timeout="60s"),
            ],
        },
    )
    apply(cluster, namespace, deployment("cart", "example.invalid/cart:1"), spec)
    wait_for_phase(cluster, namespace, "cart", "Initialized", timeout=60)
    set_image(cluster, namespace, "cart", "example.invalid/cart:2")

    held = wait_for_phase(cluster, namespace, "cart", "WaitingPromotion", timeout=90)
    (pre,) = hooks.to("/pre-rollout")
    assert pre.body["name"] == "cart"
    assert pre.body["namespace"] == namespace
    assert pre.body["phase"] == "Progressing"
    assert pre.body["metadata"] == {"type": "cmd", "cmd": "hey -z 1m http://cart"}
    assert pre.body["checksum"] == held["status"]["lastAppliedSpec"]
    assert len(hooks.to("/rollout")) >= 1
    # The gate holds: several more checks, still waiting, and the answer is in the event.
    calls = len(hooks.wait_for("/confirm-promotion", 3))
    assert get_canary(cluster, namespace, "cart")["status"]["phase"] == "WaitingPromotion"
    waiting = [m for _, reason, m in events(cluster, namespace, "cart") if reason == "WaitingPromotion"]
    assert waiting
    assert "HTTP 403: Forbidden: waiting for the release manager" in waiting[0]

    hooks.answer("/confirm-promotion", 200, "Approved")
    done = wait_for_phase(cluster, namespace, "cart", "Succeeded", "Failed", timeout=90)
    assert done["status"]["phase"] == "Succeeded"
    assert len(hooks.to("/confirm-promotion")) > calls
    (post,) = hooks.wait_for("/post-rollout", 1)
    assert post.body["phase"] == "Succeeded"
    # Its outcome becomes an event once the hook has answered.
    deadline = time.monotonic() + 30
    while not (seen := [e for e in events(cluster, namespace, "cart") if e[1] == "PostRollout"]):
        assert time.monotonic() < deadline, "no PostRollout event"
        time.sleep(0.2)
    assert seen == [("Normal", "PostRollout", "Post-rollout webhook post-rollout passed")]

    # All that happened while the event receiver hung on its first call.  Released, it gets the rest,
    # in order.
    assert len(hooks.to("/event")) == 1
    hooks.release("/event")
    promoted = hooks.wait_until("/event", lambda c: c.body["metadata"]["eventReason"] == "Promoted").body
    reasons = [c.body["metadata"]["eventReason"] for c in hooks.to("/event")]
    assert reasons.index("NewRevision") < reasons.index("WaitingPromotion") < reasons.index("Promoted")
    assert promoted["metadata"]["eventType"] == "Normal"
    assert promoted["metadata"]["eventMessage"].startswith("Promotion completed")
    assert int(promoted["metadata"]["timestamp"]) > 1_700_000_000_000


def test_a_rollback_hook_rolls_a_progressing_canary_back(
    cluster: Cluster, namespace: str, controller: Controller, hooks: HookServer
) -> None:
    hooks.answer("/rollback", 403, "not now")
    hooks.answer("/confirm-traffic-increase", 200)
    spec = gateway_canary(
        "till",
        {
            "stepWeight": 10,
            "maxWeight": 50,
            "webhooks": [
                # Credentials in a URL never reach the log or the events.
                webhook(hooks, "rollback", url=f"{hooks.url}/rollback?token=s3cr3t-t0ken"),
                webhook(hooks, "confirm-traffic-increase"),
            ],
        },
    )
    apply(cluster, namespace, deployment("till", "example.invalid/till:1"), spec)
    wait_for_phase(cluster, namespace, "till", "Initialized", timeout=60)
    set_image(cluster, namespace, "till", "example.invalid/till:2")
    wait_for_weight(cluster, namespace, "till", 20)
    # Closing the traffic gate holds the weight without failing any check.
    hooks.answer("/confirm-traffic-increase", 403, "hold")
    calls = len(hooks.to("/confirm-traffic-increase"))
    hooks.wait_for("/confirm-traffic-increase", calls + 3)
    status = get_canary(cluster, namespace, "till")["status"]
    weight = status["canaryWeight"]
    hooks.wait_for("/confirm-traffic-increase", calls + 5)
    status = get_canary(cluster, namespace, "till")["status"]
    assert status["canaryWeight"] == weight
    assert status["failedChecks"] == 0
    assert status["phase"] == "Progressing"

    hooks.answer("/rollback", 200, "rolling back: on-call said so")
    done = wait_for_phase(cluster, namespace, "till", "Failed", "Succeeded", timeout=60)
    assert done["status"]["phase"] == "Failed"
    assert done["status"]["canaryWeight"] == 0
    assert any(
        reason == "RolledBack" and "a rollback webhook asked for it" in message
        for _, reason, message in events(cluster, namespace, "till")
    )
    assert all(c.body["phase"] in ("Progressing", "WaitingPromotion") for c in hooks.to("/rollback"))
    controller.stop()
    assert "s3cr3t-t0ken" not in controller.log.read_text()
    assert not any("s3cr3t-t0ken" in message for *_, message in events(cluster, namespace, "till"))


def test_the_global_event_webhook_gets_events_of_canaries_without_their_own(
    cluster: Cluster, namespace: str, crds: None, tmp_path: Any, hooks: HookServer
) -> None:
    hooks.answer("/all-events", 202)
    hooks.answer("/own-events", 200)
    extra = ("--event-webhook", f"{hooks.url}/all-events")
    ctl = Controller(cluster, namespace, tmp_path / "controller.log", extra=extra)
    ctl.start()
    try:
        own = canary(
            "safe", {"iterations": 1, "webhooks": [webhook(hooks, "event", url=f"{hooks.url}/own-events")]}
        )
        apply(
            cluster,
            namespace,
            deployment("bank", "example.invalid/bank:1"),
            canary("bank", {"iterations": 1}),
            deployment("safe", "example.invalid/safe:1"),
            own,
        )
        for name, path in (("bank", "/all-events"), ("safe", "/own-events")):
            wait_for_phase(cluster, namespace, name, "Initialized", timeout=60)
            hooks.wait_until(
                path,
                lambda c, n=name: (c.body["name"], c.body["metadata"]["eventReason"]) == (n, "Initialized"),
            )
    finally:
        ctl.stop()
    for name, path in (("bank", "/all-events"), ("safe", "/own-events")):
        calls = hooks.to(path)
        assert {c.body["name"] for c in calls} == {name}
        assert all(c.body["namespace"] == namespace for c in calls)
        assert calls[0].body["metadata"]["eventReason"] == "Initializing"
