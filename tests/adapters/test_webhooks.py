"""The webhook client against a real HTTP server on 127.0.0.1: any 2xx is success, a failure names the
status and (a cut of) the answer, retries and timeouts behave as configured, the payload is Flagger's,
and the dispatcher never makes its caller wait for a receiver."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from canary.adapters.webhooks import BODY_EXCERPT, Dispatcher, WebhookClient, payload
from canary.models.canary import CanaryWebhook
from controlplane.hooks import HookServer


@pytest.fixture
def server() -> Iterator[HookServer]:
    s = HookServer()
    yield s
    s.close()


def hook(url: str, **fields: Any) -> CanaryWebhook:
    return CanaryWebhook.model_validate({"name": "gate", "url": url, **fields})


def test_any_2xx_is_success_and_others_fail_with_their_answer(server: HookServer) -> None:
    client = WebhookClient()
    for status in (200, 202, 203, 204):  # Flagger fails 203 and 204
        server.answer("/gate", status)
        assert client.call(hook(f"{server.url}/gate"), {}).ok, status
    server.answer("/gate", 403, "gate\nclosed\x07 by the on-call")
    answer = client.call(hook(f"{server.url}/gate"), {})
    assert not answer.ok
    assert answer.describe() == "HTTP 403: gate closed by the on-call"
    server.answer("/gate", 500, "x" * 5000)
    long = client.call(hook(f"{server.url}/gate"), {})
    assert len(long.detail) == BODY_EXCERPT
    assert long.detail.endswith("…")


def test_retries_after_failures_then_gives_up(server: HookServer) -> None:
    answers = iter([(503, "busy"), (503, "busy"), (200, "ok")] * 2)
    server.answer_with("/flaky", lambda _body: next(answers))
    sleeps: list[float] = []
    client = WebhookClient(sleep=sleeps.append)
    assert client.call(hook(f"{server.url}/flaky", retries=2), {}).ok
    assert len(server.to("/flaky")) == 3
    assert sleeps == [0.5, 1.0]
    failed = client.call(hook(f"{server.url}/flaky", retries=1), {})  # 503, 503
    assert (failed.ok, failed.status, failed.detail) == (False, 503, "busy")
    assert len(server.to("/flaky")) == 5


def test_a_timeout_and_a_refused_connection_are_failures_without_the_url(server: HookServer) -> None:
    server.answer("/slow", 200)
    server.hold("/slow")
    client = WebhookClient()
    answer = client.call(hook(f"http://user:s3cret@{server.url[7:]}/slow?token=t0ken", timeout="200ms"), {})
    server.release("/slow")
    assert (answer.ok, answer.status) == (False, None)
    assert answer.detail == "timed out after 0.2s"
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    refused = client.call(hook(f"http://user:s3cret@127.0.0.1:{port}/x?token=t0ken"), {})
    assert not refused.ok
    assert refused.detail.startswith("ConnectError")
    for text in (answer.describe(), refused.describe()):
        assert "s3cret" not in text
        assert "t0ken" not in text


def test_payload_is_flaggers_and_event_fields_win_over_metadata(server: HookServer) -> None:
    server.answer("/events", 200)
    when = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    body = payload(
        "shop",
        "prod",
        "Progressing",
        "abc123",
        {"eventType": "forged", "team": "checkout"},
        event=("Canary weight 0% -> 10%", "Normal", "WeightIncreased", when),
    )
    assert WebhookClient().call(hook(f"{server.url}/events"), body).ok
    (call,) = server.to("/events")
    assert call.headers["Content-Type"] == "application/json"
    assert call.body == {
        "name": "shop",
        "namespace": "prod",
        "phase": "Progressing",
        "checksum": "abc123",
        "metadata": {
            "team": "checkout",
            "eventMessage": "Canary weight 0% -> 10%",
            "eventType": "Normal",
            "eventReason": "WeightIncreased",
            "timestamp": str(int(when.timestamp() * 1000)),
        },
    }
    assert "metadata" not in payload("shop", "prod", "Progressing", "abc123")


def test_a_hung_receiver_holds_up_only_its_own_lane(server: HookServer) -> None:
    server.answer("/hung", 200)
    server.answer("/fine", 200)
    server.hold("/hung")
    client, dispatcher = WebhookClient(), Dispatcher(workers=2, capacity=2)
    hung, fine = hook(f"{server.url}/hung", timeout="60s"), hook(f"{server.url}/fine")

    def send(target: CanaryWebhook, n: int) -> bool:
        return dispatcher.submit(target.url, f"call {n}", lambda: client.call(target, {"n": n}))

    # The first call to /hung is taken and hangs; two more wait in its lane; the fourth is dropped.
    assert send(hung, 0)
    server.wait_for("/hung", 1)
    assert [send(hung, n) for n in (1, 2, 3)] == [True, True, False]
    assert dispatcher.dropped == 1
    # Another receiver is served meanwhile, in order, while /hung still hangs.
    assert all(send(fine, n) for n in range(3))
    assert [c.body["n"] for c in server.wait_for("/fine", 3)] == [0, 1, 2]
    assert len(server.to("/hung")) == 1
    server.release("/hung")
    assert dispatcher.drain(timeout=30)
    assert [c.body["n"] for c in server.to("/hung")] == [0, 1, 2]
    dispatcher.close()
