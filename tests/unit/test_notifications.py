"""Notifications: severity routing (an alert takes what is at least as severe as its severity; empty
means info), the body each provider type expects, the address and token from a Secret, and a real
POST to a receiver on 127.0.0.1 that never shows the address in a failure."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from canary.adapters.notify import Message, Notifier, ProviderUnavailable, destination, render, wanted
from canary.core.actions import Severity
from canary.models.alert_provider import AlertProviderSpec
from controlplane.hooks import HookServer

WHEN = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
MESSAGE = Message(
    canary="cart",
    namespace="shop",
    target="cart",
    phase="Failed",
    weight=20,
    severity=Severity.ERROR,
    reason="RolledBack",
    text="Rolling back: 2 of 2 checks failed",
    time=WHEN,
    failed=(("request-success-rate", "97.2 is below the minimum 99"),),
    cluster="prod-eu",
)


def test_severity_routing() -> None:
    assert [wanted(None, s) for s in Severity] == [True, True, True]
    assert [wanted("", s) for s in Severity] == [True, True, True]  # Flagger's code sends nothing here
    assert [wanted("warn", s) for s in Severity] == [False, True, True]
    assert [wanted("error", s) for s in Severity] == [False, False, True]


def test_each_provider_gets_its_own_shape_with_the_facts() -> None:
    slack = render("slack", MESSAGE, channel="releases", username=None)
    (attachment,) = slack["attachments"]
    assert (slack["channel"], slack["username"], attachment["color"]) == ("releases", "canary", "danger")
    fields = {f["title"]: f["value"] for f in attachment["fields"]}
    assert fields == {
        "Target": "cart.shop",
        "Phase": "Failed",
        "Weight": "20%",
        "Failed check request-success-rate": "97.2 is below the minimum 99",
        "Cluster": "prod-eu",
    }
    teams = render("msteams", MESSAGE, channel=None, username=None)
    assert teams["@type"] == "MessageCard"
    assert {"name": "Weight", "value": "20%"} in teams["sections"][0]["facts"]
    discord = render("discord", MESSAGE, channel=None, username="bot")
    assert discord["username"] == "bot"
    assert discord["embeds"][0]["color"] == 0xA30200
    generic = render("webhook", MESSAGE, channel=None, username=None)
    assert generic["severity"] == "error"
    assert generic["failedChecks"] == [
        {"name": "request-success-rate", "seen": "97.2 is below the minimum 99"}
    ]
    assert generic["canary"] == {"name": "cart", "namespace": "shop"}


@pytest.fixture
def receiver() -> Iterator[HookServer]:
    server = HookServer()
    yield server
    server.close()


def test_address_and_token_from_a_secret_and_a_real_post(receiver: HookServer) -> None:
    receiver.answer("/hooks/T0", 200, "ok")
    secret = {
        "data": {
            "address": base64.b64encode(f"{receiver.url}/hooks/T0".encode()).decode(),
            "token": base64.b64encode(b"xoxb-secret").decode(),
        }
    }
    spec = AlertProviderSpec.model_validate({"type": "slack", "secretRef": {"name": "slack"}})
    where = destination(spec, secret)
    assert "secret" not in repr(where)
    assert Notifier().send(where, MESSAGE) is None
    (call,) = receiver.to("/hooks/T0")
    assert call.headers["Authorization"] == "Bearer xoxb-secret"
    assert call.body["attachments"][0]["title"] == "cart.shop: RolledBack"
    receiver.answer("/hooks/T0", 404, "no_service")
    failure = Notifier().send(where, MESSAGE)
    assert failure == "slack: HTTP 404"
    with pytest.raises(ProviderUnavailable, match="no address"):
        destination(spec, {"data": {}})


def test_a_git_event_links_the_commit_or_pull_request_and_carries_the_evidence() -> None:
    git = {
        "kind": "revert",
        "result": "committed",
        "commit": "d50ecf0",
        "url": "https://github.com/acme/config/commit/d50ecf0",
        "evidence": "smoke: rollout webhook failed: HTTP 500",
    }
    message = dataclasses.replace(MESSAGE, reason="GitCommitted", git=git)
    facts = dict(message.facts())
    assert facts["Commit"] == "https://github.com/acme/config/commit/d50ecf0"
    assert facts["Evidence"] == "smoke: rollout webhook failed: HTTP 500"
    assert render("webhook", message, channel=None, username=None)["git"] == git
    proposed = dataclasses.replace(
        message,
        git={"kind": "revert", "result": "pullRequest", "pullRequest": "https://x/pull/7", "commit": "a"},
    )
    assert dict(proposed.facts())["Pull request"] == "https://x/pull/7"
    assert "Commit" not in dict(proposed.facts())
    bare = dataclasses.replace(message, git={"kind": "promote", "result": "committed", "commit": "abc123"})
    assert dict(bare.facts())["Commit"] == "abc123"  # no forge: the hash
    assert "git" not in render("webhook", MESSAGE, channel=None, username=None)
