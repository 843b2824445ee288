"""The real controller notifies AlertProviders on 127.0.0.1: a Slack provider whose address comes from
a Secret takes everything from info up, a generic webhook provider only errors; a canary whose
rollout hook fails is rolled back and both get the error, naming the canary, phase, weight and the
failed check, while a missing provider is logged without stopping anything."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest

from controlplane.hooks import HookServer
from tests.conftest import Cluster
from tests.operator.conftest import Controller, apply, deployment, gateway_canary, set_image, wait_for_phase


@pytest.fixture
def receiver() -> Iterator[HookServer]:
    server = HookServer()
    yield server
    server.close()


def provider(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "canary.dev/v1alpha1",
        "kind": "AlertProvider",
        "metadata": {"name": name},
        "spec": spec,
    }


def test_alerts_reach_their_providers_by_severity(
    cluster: Cluster, namespace: str, controller: Controller, receiver: HookServer
) -> None:
    receiver.answer("/slack", 200, "ok")
    receiver.answer("/errors", 202)
    receiver.answer("/smoke", 500, "smoke test: 3 of 10 requests failed")
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "slack-url"},
        "data": {"address": base64.b64encode(f"{receiver.url}/slack".encode()).decode()},
    }
    spec = gateway_canary(
        "cart",
        {
            "stepWeight": 50,
            "threshold": 1,
            "webhooks": [{"name": "smoke", "type": "rollout", "url": f"{receiver.url}/smoke"}],
            "alerts": [
                {"name": "team", "providerRef": {"name": "slack"}},
                {"name": "oncall", "severity": "error", "providerRef": {"name": "pager"}},
                {"name": "gone", "severity": "error", "providerRef": {"name": "missing"}},
            ],
        },
    )
    apply(
        cluster,
        namespace,
        secret,
        provider("slack", {"type": "slack", "channel": "releases", "secretRef": {"name": "slack-url"}}),
        provider("pager", {"type": "webhook", "address": f"{receiver.url}/errors"}),
        deployment("cart", "example.invalid/cart:1"),
        spec,
    )
    wait_for_phase(cluster, namespace, "cart", "Initialized", timeout=60)
    set_image(cluster, namespace, "cart", "example.invalid/cart:2")
    wait_for_phase(cluster, namespace, "cart", "Failed", "Succeeded", timeout=90)

    error = receiver.wait_until("/errors", lambda c: c.body.get("severity") == "error").body
    assert error["canary"] == {"name": "cart", "namespace": namespace}
    assert error["phase"] == "Failed"
    assert error["weight"] == 0
    assert error["reason"] == "RolledBack"
    assert "smoke: rollout webhook failed: HTTP 500: smoke test: 3 of 10 requests failed" in error["message"]
    assert all(c.body["severity"] == "error" for c in receiver.to("/errors"))  # nothing below error

    slack = receiver.wait_until("/slack", lambda c: c.body["attachments"][0]["color"] == "danger").body
    assert slack["channel"] == "releases"
    assert "smoke test: 3 of 10 requests failed" in slack["attachments"][0]["text"]
    titles = [c.body["attachments"][0]["title"] for c in receiver.to("/slack")]
    assert f"cart.{namespace}: Initialized" in titles
    assert f"cart.{namespace}: NewRevision" in titles
    controller.stop()
    log = controller.log.read_text()
    assert f"AlertProvider {namespace}/missing not found" in log
    assert receiver.url not in log  # addresses (they can hold tokens) are never logged
