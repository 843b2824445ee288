"""Stand-in workloads and the traffic that reaches them, for analysis tests on 127.0.0.1.

Who uses this: tests that need real metrics in the real Prometheus fixture.  The pods of the local
control plane are kwok's and serve nothing, so a ``StandIn`` plays one side of a canary (the primary
or the canary Deployment): an HTTP server that answers each request after a latency drawn from a
log-normal distribution, fails a configurable share of requests with a 500, and exports what the
builtin queries select on:

* the application's ``http_request_duration_seconds`` histogram with a ``status`` label (Flagger's
  "http" observer: kubernetes and gatewayapi providers); Prometheus adds ``kubernetes_namespace`` and
  ``kubernetes_pod_name`` from the file-discovery target labels, as Kubernetes service discovery
  relabelling would;
* Istio's ``istio_requests_total`` and ``istio_request_duration_milliseconds`` with the destination
  labels of a sidecar (``reporter="destination"``, ``destination_workload``...).

``Traffic`` sends requests at a constant arrival rate and splits them between the two sides by the
weights of the canary's HTTPRoute, read from the API server as the router writes them: the traffic
each side sees is the traffic the controller routed to it.
"""

from __future__ import annotations

import contextlib
import math
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

SECONDS = (0.005, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.125, 0.15, 0.2, 0.3, 0.5, 1.0, 2.5)


class StandIn:
    """One side of a canary, serving on 127.0.0.1 with a given behaviour (changeable at any time)."""

    def __init__(
        self,
        namespace: str,
        workload: str,
        *,
        error_rate: float = 0.0,
        latency_ms: float = 20.0,
        latency_sigma: float = 0.3,
        seed: int = 1,
    ) -> None:
        self.namespace, self.workload = namespace, workload
        self.error_rate, self.latency_ms, self.latency_sigma = error_rate, latency_ms, latency_sigma
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.registry = CollectorRegistry()
        self.duration = Histogram(
            "http_request_duration_seconds",
            "request duration",
            ["status"],
            buckets=SECONDS,
            registry=self.registry,
        )
        istio = ["reporter", "destination_workload", "destination_workload_namespace", "response_code"]
        self.istio_requests = Counter("istio_requests", "requests", istio, registry=self.registry)
        self.istio_duration = Histogram(
            "istio_request_duration_milliseconds",
            "request duration",
            istio,
            buckets=tuple(b * 1000 for b in SECONDS),
            registry=self.registry,
        )
        self.requests = 0
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/metrics":
                    body = generate_latest(standin.registry)
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain; version=0.0.4")
                else:
                    status = standin.serve()
                    body = b"ok\n" if status == 200 else b"failed\n"
                    self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def serve(self) -> int:
        started = time.monotonic()
        with self.lock:
            self.requests += 1
            latency = self.random.lognormvariate(math.log(self.latency_ms / 1000), self.latency_sigma)
            failed = self.random.random() < self.error_rate
        time.sleep(latency)
        status = 500 if failed else 200
        elapsed = time.monotonic() - started
        self.duration.labels(str(status)).observe(elapsed)
        labels = ("destination", self.workload, self.namespace, str(status))
        self.istio_requests.labels(*labels).inc()
        self.istio_duration.labels(*labels).observe(elapsed * 1000)
        return status

    def target_labels(self, pod: str) -> dict[str, str]:
        """What Kubernetes service discovery would attach to the scrape of Pod ``pod``."""
        return {"kubernetes_namespace": self.namespace, "kubernetes_pod_name": pod, "job": "standin"}

    def start(self) -> StandIn:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Traffic:
    """Requests at ``rate`` per second, split between primary and canary by ``weights()``.

    An open model: requests are sent on a fixed schedule whatever the answers' latency (a pool of
    threads sends them), and the split is exact rather than random (a running credit per side), so
    the canary's share follows its weight without sampling noise.
    """

    def __init__(
        self,
        primary: StandIn,
        canary: StandIn,
        weights: Callable[[], tuple[int, int]],
        rate: float = 40.0,
    ) -> None:
        self.primary, self.canary, self.weights, self.rate = primary, canary, weights, rate
        self.stopping = threading.Event()
        self.pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="traffic")
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.current = (100, 0)
        self.sent = {"primary": 0, "canary": 0}

    def start(self) -> Traffic:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(10)
        self.pool.shutdown(wait=True, cancel_futures=True)

    def _run(self) -> None:
        credit = 0.0
        next_at, refreshed = time.monotonic(), 0.0
        while not self.stopping.is_set():
            now = time.monotonic()
            if now - refreshed > 0.5:
                with contextlib.suppress(Exception):  # keep the last weights; the API may be busy
                    self.current = self.weights()
                refreshed = now
            primary, canary = self.current
            total = primary + canary
            credit += canary / total if total else 0.0
            side = self.canary if credit >= 1.0 else self.primary
            if credit >= 1.0:
                credit -= 1.0
            self.sent["canary" if side is self.canary else "primary"] += 1
            self.pool.submit(_get, f"http://{side.address}/")
            next_at += 1.0 / self.rate
            self.stopping.wait(max(0.0, next_at - time.monotonic()))


def _get(url: str) -> None:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:  # noqa: S310 - 127.0.0.1 only
            r.read()
    except urllib.error.HTTPError as e:
        e.read()
