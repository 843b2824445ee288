"""Stand-ins for the Pods of a namespace: an HTTP server bound to each Running Pod's IP and container
ports, so that a real proxy routing by the real EndpointSlices reaches "the Pod".

Who uses this: the data-plane tests (``tests/dataplane``), inside the network namespace of
``controlplane/netns.sh``, where kwok's pod range is a local route (a Pod IP can be bound; the API
server refuses loopback endpoint addresses, so 127.0.0.1 cannot stand in).  kwok runs no containers:
it gives each Pod an IP and marks it Running and Ready; this module then serves on that IP.

What a stand-in answers: 200 with the Pod's name and its first container's image (headers
``X-Pod`` and ``X-Image``, and as JSON), so a client can count which side served it.  The container's
environment can make it misbehave, as a faulty release would: ``STANDIN_ERROR_PERCENT`` (0-100) of the
requests answer 500, spread evenly (every request whose running count crosses the next multiple);
``STANDIN_DELAY_MS`` delays every answer, by exactly that or, with ``STANDIN_DELAY_SIGMA`` above 0, by
a log-normal draw whose median it is (a random stream seeded by the Pod's name).  ``GET /metrics``
(and ``/metrics/<pod>``, where Prometheus scrapes it) exports the Pod's
``http_request_duration_seconds`` histogram by ``status``, what an application instrumented for
Flagger's "http" observer exports.  Given a Prometheus, a Pod annotated
``prometheus.io/scrape: "true"`` (and ``prometheus.io/port``) becomes a scrape target at its IP,
labelled ``kubernetes_namespace`` and ``kubernetes_pod_name`` as the usual Kubernetes service
discovery relabelling does; the stand-ins write it as a file-discovery target because Debian's
Prometheus is built without Kubernetes service discovery.  Pods are followed by a watch.

A stand-in goes on serving for ``DRAIN_SECONDS`` after its Pod starts terminating or is gone, as a
container does during its termination grace period while the EndpointSlices and the proxy catch up
(kwok deletes a Pod at once; a real one would be sent SIGTERM and drain), and then stops, its open
connections closed.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import urllib3
from kubernetes import client, watch
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from controlplane.prometheus import Prometheus

DRAIN_SECONDS = 5.0
#: the histogram's buckets (seconds): fine around the tens of milliseconds the tests' Pods answer in
SECONDS = (0.005, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.125, 0.15, 0.2, 0.3, 0.5, 1.0, 2.5)


def pod_range_is_local() -> bool:
    """Whether kwok's pod range is a local route here (inside ``controlplane/netns.sh``), so that a
    stand-in can bind a Pod IP."""
    try:
        with socket.socket() as s:
            s.bind(("10.244.255.254", 0))
    except OSError:
        return False
    return True


@dataclass
class Behaviour:
    pod: str
    image: str
    error_percent: float = 0.0
    delay: float = 0.0
    delay_sigma: float = 0.0
    served: int = 0
    errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.random = random.Random(self.pod)  # noqa: S311 - simulated behaviour, not a secret
        self.duration = Histogram(
            "http_request_duration_seconds",
            "request duration",
            ["status"],
            buckets=SECONDS,
            registry=self.registry,
        )

    def describe(self) -> str:
        delay = f"{self.delay * 1000:g} ms" + (
            f" (log-normal, sigma {self.delay_sigma:g})" if self.delay_sigma else ""
        )
        return f"{self.error_percent:g}% errors, {delay}"

    def next_delay(self) -> float:
        if not self.delay or not self.delay_sigma:
            return self.delay
        with self.lock:
            return self.random.lognormvariate(math.log(self.delay), self.delay_sigma)

    def next_status(self) -> int:
        """500 for ``error_percent`` of the requests, evenly spread; else 200."""
        with self.lock:
            self.served += 1
            due = int(self.served * self.error_percent / 100) > self.errors
            if due:
                self.errors += 1
            return 500 if due else 200


def _behaviour(pod: Any, images: Mapping[str, Mapping[str, str]]) -> Behaviour:
    container = pod.spec.containers[0]
    env = {**images.get(container.image, {})}
    env.update({e.name: e.value for e in container.env or [] if e.value is not None})
    return Behaviour(
        pod.metadata.name,
        container.image,
        float(env.get("STANDIN_ERROR_PERCENT", "0")),
        float(env.get("STANDIN_DELAY_MS", "0")) / 1000,
        float(env.get("STANDIN_DELAY_SIGMA", "0")),
    )


class _Server(ThreadingHTTPServer):
    """Keeps its open connections, so that stopping it ends them too: a keep-alive connection a proxy
    holds must not go on answering for a Pod that is gone."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        with self.connections_lock:
            for conn in list(self.connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)


Address = tuple[str, int]


def _server(
    address: Address, current: Callable[[], Behaviour], pod: Callable[[str], Behaviour | None]
) -> _Server:
    """A server on ``address`` answering as the Pod ``current()`` names at each request, with each
    Pod's own metrics at ``/metrics/<pod>`` (``pod(name)``; 404 for a Pod it does not know)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            behaviour = current()
            if self.path.startswith("/metrics/"):
                named = pod(self.path.removeprefix("/metrics/"))
                if named is None:
                    self._answer(404, "text/plain", b"no such Pod here\n", behaviour)
                else:
                    self._answer(200, "text/plain; version=0.0.4", generate_latest(named.registry), named)
                return
            if self.path == "/metrics":
                self._answer(200, "text/plain; version=0.0.4", generate_latest(behaviour.registry), behaviour)
                return
            started = time.monotonic()
            delay = behaviour.next_delay()
            if delay:
                time.sleep(delay)
            status = behaviour.next_status()
            behaviour.duration.labels(str(status)).observe(time.monotonic() - started)
            body = json.dumps({"pod": behaviour.pod, "image": behaviour.image, "path": self.path}).encode()
            self._answer(status, "application/json", body, behaviour)

        def _answer(self, status: int, content_type: str, body: bytes, behaviour: Behaviour) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Pod", behaviour.pod)
            self.send_header("X-Image", behaviour.image)
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

        def log_message(self, *args: object) -> None:
            pass

    server = _Server(address, Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name=f"standin-{address[0]}", daemon=True).start()
    return server


class StandIns:
    """Serve every Running Pod of ``namespace`` until ``stop()``.

    One server per address (Pod IP and container port), answering as the Pod that has the address
    now: kwok hands a freed IP to the next Pod at once, and the proxy's pooled connections to the
    address then reach the new Pod, as they would reach a new Pod's process on a real node (closing
    them instead would fail requests for a reason no cluster has)."""

    def __init__(
        self,
        api: client.ApiClient,
        namespace: str,
        *,
        images: Mapping[str, Mapping[str, str]] | None = None,
        prometheus: Prometheus | None = None,
        on_change: Callable[[str], None] | None = None,
    ) -> None:
        """``images``: environment defaults by image (what a build does when it runs; the container's
        own environment wins); ``prometheus``: where the annotated Pods become scrape targets;
        ``on_change`` is told when a Pod starts or stops being served."""
        self.core = client.CoreV1Api(api)
        self.namespace = namespace
        self.prometheus = prometheus
        #: the scrape target (file-discovery name) written for each address, and for which Pod
        self.targets: dict[Address, str] = {}
        self.images = dict(images or {})
        self.on_change = on_change or (lambda text: None)
        self._counted: Counter[str] = Counter()
        self.servers: dict[Address, _Server] = {}
        #: the Pod (its behaviour) each address answers as, and until when an address whose Pod is
        #: terminating or gone goes on answering (its drain)
        self.current: dict[Address, Behaviour] = {}
        self.draining: dict[Address, float] = {}
        self.behaviours: dict[str, Behaviour] = {}
        #: (time.time(), address, what happened) of every change, for a failing test to show
        self.history: list[tuple[float, Address, str]] = []
        self.error: BaseException | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"standins-{namespace}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        """Follow the Pods by a watch (a stand-in must listen before the proxy, which learns of a
        ready Pod through the EndpointSlices, sends to it), in one-second segments that also run
        the drains; relist when the watch's resourceVersion is too old.  While the API server does
        not answer (restarting, say), the stand-ins go on serving what they knew, and the list is
        tried again every second, as a kubelet's Pods keep running without their API server."""
        pods: dict[str, Any] = {}
        version: str | None = None
        try:
            while not self._stopping.is_set():
                try:
                    if version is None:
                        listed: Any = self.core.list_namespaced_pod(self.namespace, _request_timeout=5)
                        pods = {p.metadata.uid: p for p in listed.items}
                        version = listed.metadata.resource_version
                        self._sync(list(pods.values()))
                    stream = watch.Watch().stream(  # type: ignore[no-untyped-call]
                        self.core.list_namespaced_pod,
                        self.namespace,
                        resource_version=version,
                        timeout_seconds=1,
                        _request_timeout=5,
                    )
                    for event in stream:
                        pod = event["object"]
                        version = pod.metadata.resource_version
                        if event["type"] == "DELETED":
                            pods.pop(pod.metadata.uid, None)
                        else:
                            pods[pod.metadata.uid] = pod
                        self._sync(list(pods.values()))
                except client.ApiException as e:
                    version = None  # 410: too old; any other answer: list again once it answers
                    if e.status != 410:
                        self._unavailable(f"HTTP {e.status}")
                except (OSError, urllib3.exceptions.HTTPError) as e:
                    version = None
                    self._unavailable(type(e).__name__)
                self._sync(list(pods.values()))
        except BaseException as e:  # reported by stop()
            self.error = e

    def _unavailable(self, why: str) -> None:
        self.history.append((time.time(), ("", 0), f"the API server did not answer ({why})"))
        self._stopping.wait(1.0)

    def _sync(self, pods: list[Any]) -> None:
        wanted: dict[Address, Any] = {}
        for pod in pods:
            ip = pod.status.pod_ip
            if pod.status.phase != "Running" or not ip or pod.metadata.deletion_timestamp:
                continue
            for container in pod.spec.containers:
                for port in container.ports or []:
                    wanted[(ip, port.container_port)] = pod
        now = time.monotonic()
        for address in set(self.servers) - set(wanted):
            if address not in self.draining:
                self.history.append((time.time(), address, f"{self.current[address].pod} draining"))
            until = self.draining.setdefault(address, now + DRAIN_SECONDS)
            if until <= now:
                del self.draining[address]
                self.servers.pop(address).stop()
                self._untarget(address)
                stopped = self.current.pop(address)
                self.history.append((time.time(), address, f"{stopped.pod} stopped"))
                self.on_change(f"{stopped.pod}: stopped serving")
        for address, pod in wanted.items():
            self.draining.pop(address, None)
            behaviour = self.behaviours.get(pod.metadata.uid)
            if behaviour is None:
                behaviour = self.behaviours[pod.metadata.uid] = _behaviour(pod, self.images)
            if self.current.get(address) is not behaviour:
                self.history.append((time.time(), address, f"{behaviour.pod} serving"))
                self.on_change(f"{behaviour.pod}: serving {behaviour.image} ({behaviour.describe()})")
            self.current[address] = behaviour
            if address not in self.servers:
                answer_as = functools.partial(self.current.__getitem__, address)
                try:
                    self.servers[address] = _server(address, answer_as, self._by_name)
                except OSError as e:  # taken (by another cluster's Pod?): tried again on the next pass
                    self.history.append((time.time(), address, f"{behaviour.pod} cannot listen: {e}"))
                    continue
            self._target(address, pod)

    def _by_name(self, name: str) -> Behaviour | None:
        return next((b for b in list(self.behaviours.values()) if b.pod == name), None)

    def _target(self, address: Address, pod: Any) -> None:
        annotations = pod.metadata.annotations or {}
        if self.prometheus is None or annotations.get("prometheus.io/scrape") != "true":
            self._untarget(address)
            return
        if int(annotations.get("prometheus.io/port", address[1])) != address[1]:
            return
        if self.targets.get(address) == pod.metadata.name:
            return
        name = f"pod-{self.namespace}-{address[0]}-{address[1]}"
        # Scraped at the Pod's own path: kwok hands a freed IP to the next Pod at once, and until
        # Prometheus reads the rewritten target (file discovery, a second) it would scrape the new
        # Pod under the old one's labels: the old Pod's series would gain the new Pod's requests.
        labels = {
            "__metrics_path__": f"/metrics/{pod.metadata.name}",
            "job": "kubernetes-pods",
            "kubernetes_namespace": self.namespace,
            "kubernetes_pod_name": pod.metadata.name,
        }
        self.prometheus.add_targets(name, [f"{address[0]}:{address[1]}"], labels)
        self.targets[address] = pod.metadata.name

    def _untarget(self, address: Address) -> None:
        if self.prometheus is not None and self.targets.pop(address, None) is not None:
            self.prometheus.remove_targets(f"pod-{self.namespace}-{address[0]}-{address[1]}")

    def served(self) -> dict[str, int]:
        """Requests answered per Deployment (a Pod's name without its two generated parts) since the
        last call: the split the data plane delivered."""
        totals: Counter[str] = Counter()
        for behaviour in list(self.behaviours.values()):
            totals[behaviour.pod.rsplit("-", 2)[0]] += behaviour.served
        since = {name: n - self._counted[name] for name, n in totals.items() if n > self._counted[name]}
        self._counted = totals
        return since

    def serving(self) -> list[str]:
        """Names of the Pods served now (draining ones included)."""
        return sorted({b.pod for b in self.current.values()})

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(5)
        for address, server in self.servers.items():
            self._untarget(address)
            with contextlib.suppress(OSError):
                server.stop()
        self.servers.clear()
        if self.error is not None:
            raise self.error
