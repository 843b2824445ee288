"""The real controller and the real load tester (``python -m loadtest``) on 127.0.0.1: a pre-rollout
hook runs a load test through the load tester, a confirm-promotion gate holds the canary in
WaitingPromotion until ``/gate/open``, ``/rollback/open`` rolls a progressing canary back, and a
failing cmd task fails the next rollout check.  The controller authenticates with a token from a
Secret in the Canary's namespace (``tokenSecretRef``), which the load tester limits to it."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controlplane.hooks import HookServer
from controlplane.loadtester import LoadTester
from tests.conftest import Cluster
from tests.operator.conftest import (
    Controller,
    apply,
    deployment,
    events,
    gateway_canary,
    set_image,
    wait_for_phase,
    wait_for_weight,
)

TOKEN = "t3nant-token"


@pytest.fixture
def tester(tmp_path: Path, namespace: str) -> Iterator[LoadTester]:
    tokens = tmp_path / "tokens"
    tokens.write_text(f"{TOKEN} {namespace}\nother-token someone-else\n")
    lt = LoadTester(
        tmp_path / "loadtest.log",
        "--state",
        f"file:{tmp_path / 'gates.json'}",
        "--tokens-file",
        str(tokens),
        "--allow-cmd",
        "sh",
    ).start()
    yield lt
    lt.stop()


def token_secret() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "loadtester"},
        "data": {"token": base64.b64encode(TOKEN.encode()).decode()},
    }


def hook(tester: LoadTester, name: str, kind: str, path: str, **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": kind,
        "url": f"{tester.url}{path}",
        "timeout": "30s",
        "tokenSecretRef": {"name": "loadtester"},
        **fields,
    }


def test_a_load_test_runs_before_the_rollout_and_a_gate_holds_promotion(
    cluster: Cluster, namespace: str, controller: Controller, tester: LoadTester
) -> None:
    target = HookServer()
    target.answer("/", 200, "ok")
    load = {"type": "load", "url": f"{target.url}/", "rate": "20", "duration": "1s", "method": "POST"}
    spec = gateway_canary(
        "cart",
        {
            "stepWeight": 50,
            "webhooks": [
                hook(tester, "load-test", "pre-rollout", "/", metadata=load),
                hook(tester, "approval", "confirm-promotion", "/gate/check"),
            ],
        },
    )
    try:
        apply(cluster, namespace, token_secret(), deployment("cart", "example.invalid/cart:1"), spec)
        wait_for_phase(cluster, namespace, "cart", "Initialized", timeout=60)
        set_image(cluster, namespace, "cart", "example.invalid/cart:2")
        wait_for_phase(cluster, namespace, "cart", "WaitingPromotion", timeout=90)
        assert len(target.calls) == 20  # the pre-rollout load test ran through the load tester
        # Another tenant's token cannot open this namespace's gate; no token at all is refused.
        payload = {"name": "cart", "namespace": namespace}
        assert tester.post("/gate/open", payload, token="other-token").status_code == 403
        assert tester.post("/gate/open", payload).status_code == 401
        assert (
            wait_for_phase(cluster, namespace, "cart", "WaitingPromotion")["status"]["phase"]
            == "WaitingPromotion"
        )
        assert tester.post("/gate/open", payload, token=TOKEN).status_code == 202
        done = wait_for_phase(cluster, namespace, "cart", "Succeeded", "Failed", timeout=90)
        assert done["status"]["phase"] == "Succeeded"
        metrics = tester.get_metrics()
        assert (
            f'loadtest_load_requests_total{{canary="cart",namespace="{namespace}",status="200"}} 20.0'
            in metrics
        )
    finally:
        target.close()


def test_rollback_open_rolls_back_and_a_failing_cmd_fails_the_next_check(
    cluster: Cluster, namespace: str, controller: Controller, tester: LoadTester
) -> None:
    manual = gateway_canary(
        "till",
        {
            "stepWeight": 10,
            "maxWeight": 50,
            "webhooks": [hook(tester, "manual", "rollback", "/rollback/check")],
        },
    )
    broken = gateway_canary(
        "bin",
        {
            "stepWeight": 10,
            "maxWeight": 50,
            "threshold": 1,
            "webhooks": [
                hook(tester, "smoke", "rollout", "/", metadata={"cmd": "sh -c 'echo no route >&2; exit 7'"})
            ],
        },
    )
    apply(
        cluster,
        namespace,
        token_secret(),
        deployment("till", "example.invalid/till:1"),
        manual,
        deployment("bin", "example.invalid/bin:1"),
        broken,
    )
    for name in ("till", "bin"):
        wait_for_phase(cluster, namespace, name, "Initialized", timeout=60)
        set_image(cluster, namespace, name, f"example.invalid/{name}:2")

    failed = wait_for_phase(cluster, namespace, "bin", "Failed", "Succeeded", timeout=90)
    assert failed["status"]["phase"] == "Failed"
    messages = [m for _, reason, m in events(cluster, namespace, "bin") if reason == "RolledBack"]
    assert messages
    assert "smoke: rollout webhook failed: HTTP 500" in messages[0]
    assert "sh exited with status 7: no route" in messages[0]

    wait_for_weight(cluster, namespace, "till", 20)
    opened = tester.post("/rollback/open", {"name": "till", "namespace": namespace}, token=TOKEN)
    assert opened.status_code == 202
    done = wait_for_phase(cluster, namespace, "till", "Failed", "Succeeded", timeout=60)
    assert done["status"]["phase"] == "Failed"
    assert done["status"]["canaryWeight"] == 0
    assert json.dumps(events(cluster, namespace, "till")).count("a rollback webhook asked for it") == 1
