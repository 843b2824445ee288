"""A real Prometheus (Debian's ``prometheus`` package) on 127.0.0.1 for the test suite.

Who uses this: the ``prometheus`` session fixture in ``tests/conftest.py``, and the demo.
Why file-based discovery: tests extend the scrape configuration at run time without a reload by
writing one JSON file per target group into ``file_sd/``; Prometheus watches that directory.  Labels
in the file (``job``, ``__metrics_path__``, or any label a PromQL query selects on) override the
defaults of the scrape job, so one scrape job serves every test.  For anything file discovery cannot
express, ``reload_with`` rewrites the whole configuration and asks Prometheus to reload it.
Scrape and rule evaluation run every second so that tests see samples quickly.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from controlplane.localcluster import free_port, http_ok, terminate

BASE_CONFIG = """\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - {rules}/*.yaml
scrape_configs:
  - job_name: tests
    file_sd_configs:
      - files: ['{sd}/*.json']
        refresh_interval: 1s
"""


class Prometheus:
    def __init__(self, workdir: Path) -> None:
        exe = shutil.which("prometheus")
        if exe is None:
            raise RuntimeError("prometheus is not installed (Debian package 'prometheus'); run `make deps`")
        self.exe = exe
        self.workdir = workdir
        self.sd = workdir / "file_sd"
        self.rules = workdir / "rules"
        self.config = workdir / "prometheus.yml"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = workdir / "prometheus.log"

    def start(self, timeout: float = 30.0) -> None:
        for d in (self.sd, self.rules):
            d.mkdir(parents=True, exist_ok=True)
        self.config.write_text(BASE_CONFIG.format(sd=self.sd, rules=self.rules))
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    self.exe,
                    f"--config.file={self.config}",
                    f"--storage.tsdb.path={self.workdir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--web.enable-lifecycle",
                    "--storage.tsdb.retention.time=2h",
                    "--log.level=warn",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"prometheus exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}"
                )
            if http_ok(f"{self.url}/-/ready", timeout=1):
                return
            time.sleep(0.1)
        raise RuntimeError(f"prometheus not ready after {timeout}s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc is not None:
            terminate(self.proc)

    # ------------------------------------------------------------------------------- extending
    def add_targets(self, name: str, targets: list[str], labels: dict[str, str] | None = None) -> Path:
        """Scrape ``targets`` (``host:port``) with ``labels``; ``name`` keys the file (one per test)."""
        path = self.sd / f"{name}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps([{"targets": targets, "labels": labels or {}}]))
        tmp.replace(path)  # atomic: Prometheus never reads half a file
        return path

    def remove_targets(self, name: str) -> None:
        (self.sd / f"{name}.json").unlink(missing_ok=True)

    def wait_for_target_up(self, target: str, timeout: float = 30.0) -> None:
        """Wait until ``target`` has been scraped successfully at least once."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            data = self.api("/api/v1/targets", state="active")
            for t in data["activeTargets"]:
                last = t
                if t["labels"].get("instance") == target and t["health"] == "up":
                    return
            time.sleep(0.2)
        raise RuntimeError(f"target {target} never came up in Prometheus; last seen: {last}")

    def reload_with(self, config: str) -> None:
        """Replace the whole configuration (YAML text) and reload it."""
        self.config.write_text(config)
        req = urllib.request.Request(f"{self.url}/-/reload", method="POST")  # noqa: S310
        with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310
            if r.status != 200:
                raise RuntimeError(f"prometheus refused the reload: HTTP {r.status}")

    def api(self, path: str, **params: str) -> Any:
        url = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(url, timeout=10) as r:  # noqa: S310
            body = json.loads(r.read())
        if body.get("status") != "success":
            raise RuntimeError(f"prometheus answered {path} with {body}")
        return body["data"]


class AuthProxy:
    """Prometheus behind a bearer token (and any headers), as a hosted Prometheus is: 401 without them,
    502 when Prometheus itself does not answer.  ``seen`` keeps the headers of every request and
    ``denied`` counts the refused ones."""

    def __init__(self, upstream: str, token: str, headers: dict[str, str] | None = None) -> None:
        self.seen: list[dict[str, str]] = []
        self.denied = 0
        proxy = self
        wanted = {"Authorization": f"Bearer {token}", **(headers or {})}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                proxy.seen.append(dict(self.headers))
                if any(self.headers.get(k) != v for k, v in wanted.items()):
                    proxy.denied += 1
                    self._answer(401, b"unauthorized")
                    return
                try:
                    with urllib.request.urlopen(upstream + self.path, timeout=4) as r:  # noqa: S310
                        self._answer(200, r.read())
                except OSError:
                    self._answer(502, b"prometheus did not answer")

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, name="auth-proxy", daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
