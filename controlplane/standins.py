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
``STANDIN_DELAY_MS`` delays every answer.  Pods are followed by a watch.  A stand-in goes on serving
for ``DRAIN_SECONDS`` after its Pod starts terminating or is gone, as a container does during its
termination grace period while the EndpointSlices and the proxy catch up (kwok deletes a Pod at
once; a real one would be sent SIGTERM and drain), and then stops, its open connections closed.
"""

from __future__ import annotations

import contextlib
import functools
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from kubernetes import client, watch

DRAIN_SECONDS = 5.0


@dataclass
class Behaviour:
    pod: str
    image: str
    error_percent: float = 0.0
    delay: float = 0.0
    served: int = 0
    errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_status(self) -> int:
        """500 for ``error_percent`` of the requests, evenly spread; else 200."""
        with self.lock:
            self.served += 1
            due = int(self.served * self.error_percent / 100) > self.errors
            if due:
                self.errors += 1
            return 500 if due else 200


def _behaviour(pod: Any) -> Behaviour:
    container = pod.spec.containers[0]
    env = {e.name: e.value for e in container.env or [] if e.value is not None}
    return Behaviour(
        pod.metadata.name,
        container.image,
        float(env.get("STANDIN_ERROR_PERCENT", "0")),
        float(env.get("STANDIN_DELAY_MS", "0")) / 1000,
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


def _server(address: Address, current: Callable[[], Behaviour]) -> _Server:
    """A server on ``address`` answering as the Pod ``current()`` names at each request."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            behaviour = current()
            if behaviour.delay:
                time.sleep(behaviour.delay)
            status = behaviour.next_status()
            body = json.dumps({"pod": behaviour.pod, "image": behaviour.image, "path": self.path}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
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

    def __init__(self, api: client.ApiClient, namespace: str) -> None:
        self.core = client.CoreV1Api(api)
        self.namespace = namespace
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
        the drains; relist when the watch's resourceVersion is too old."""
        pods: dict[str, Any] = {}
        version: str | None = None
        try:
            while not self._stopping.is_set():
                if version is None:
                    listed: Any = self.core.list_namespaced_pod(self.namespace, _request_timeout=5)
                    pods = {p.metadata.uid: p for p in listed.items}
                    version = listed.metadata.resource_version
                    self._sync(list(pods.values()))
                try:
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
                    if e.status != 410:
                        raise
                    version = None  # too old: list again
                self._sync(list(pods.values()))
        except BaseException as e:  # reported by stop()
            self.error = e

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
                self.history.append((time.time(), address, f"{self.current.pop(address).pod} stopped"))
        for address, pod in wanted.items():
            self.draining.pop(address, None)
            behaviour = self.behaviours.setdefault(pod.metadata.uid, _behaviour(pod))
            if self.current.get(address) is not behaviour:
                self.history.append((time.time(), address, f"{behaviour.pod} serving"))
            self.current[address] = behaviour
            if address not in self.servers:
                self.servers[address] = _server(address, functools.partial(self.current.__getitem__, address))

    def serving(self) -> list[str]:
        """Names of the Pods served now (draining ones included)."""
        return sorted({b.pod for b in self.current.values()})

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(5)
        for server in self.servers.values():
            with contextlib.suppress(OSError):
                server.stop()
        self.servers.clear()
        if self.error is not None:
            raise self.error
