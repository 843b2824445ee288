"""A webhook receiver on 127.0.0.1 for tests, the demo and the fault bench: records every call and
answers as its user decides.

``HookServer().answer(path, status, text)`` sets a fixed answer; ``answer_with(path, fn)`` computes
one from the JSON body; ``hold(path)`` makes calls to the path wait until ``release(path)``, as a
slow or hung receiver would.  Unknown paths answer 404.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = tuple[int, str]


@dataclass(frozen=True)
class Call:
    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    #: when it arrived (time.time())
    at: float = 0.0


class HookServer:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._answers: dict[str, Callable[[dict[str, Any]], Answer]] = {}
        self._held: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self.arrived = threading.Condition(self._lock)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    body = {"_raw": raw.decode(errors="replace")}
                path = self.path.split("?")[0]
                with server.arrived:
                    server.calls.append(Call(path, body, dict(self.headers), time.time()))
                    server.arrived.notify_all()
                    answer = server._answers.get(path)
                    held = server._held.get(path)
                if held is not None:
                    held.wait()
                status, text = answer(body) if answer else (404, "no such hook")
                data = text.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the caller gave up (its timeout) or died (a killed controller): it is recorded

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def answer(self, path: str, status: int, text: str = "") -> None:
        with self._lock:
            self._answers[path] = lambda _body: (status, text)

    def answer_with(self, path: str, fn: Callable[[dict[str, Any]], Answer]) -> None:
        with self._lock:
            self._answers[path] = fn

    def hold(self, path: str) -> None:
        with self._lock:
            self._held[path] = threading.Event()

    def release(self, path: str) -> None:
        with self._lock:
            event = self._held.pop(path, None)
        if event is not None:
            event.set()

    def to(self, path: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.path == path]

    def wait_for(self, path: str, count: int = 1, timeout: float = 30) -> list[Call]:
        """The calls to ``path`` once there are at least ``count`` of them."""
        with self.arrived:
            self.arrived.wait_for(lambda: sum(c.path == path for c in self.calls) >= count, timeout)
            found = [c for c in self.calls if c.path == path]
        if len(found) < count:
            raise AssertionError(f"{len(found)} calls to {path}, expected {count}")
        return found

    def wait_until(self, path: str, match: Callable[[Call], bool], timeout: float = 30) -> Call:
        """The first call to ``path`` that ``match``es, once it has arrived."""
        with self.arrived:
            self.arrived.wait_for(lambda: any(c.path == path and match(c) for c in self.calls), timeout)
            found = next((c for c in self.calls if c.path == path and match(c)), None)
        if found is None:
            raise AssertionError(f"no matching call to {path} among {len(self.to(path))}")
        return found

    def close(self) -> None:
        for path in list(self._held):
            self.release(path)
        self._server.shutdown()
        self._server.server_close()
