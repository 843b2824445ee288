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
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from controlplane.localcluster import scratch_dir
from controlplane.standins import StandIns, pod_range_is_local
from controlplane.traefik import LocalTraefik, gateway_class
from controlplane.traefik import gateway as traefik_gateway
from tests.conftest import Cluster
from tests.operator.conftest import (
    controller,  # noqa: F401 - the fixture, for these tests too
    deployment,
)

GATEWAY_CLASS = "traefik"


@pytest.fixture(scope="session")
def traefik(cluster: Cluster, crds: None) -> Iterator[LocalTraefik]:
    if not pod_range_is_local():
        pytest.fail(
            "the pod range 10.244.0.0/16 is not a local route here: run the suite inside "
            "controlplane/netns.sh (make test does), so that stand-ins can bind Pod IPs"
        )
    cluster.kubectl("apply", "-f", "-", input=json.dumps(gateway_class(GATEWAY_CLASS)))
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
    gw = traefik_gateway(namespace, "gw", traefik.web_port, GATEWAY_CLASS)
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(gw))
    return "gw"


def host_for(namespace: str) -> str:
    """A host name of the test's own: a namespace still being deleted keeps routing its host through
    the one Traefik for a while, so two tests must never share one."""
    return f"web.{namespace}.example"


def answer(traefik: LocalTraefik, host: str, path: str = "/") -> tuple[str, int]:
    """One GET through Traefik for ``host``: (image, status); image '' for an answer no Pod gave
    (a 404, 502 or 503 of Traefik's own).  OSError when nothing answers."""
    request = urllib.request.Request(f"{traefik.url}{path}", headers={"Host": host})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=5) as r:  # noqa: S310 - loopback
            return r.headers.get("X-Image", ""), r.status
    except urllib.error.HTTPError as e:
        with e:
            return e.headers.get("X-Image", ""), e.code


def send(traefik: LocalTraefik, host: str, count: int, path: str = "/") -> Counter[tuple[str, int]]:
    """Send ``count`` GET requests through Traefik for ``host``; (image, status) -> how many."""
    return Counter(answer(traefik, host, path) for _ in range(count))


def send_between_reloads(
    traefik: LocalTraefik, host: str, count: int, attempts: int = 5
) -> Counter[tuple[str, int]]:
    """``send`` while Traefik's configuration stays the same.  A reload (any change in the cluster it
    watches, another test's namespace included) builds new load balancers whose round robin restarts,
    which moves a count by a request or two; a sample taken across one is sent again."""
    for _ in range(attempts):
        before = traefik.reloads()
        seen = send(traefik, host, count)
        if traefik.reloads() == before:
            return seen
    raise AssertionError(f"Traefik reloaded its configuration during each of {attempts} samples")


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


def workload(
    name: str,
    image: str,
    *,
    error_percent: float = 0,
    delay_ms: float = 0,
    delay_sigma: float = 0,
    scraped: bool = False,
) -> dict[str, Any]:
    """A Deployment whose stand-in Pods behave as its environment says (``controlplane.standins``),
    and, when ``scraped``, are scraped by Prometheus through their annotations."""
    body = deployment(name, image)
    template = body["spec"]["template"]
    env = {
        "STANDIN_ERROR_PERCENT": error_percent,
        "STANDIN_DELAY_MS": delay_ms,
        "STANDIN_DELAY_SIGMA": delay_sigma,
    }
    template["spec"]["containers"][0]["env"] = [{"name": k, "value": str(v)} for k, v in env.items() if v]
    if scraped:
        template["metadata"]["annotations"] = {"prometheus.io/scrape": "true", "prometheus.io/port": "9898"}
    return body


class Load:
    """GET requests through Traefik for ``host`` at a constant arrival rate (an open model: a pool of
    threads sends them on schedule whatever the answers' latency), counted by (image, status);
    ``failures`` keeps when and why a request got no answer from a Pod (a 5xx but 500, or none)."""

    def __init__(self, traefik: LocalTraefik, host: str, rate: float = 40.0) -> None:
        self.traefik, self.host, self.rate = traefik, host, rate
        self.seen: Counter[tuple[str, int]] = Counter()
        self.failures: list[tuple[str, object]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="load")
        self._thread = threading.Thread(target=self._run, name="load", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            self._pool.submit(self._get)
            next_at += 1.0 / self.rate
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def _get(self) -> None:
        try:
            key = answer(self.traefik, self.host)
            if not 200 <= key[1] < 300 and key[1] != 500:  # a 500 is the faulty release's own
                self.failures.append((time.strftime("%H:%M:%S"), key[1]))
        except OSError as e:
            key = ("", 0)
            self.failures.append((time.strftime("%H:%M:%S"), str(e)))
        with self._lock:
            self.seen[key] += 1

    def served(self, image: str) -> int:
        """Requests answered by a Pod of ``image`` (any status)."""
        with self._lock:
            return sum(n for (i, _), n in self.seen.items() if i == image)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._pool.shutdown(wait=True, cancel_futures=True)
