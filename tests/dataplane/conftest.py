"""Fixtures for the data-plane tests: a real Traefik routing real requests, by the objects the
controller writes, to stand-ins bound to the Pod IPs of the real EndpointSlices.

The suite runs in the network namespace of ``controlplane/netns.sh`` (``make test`` puts it there),
where kwok's pod range is a local route; outside it these tests fail saying so, since a Pod IP could
not be bound.  One Traefik serves the session (``traefik``); each test gets its namespace's
stand-ins (``standins``) and a Gateway ``gw`` for that Traefik (``gateway``).
"""

from __future__ import annotations

import json
import shutil
import socket
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator

import pytest

from controlplane.localcluster import scratch_dir
from controlplane.standins import StandIns
from controlplane.traefik import CONTROLLER_NAME, LocalTraefik
from tests.conftest import Cluster
from tests.operator.conftest import controller  # noqa: F401 - the fixture, for these tests too

GATEWAY_CLASS = "traefik"


def _pod_range_is_local() -> bool:
    try:
        with socket.socket() as s:
            s.bind(("10.244.255.254", 0))
    except OSError:
        return False
    return True


@pytest.fixture(scope="session")
def traefik(cluster: Cluster, crds: None) -> Iterator[LocalTraefik]:
    if not _pod_range_is_local():
        pytest.fail(
            "the pod range 10.244.0.0/16 is not a local route here: run the suite inside "
            "controlplane/netns.sh (make test does), so that stand-ins can bind Pod IPs"
        )
    cluster.kubectl(
        "apply",
        "-f",
        "-",
        input=json.dumps(
            {
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": "GatewayClass",
                "metadata": {"name": GATEWAY_CLASS},
                "spec": {"controllerName": CONTROLLER_NAME},
            }
        ),
    )
    workdir = scratch_dir("canary-test-traefik-")
    local = LocalTraefik(workdir, cluster.kubeconfig)
    try:
        local.start()
        yield local
    finally:
        local.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def standins(cluster: Cluster, namespace: str) -> Iterator[StandIns]:
    pods = StandIns(cluster.api, namespace)
    yield pods
    pods.stop()


@pytest.fixture
def gateway(cluster: Cluster, namespace: str, traefik: LocalTraefik) -> str:
    """A Gateway ``gw`` of the Traefik class in the test's namespace, listening on Traefik's web
    entryPoint; the name."""
    cluster.kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        input=json.dumps(
            {
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": "Gateway",
                "metadata": {"name": "gw"},
                "spec": {
                    "gatewayClassName": GATEWAY_CLASS,
                    "listeners": [
                        {
                            "name": "web",
                            "protocol": "HTTP",
                            "port": traefik.web_port,
                            "allowedRoutes": {"namespaces": {"from": "Same"}},
                        }
                    ],
                },
            }
        ),
    )
    return "gw"


def host_for(namespace: str) -> str:
    """A host name of the test's own: a namespace still being deleted keeps routing its host through
    the one Traefik for a while, so two tests must never share one."""
    return f"web.{namespace}.example"


def send(traefik: LocalTraefik, host: str, count: int, path: str = "/") -> Counter[tuple[str, int]]:
    """Send ``count`` GET requests through Traefik for ``host``; (image, status) -> how many.  A
    request Traefik could not route (404, 502, 503) counts under its status with image ''."""
    seen: Counter[tuple[str, int]] = Counter()
    for _ in range(count):
        request = urllib.request.Request(f"{traefik.url}{path}", headers={"Host": host})  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=5) as r:  # noqa: S310 - loopback
                seen[(r.headers.get("X-Image", ""), r.status)] += 1
        except urllib.error.HTTPError as e:
            seen[(e.headers.get("X-Image", ""), e.code)] += 1
    return seen


def wait_for_split(
    traefik: LocalTraefik, host: str, images: dict[str, int], timeout: float = 30, sample: int = 20
) -> None:
    """Wait until every image in ``images`` with a weight serves and no other does (Traefik applies a
    route change about a second after it is written)."""
    deadline = time.monotonic() + timeout
    last: Counter[tuple[str, int]] = Counter()
    while time.monotonic() < deadline:
        last = send(traefik, host, sample)
        served = {image for (image, status), n in last.items() if status == 200 and n}
        if served == {image for image, weight in images.items() if weight > 0}:
            return
        time.sleep(0.3)
    raise AssertionError(f"Traefik never served {images}; last sample: {dict(last)}\n{traefik.tail()}")


def applied_weights(traefik: LocalTraefik, namespace: str, apex: str) -> tuple[int, int] | None:
    """The weights of ``<apex>-primary`` and ``<apex>-canary`` in the weighted service Traefik has
    applied for them (its API), or None while it has none."""
    for service in traefik.services():
        children = (service.get("weighted") or {}).get("services") or []
        weights = {}
        for child in children:
            name = child.get("name", "")
            for side in ("primary", "canary"):
                if name.startswith(f"{namespace}-{apex}-{side}-"):
                    weights[side] = int(child.get("weight", 0))
        if weights:
            return weights.get("primary", 0), weights.get("canary", 0)
    return None


def wait_for_applied(
    traefik: LocalTraefik, namespace: str, apex: str, weights: tuple[int, int], timeout: float = 30
) -> float:
    """Wait until Traefik has applied ``weights``; the seconds it took from the call."""
    start = time.monotonic()
    last = None
    while time.monotonic() - start < timeout:
        last = applied_weights(traefik, namespace, apex)
        if last == weights:
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"Traefik never applied {weights} (last: {last})\n{traefik.tail()}")
