"""Session affinity with the gatewayapi router: while the canary has traffic, the HTTPRoute pins a
client to the side that first served it (Set-Cookie on the backend, a Cookie-matching rule to that
side); once promoted the pinning rules are gone; the next revision gets a new cookie and expires the
old one."""

from __future__ import annotations

import re
import time
from typing import Any

from kubernetes import client

from tests.conftest import Cluster
from tests.operator.conftest import (
    Controller,
    Recorder,
    apply,
    deployment,
    gateway_canary,
    get_canary,
    set_image,
    wait_for_phase,
)

AFFINITY = {"cookieName": "canary-pin", "primaryCookieName": "primary-pin", "maxAge": 120, "path": "/"}


def rules_of(route: dict[str, Any]) -> list[dict[str, Any]]:
    return list(route.get("spec", {}).get("rules") or [])


def cookie_rules(route: dict[str, Any]) -> dict[str, tuple[int, int, str]]:
    """Cookie regex -> (primary weight, canary weight, the response filters' Set-Cookie or "")."""
    out = {}
    for rule in rules_of(route):
        for match in rule.get("matches") or []:
            for header in match.get("headers") or []:
                if header["name"] == "Cookie":
                    weights = [b["weight"] for b in rule["backendRefs"]]
                    expiring = [
                        h["value"]
                        for f in rule.get("filters") or []
                        if f["type"] == "ResponseHeaderModifier"
                        for h in f["responseHeaderModifier"]["add"]
                    ]
                    out[header["value"]] = (weights[0], weights[1], "".join(expiring))
    return out


def test_gateway_api_session_affinity(cluster: Cluster, namespace: str, controller: Controller) -> None:
    spec = gateway_canary("web", {"stepWeight": 50, "maxWeight": 50, "sessionAffinity": AFFINITY})
    apply(cluster, namespace, deployment("web", "example.invalid/web:1"), spec)
    wait_for_phase(cluster, namespace, "web", "Initialized", timeout=60)
    custom = client.CustomObjectsApi(cluster.api)
    recorder = Recorder(
        custom.list_namespaced_custom_object,
        lambda body: body,
        group="gateway.networking.k8s.io",
        version="v1",
        namespace=namespace,
        plural="httproutes",
    )
    set_image(cluster, namespace, "web", "example.invalid/web:2")
    first = wait_for_phase(cluster, namespace, "web", "Succeeded", "Failed", timeout=120)
    routes = recorder.stop()
    assert first["status"]["phase"] == "Succeeded"
    cookie = first["status"]["sessionAffinityCookie"]
    name, value = cookie.split("=", 1)
    assert name == "canary-pin"
    assert value

    # While the canary had 50%: the weighted rule sets the cookies, cookie rules pin each side.
    pinned = [r for r in routes if cookie_rules(r)]
    assert pinned, "no HTTPRoute version ever pinned a session"
    route = pinned[-1]
    weighted = rules_of(route)[0]
    assert [b["weight"] for b in weighted["backendRefs"]] == [50, 50]
    set_cookies = {
        b["name"]: b["filters"][0]["responseHeaderModifier"]["add"][0]["value"]
        for b in weighted["backendRefs"]
    }
    assert set_cookies["web-canary"] == f"{cookie}; Max-Age=120; Path=/"
    assert set_cookies["web-primary"].startswith("primary-pin=")
    regexes = cookie_rules(route)
    canary_regex = next(r for r, (p, c, _) in regexes.items() if (p, c) == (0, 100))
    assert re.fullmatch(canary_regex, f"a=1; {cookie}; b=2")
    assert not re.fullmatch(canary_regex, f"a=1; {cookie}x")
    assert any(
        (p, c) == (100, 0) and re.fullmatch(r, "primary-pin=" + value) for r, (p, c, _) in regexes.items()
    )

    # Promoted: everything on the primary, no pinning left.
    final = custom.get_namespaced_custom_object(
        "gateway.networking.k8s.io", "v1", namespace, "httproutes", "web"
    )
    assert len(rules_of(final)) == 1
    assert cookie_rules(final) == {}

    # The next revision: a new cookie, and the old one is sent to the primary and expired.
    set_image(cluster, namespace, "web", "example.invalid/web:3")
    deadline = time.monotonic() + 60
    while True:
        status = get_canary(cluster, namespace, "web")["status"]
        route = custom.get_namespaced_custom_object(
            "gateway.networking.k8s.io", "v1", namespace, "httproutes", "web"
        )
        if status.get("canaryWeight", 0) > 0 and cookie_rules(route):
            break
        assert time.monotonic() < deadline, f"the second revision never got canary traffic: {status}"
        time.sleep(0.1)
    assert status["sessionAffinityCookie"] != cookie
    assert status["previousSessionAffinityCookie"] == cookie
    stale = [(p, c, expiry) for r, (p, c, expiry) in cookie_rules(route).items() if re.fullmatch(r, cookie)]
    assert stale == [(100, 0, "canary-pin=; Max-Age=0")]
