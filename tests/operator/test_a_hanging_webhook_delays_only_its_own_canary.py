"""Canaries whose rollout webhook hangs until its timeout do not hold the workers of the others: with
two workers and three hanging canaries, a fourth canary whose hook answers goes through its whole
rollout while each hanging one has made only its first few calls (each lasting its 4 s timeout).
Without the slow pool, the answering canary would get a worker only between those calls, and each
hanging canary would make a call for every one of its ticks."""

from __future__ import annotations

from pathlib import Path

from controlplane.hooks import HookServer
from tests.conftest import Cluster
from tests.operator.conftest import Controller, apply, canary, deployment, set_image, wait_for_phase

HANGING = ("slow-a", "slow-b", "slow-c")


def spec(name: str, url: str) -> dict[str, object]:
    hook = {"name": "smoke", "type": "rollout", "url": url, "timeout": "4s"}
    return canary(name, {"iterations": 4, "threshold": 100, "webhooks": [hook]}, provider="kubernetes")


def test_a_hanging_webhook_delays_only_its_own_canary(
    cluster: Cluster, namespace: str, crds: None, tmp_path: Path, hooks: HookServer
) -> None:
    hooks.answer("/ok", 200, "fine")
    hooks.answer("/hang", 200, "late")
    hooks.hold("/hang")  # answers only after the controller gave up (4 s)
    extra = ("--workers", "2", "--slow-tick-seconds", "1")
    ctl = Controller(cluster, namespace, tmp_path / "controller.log", extra=extra)
    ctl.start()
    try:
        names = (*HANGING, "quick")
        for name in names:
            url = f"{hooks.url}/ok" if name == "quick" else f"{hooks.url}/hang"
            apply(cluster, namespace, deployment(name, f"example.invalid/{name}:1"), spec(name, url))
        for name in names:
            wait_for_phase(cluster, namespace, name, "Initialized", timeout=60)
        for name in names:
            set_image(cluster, namespace, name, f"example.invalid/{name}:2")
        wait_for_phase(cluster, namespace, "quick", "Succeeded", timeout=120)
        calls = {name: sum(1 for c in hooks.to("/hang") if c.body.get("name") == name) for name in HANGING}
    finally:
        hooks.release("/hang")
        ctl.stop()
    assert len(hooks.to("/ok")) >= 4  # the quick one was analysed at every iteration
    # Five analysed ticks of the quick one went by while each hanging one made at most three calls.
    assert all(n <= 3 for n in calls.values()), calls
