"""The fault proxy between a client and a real HTTP server: each mode does what it says, to new
connections and to a keep-alive connection already open."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from controlplane.faults import FaultProxy, Mode
from controlplane.hooks import HookServer


@pytest.fixture
def proxied() -> Iterator[tuple[HookServer, FaultProxy]]:
    hooks = HookServer()
    hooks.answer("/hook", 200, "ok")
    host, port = hooks.url.removeprefix("http://").split(":")
    proxy = FaultProxy((host, int(port)), delay=0.4).start()
    yield hooks, proxy
    proxy.stop()
    hooks.close()


def test_each_mode_on_new_connections(proxied: tuple[HookServer, FaultProxy]) -> None:
    hooks, proxy = proxied
    url = f"{proxy.url}/hook"
    assert httpx.post(url, json={}, timeout=2).text == "ok"

    proxy.set(Mode.DOWN)
    with pytest.raises(httpx.ConnectError):
        httpx.post(url, json={}, timeout=2)

    proxy.set(Mode.HANG)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(url, json={}, timeout=0.5)

    proxy.set(Mode.RESET)
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError, httpx.ConnectError)):
        httpx.post(url, json={}, timeout=2)

    proxy.set(Mode.SLOW)
    with pytest.raises(httpx.ReadTimeout):  # each chunk of the answer 0.4 s late
        httpx.post(url, json={}, timeout=0.2)
    assert httpx.post(url, json={}, timeout=5).text == "ok"

    proxy.set(Mode.OPEN)
    assert httpx.post(url, json={}, timeout=2).text == "ok"
    assert proxy.accepted[Mode.HANG] == 1
    assert proxy.accepted[Mode.RESET] == 1
    assert proxy.accepted[Mode.SLOW] == 2
    assert len(hooks.to("/hook")) == 4  # open, slow twice, open: nothing else reached the server


def test_a_fault_reaches_a_keep_alive_connection_that_is_already_open(
    proxied: tuple[HookServer, FaultProxy],
) -> None:
    hooks, proxy = proxied
    with httpx.Client(timeout=0.5) as client:
        assert client.post(f"{proxy.url}/hook", json={}).text == "ok"
        proxy.set(Mode.HANG)
        with pytest.raises(httpx.TimeoutException):
            client.post(f"{proxy.url}/hook", json={})
        proxy.set(Mode.OPEN)
        assert client.post(f"{proxy.url}/hook", json={}).text == "ok"
        proxy.set(Mode.RESET)
        with pytest.raises(httpx.TransportError):
            client.post(f"{proxy.url}/hook", json={})
    assert len(hooks.to("/hook")) == 2
