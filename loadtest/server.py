"""The load tester's HTTP API, compatible with flagger-loadtester.

``App.handle`` answers one request (method, path, headers, body) and is what the tests and the fuzz
test drive directly; ``serve`` puts it behind a threaded HTTP server.

| path | answer |
|---|---|
| ``/healthz`` | 200 ``OK`` |
| ``/metrics`` | Prometheus metrics |
| ``/gate/approve`` | 200 (always) |
| ``/gate/halt`` | 403 (always) |
| ``/gate/check`` | 200 if the gate of the payload's canary is open, else 403 (closed by default) |
| ``/gate/open``, ``/gate/close`` | 202 |
| ``/rollback/check`` | 200 if its rollback gate is open (the controller then rolls back), else 403 |
| ``/rollback/open``, ``/rollback/close`` | 202 |
| any other path | runs the task in the payload's ``metadata`` (``loadtest.tasks``) |

Every payload path takes a POST with the webhook payload ``{name, namespace, metadata}``.  Bad input
gets a 4xx naming what is wrong: 400 for JSON that is not a payload, 405 for another method, 411
without a length, 413 above ``max_body``, 401 without a valid token (when tokens are configured),
403 for a namespace the token (or ``--namespace-regexp``) does not allow.  A store that cannot be
read or written is a 503; the answer is never a guess.
"""

from __future__ import annotations

import fnmatch
import hmac
import json
import logging
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from loadtest.state import Store, StoreError
from loadtest.tasks import TYPES, TaskError, Tasks

log = logging.getLogger(__name__)

#: Kubernetes object names (DNS-1123 subdomain) and namespaces (DNS-1123 label)
NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
GATES = {"gate": "gate", "rollback": "rollback"}


@dataclass(frozen=True)
class Reply:
    status: int
    text: str
    content_type: str = "text/plain; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()


class Refused(Exception):
    def __init__(self, status: int, message: str, headers: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.reply = Reply(status, message, headers=headers)


@dataclass(frozen=True)
class Auth:
    """Who may act on which namespace.  ``tokens``: bearer token -> namespace patterns (globs); none
    configured means no authentication.  ``namespace_regexp`` (Flagger's flag) applies on top."""

    tokens: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    namespace_regexp: re.Pattern[str] | None = None

    @classmethod
    def from_file(cls, path: Path, namespace_regexp: str | None = None) -> Auth:
        """Lines ``TOKEN NAMESPACE[,NAMESPACE...]``; ``#`` starts a comment; globs like ``team-*``."""
        tokens: dict[str, tuple[str, ...]] = {}
        for number, raw in enumerate(path.read_text().splitlines(), 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            if len(parts) != 2:
                raise ValueError(f"{path}:{number}: expected 'TOKEN NAMESPACE[,NAMESPACE...]'")
            tokens[parts[0]] = tuple(n for n in parts[1].split(",") if n)
        return cls(tokens, re.compile(namespace_regexp) if namespace_regexp else None)

    def authenticate(self, headers: Mapping[str, str]) -> tuple[str, ...] | None:
        """The namespaces the caller may act on (None: any); raises 401 without a valid token."""
        if not self.tokens:
            return None
        scheme, _, presented = (headers.get("authorization") or "").partition(" ")
        if scheme.lower() == "bearer" and presented:
            for token, namespaces in self.tokens.items():
                if hmac.compare_digest(token.encode(), presented.strip().encode()):
                    return namespaces
        raise Refused(
            401, "a valid bearer token is required", (("WWW-Authenticate", 'Bearer realm="loadtest"'),)
        )

    def authorize(self, allowed: tuple[str, ...] | None, namespace: str) -> None:
        if self.namespace_regexp is not None and not self.namespace_regexp.fullmatch(namespace):
            raise Refused(403, f"namespace {namespace} is not allowed by --namespace-regexp")
        if allowed is not None and not any(fnmatch.fnmatchcase(namespace, p) for p in allowed):
            raise Refused(403, f"this token may not act on namespace {namespace}")


@dataclass(frozen=True)
class Payload:
    name: str
    namespace: str
    metadata: dict[str, str] | None


def parse_payload(body: bytes) -> Payload:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise Refused(400, f"the body is not JSON: {e}") from None
    if not isinstance(data, dict):
        raise Refused(400, "the body must be a JSON object with name and namespace")
    name, namespace = data.get("name"), data.get("namespace")
    if not isinstance(name, str) or not NAME.match(name):
        raise Refused(400, "name must be a Kubernetes object name (lower case, digits, '-' and '.')")
    if not isinstance(namespace, str) or not NAMESPACE.match(namespace):
        raise Refused(400, "namespace must be a Kubernetes namespace name (lower case, digits and '-')")
    metadata = data.get("metadata")
    strings = isinstance(metadata, dict) and all(isinstance(v, str) for v in metadata.values())
    if metadata is not None and not strings:
        raise Refused(400, "metadata must be an object of strings")
    return Payload(name, namespace, metadata)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "loadtest_http_requests",
            "Requests answered, by path group and status",
            ["path", "code"],
            registry=self.registry,
        )
        self.gates = Counter(
            "loadtest_gate_changes", "Gate changes", ["gate", "action"], registry=self.registry
        )
        self.tasks = Counter(
            "loadtest_tasks", "Task requests, by type and answer", ["type", "code"], registry=self.registry
        )
        self.load_requests = Counter(
            "loadtest_load_requests",
            "Requests sent by the built-in generator, by answer status or error",
            ["namespace", "canary", "status"],
            registry=self.registry,
        )
        self.load_latency = Histogram(
            "loadtest_load_request_duration_seconds",
            "Latency of the built-in generator's requests, from when each was due",
            ["namespace", "canary"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )

    def observe_load(self, namespace: str, canary: str, status: str, seconds: float) -> None:
        self.load_requests.labels(namespace, canary, status).inc()
        self.load_latency.labels(namespace, canary).observe(seconds)


class App:
    def __init__(
        self, store: Store, tasks: Tasks, auth: Auth, metrics: Metrics, *, max_body: int = 65536
    ) -> None:
        self.store, self.tasks, self.auth, self.metrics, self.max_body = store, tasks, auth, metrics, max_body

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes | None) -> Reply:
        """One request; ``headers`` with lower-case names; ``body`` None when no length was given."""
        path = path.split("?", 1)[0]
        group = path if path in ("/healthz", "/metrics") or path.startswith(("/gate/", "/rollback/")) else "/"
        try:
            reply = self._route(method, path, headers, body)
        except Refused as e:
            reply = e.reply
        except StoreError as e:
            log.warning("%s", e)
            reply = Reply(503, f"the gate state is unavailable: {e}")
        self.metrics.requests.labels(group if group in _KNOWN else "other", str(reply.status)).inc()
        return reply

    def _route(self, method: str, path: str, headers: Mapping[str, str], body: bytes | None) -> Reply:
        if path == "/healthz":
            return Reply(200, "OK")
        if path == "/metrics":
            return Reply(200, generate_latest(self.metrics.registry).decode(), "text/plain; version=0.0.4")
        allowed = self.auth.authenticate(headers)
        if path == "/gate/approve":
            return Reply(200, "Approved")
        if path == "/gate/halt":
            return Reply(403, "Forbidden: halted")
        if method != "POST":
            raise Refused(
                405, f"{method} is not allowed here: POST the webhook payload", (("Allow", "POST"),)
            )
        if body is None:
            raise Refused(411, "a Content-Length is required")
        payload = parse_payload(body)
        self.auth.authorize(allowed, payload.namespace)
        kind, _, action = path.strip("/").partition("/")
        if kind in GATES and path.count("/") == 2:
            return self._gate(kind, action, payload)
        if payload.metadata is None:
            raise Refused(400, "metadata not found in payload: a task needs metadata.type and metadata.cmd")
        kind_label = payload.metadata.get("type") or "cmd"
        try:
            answer = self.tasks.handle(payload.namespace, payload.name, payload.metadata)
        except TaskError as e:
            self.metrics.tasks.labels(kind_label if kind_label in TYPES else "unknown", str(e.status)).inc()
            raise Refused(e.status, e.message) from None
        self.metrics.tasks.labels(kind_label, str(answer.status)).inc()
        return Reply(answer.status, answer.text)

    def _gate(self, kind: str, action: str, payload: Payload) -> Reply:
        key = f"{kind}/{payload.namespace}/{payload.name}"
        if action == "check":
            opened = self.store.is_open(key)
            if kind == "gate":
                return Reply(200, "Approved") if opened else Reply(403, "Forbidden: the gate is closed")
            return (
                Reply(200, "Rollback requested") if opened else Reply(403, "Forbidden: no rollback requested")
            )
        if action in ("open", "close"):
            self.store.set(key, action == "open")
            self.metrics.gates.labels(kind, action).inc()
            log.info("%s %s %s/%s", kind, action, payload.namespace, payload.name)
            return Reply(202, f"{kind.capitalize()} {'opened' if action == 'open' else 'closed'}")
        raise Refused(404, f"/{kind}/{action} does not exist: use check, open or close")


_KNOWN = {"/healthz", "/metrics", "/", *(f"/{k}/{a}" for k in GATES for a in ("check", "open", "close"))}
_KNOWN |= {"/gate/approve", "/gate/halt"}


def serve(app: App, host: str, port: int) -> ThreadingHTTPServer:
    """Start serving in a background thread; the caller owns the returned server."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "canary-loadtest"
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            body: bytes | None = None
            if "chunked" in headers.get("transfer-encoding", "").lower():
                reply = Reply(411, "chunked bodies are not accepted: send a Content-Length")
                self._send(reply, close=True)
                return
            length_text = headers.get("content-length")
            if length_text is not None:
                try:
                    length = int(length_text)
                except ValueError:
                    self._send(Reply(400, "Content-Length is not a number"), close=True)
                    return
                if length < 0 or length > app.max_body:
                    self._send(Reply(413, f"the body may have at most {app.max_body} bytes"), close=True)
                    return
                body = self.rfile.read(length)
            self._send(app.handle(self.command, self.path, headers, body))

        def _send(self, reply: Reply, *, close: bool = False) -> None:
            data = reply.text.encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in reply.headers:
                self.send_header(name, value)
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer

        def log_message(self, fmt: str, *args: Any) -> None:
            log.debug("%s %s", self.address_string(), fmt % args)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    return server
