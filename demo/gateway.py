"""A gateway on 127.0.0.1 that routes by an HTTPRoute's weights, as a Gateway API implementation would.

The local control plane has no gateway controller; the controller under demonstration writes the
HTTPRoute's ``backendRefs`` weights as a real one would read them.  ``Gateway`` re-reads the route
twice a second, resolves each backend Service to the stand-in serving it (``Fleet.address_of_service``),
and forwards each request it receives to a backend chosen by smooth weighted round robin (the share
each backend gets follows its weight exactly, without sampling noise).  It counts what it sent where,
so the demo can show the split it actually applied next to the weights the controller asked for.

Only the route's catch-all rule (the one without ``matches``; header and cookie matches of A/B
testing are not modelled) and GET requests are served.
"""

from __future__ import annotations

import http.client
import logging
import sys
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from kubernetes import client

log = logging.getLogger(__name__)


@dataclass
class Backend:
    service: str
    weight: int
    address: str | None
    current: int = 0  # smooth weighted round robin's running credit


def backends_of(route: dict[str, Any]) -> list[tuple[str, int]]:
    """(Service, weight) of the route's catch-all rule (its first rule without ``matches``)."""
    rules = (route.get("spec") or {}).get("rules") or []
    catch_all = next((r for r in rules if not r.get("matches")), rules[0] if rules else {})
    return [(b["name"], int(b.get("weight", 1))) for b in catch_all.get("backendRefs") or []]


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (the load tester stopping) is not an error worth a traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Gateway:
    def __init__(
        self,
        api: client.ApiClient,
        namespace: str,
        route: str,
        resolve: Callable[[str], str | None],
        *,
        period: float = 0.5,
    ) -> None:
        self.custom = client.CustomObjectsApi(api)
        self.namespace, self.route, self.resolve, self.period = namespace, route, resolve, period
        self.backends: list[Backend] = []
        self.lock = threading.Lock()
        self.sent: Counter[str] = Counter()
        self.stopping = threading.Event()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                status, body = gateway.forward(self.path)
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.threads = [
            threading.Thread(target=self.server.serve_forever, name="gateway", daemon=True),
            threading.Thread(target=self._follow, name="gateway-routes", daemon=True),
        ]

    def start(self) -> Gateway:
        self.refresh()
        for t in self.threads:
            t.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self.threads[0].is_alive():  # shutdown() waits for a serve_forever that must be running
            self.server.shutdown()
        self.server.server_close()

    # ------------------------------------------------------------------------------ routes
    def _follow(self) -> None:
        while not self.stopping.wait(self.period):
            try:
                self.refresh()
            except Exception:  # keep the last routes; the API may be busy
                log.exception("reading HTTPRoute %s/%s", self.namespace, self.route)

    def refresh(self) -> None:
        try:
            route: Any = self.custom.get_namespaced_custom_object(
                "gateway.networking.k8s.io", "v1", self.namespace, "httproutes", self.route
            )
        except client.ApiException as e:
            if e.status != 404:
                raise
            route = {}  # not created yet: nothing to route to
        fresh = [Backend(name, weight, self.resolve(name)) for name, weight in backends_of(route)]
        with self.lock:
            credit = {b.service: b.current for b in self.backends}
            for b in fresh:
                b.current = credit.get(b.service, 0)
            self.backends = fresh

    def choose(self) -> Backend | None:
        """Smooth weighted round robin over the backends that have somewhere to go."""
        with self.lock:
            live = [b for b in self.backends if b.weight > 0 and b.address]
            if not live:
                return None
            total = sum(b.weight for b in live)
            for b in live:
                b.current += b.weight
            best = max(live, key=lambda b: b.current)
            best.current -= total
            self.sent[best.service] += 1
            return best

    # ------------------------------------------------------------------------------ requests
    def forward(self, path: str) -> tuple[int, bytes]:
        backend = self.choose()
        if backend is None or backend.address is None:
            return 503, b"no backend with a weight and a stand-in\n"
        host, _, port = backend.address.rpartition(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            conn.request("GET", path)
            answer = conn.getresponse()
            return answer.status, answer.read()
        except OSError as e:
            return 502, f"{backend.service}: {e}\n".encode()
        finally:
            conn.close()

    def split(self) -> dict[str, int]:
        """Requests sent per Service since the last call (and reset)."""
        with self.lock:
            counts = dict(self.sent)
            self.sent.clear()
        return counts
