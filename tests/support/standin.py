"""A stand-in for one workload: an HTTP server on 127.0.0.1 with a declared behaviour and the metrics
a canary analysis queries, with the labels Prometheus would give its Pod as a file-discovery target.

Who uses this: the Prometheus adapter tests (``tests/adapters/test_prometheus_metrics.py``), which query
Flagger's builtin queries of several observers against a real Prometheus without a cluster's Pods.
The data-plane tests and the demo use ``controlplane.standins`` instead: stand-ins bound to the
real Pods' IPs, behind a real Traefik.

Each request is answered after a latency drawn from a log-normal distribution, and a share of them
(``error_rate``) fail with a 500.  ``/metrics`` exports what the builtin queries select on:

* the application's ``http_request_duration_seconds`` histogram with a ``status`` label (Flagger's
  "http" observer: kubernetes and gatewayapi providers); Prometheus adds ``kubernetes_namespace`` and
  ``kubernetes_pod_name`` from the file-discovery target labels, as Kubernetes service discovery
  relabelling would;
* Istio's ``istio_requests_total`` and ``istio_request_duration_milliseconds`` with the destination
  labels of a sidecar (``reporter="destination"``, ``destination_workload``...).
"""

from __future__ import annotations

import math
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from controlplane.standins import SECONDS  # the same buckets as the Pods' stand-ins


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
        port: int = 0,
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

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
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
