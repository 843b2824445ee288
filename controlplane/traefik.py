"""A real Traefik (built from its Go module by ``controlplane/build-traefik.sh``) as a local process
against a local control plane: the Gateway API and Traefik-CRD data plane of the tests.

Who calls this: the ``traefik`` session fixture of ``tests/dataplane``.  Traefik watches the cluster
through the admin kubeconfig (``KUBECONFIG``) with two providers: ``kubernetesGateway`` (Gateways
of the GatewayClass ``controllerName: traefik.io/gateway-controller``, their HTTPRoutes) and
``kubernetesCRD`` (IngressRoutes, TraefikServices).  It serves one entryPoint ``web`` on
127.0.0.1:``web_port``; a Gateway listener is mapped to an entryPoint by port, so a Gateway for this
Traefik listens on ``web_port``.  The entryPoint ``traefik`` on ``api_port`` has the API (what
Traefik has applied: ``/api/http/services``), ``/ping`` and the Prometheus metrics, whose latency
buckets are set finely (Traefik's default, 0.1/0.3/1.2/5 s, makes a p99 meaningless).

Traefik sends requests to the Pod IPs of the EndpointSlices the real endpointslice controller
writes, so the suite runs in a network namespace in which kwok's pod range is a local route
(``controlplane/netns.sh``), where stand-ins bind those IPs; nothing leaves the namespace.  Its
calls home (version check, anonymous usage) are off.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from controlplane.localcluster import ClusterError, built, free_port, http_ok, terminate

HERE = Path(__file__).resolve().parent
CONTROLLER_NAME = "traefik.io/gateway-controller"
BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]


def traefik_binary() -> Path:
    """Build Traefik if the cache is empty; the binary."""
    return built("build-traefik.sh", "Traefik") / "bin" / "traefik"


def static_config(web_port: int, api_port: int, access_log: Path) -> dict[str, Any]:
    return {
        "accessLog": {"filePath": str(access_log), "format": "json"},
        "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
        "entryPoints": {
            "web": {"address": f"127.0.0.1:{web_port}"},
            "traefik": {"address": f"127.0.0.1:{api_port}"},
        },
        "api": {"insecure": True, "dashboard": False},
        "ping": {"entryPoint": "traefik"},
        "metrics": {
            "prometheus": {
                "entryPoint": "traefik",
                "addEntryPointsLabels": True,
                "addRoutersLabels": True,
                "addServicesLabels": True,
                "buckets": BUCKETS,
            }
        },
        "providers": {
            "providersThrottleDuration": "1s",
            "kubernetesGateway": {},
            "kubernetesCRD": {"allowCrossNamespace": False},
        },
        "log": {"level": "INFO"},
    }


def gateway_class(name: str = "traefik") -> dict[str, Any]:
    """The GatewayClass of Traefik's Gateway API provider."""
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "GatewayClass",
        "metadata": {"name": name},
        "spec": {"controllerName": CONTROLLER_NAME},
    }


def gateway(namespace: str, name: str, port: int, class_name: str = "traefik") -> dict[str, Any]:
    """A Gateway ``name`` in ``namespace`` of the class ``class_name``, listening on ``port`` (Traefik's
    web entryPoint: Traefik maps a listener to the entryPoint of its port) for routes of the same
    namespace: what a platform team provides on a real cluster."""
    same = {"namespaces": {"from": "Same"}}
    listener = {"name": "web", "protocol": "HTTP", "port": port, "allowedRoutes": same}
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"gatewayClassName": class_name, "listeners": [listener]},
    }


class LocalTraefik:
    def __init__(self, workdir: Path, kubeconfig: Path) -> None:
        self.workdir, self.kubeconfig = workdir, kubeconfig
        self.web_port, self.api_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.web_port}"
        self.api = f"http://127.0.0.1:{self.api_port}"
        self.log = workdir / "traefik.log"
        #: one JSON line per request (its router, service, backend URL, status and duration)
        self.access_log = workdir / "access.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def metrics_target(self) -> str:
        """``host:port`` of the metrics endpoint (``/metrics``), for a Prometheus scrape."""
        return f"127.0.0.1:{self.api_port}"

    def start(self, timeout: float = 60.0) -> None:
        binary = traefik_binary()
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "traefik.json"  # Traefik reads YAML, TOML or JSON by the extension
        config.write_text(json.dumps(static_config(self.web_port, self.api_port, self.access_log), indent=2))
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig)}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [str(binary), f"--configFile={config}"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ClusterError(f"traefik exited with {self.proc.returncode}:\n{self.tail()}")
            if http_ok(f"{self.api}/ping", timeout=1):
                return
            time.sleep(0.1)
        raise ClusterError(f"traefik not ready after {timeout}s:\n{self.tail()}")

    def stop(self) -> None:
        if self.proc is not None:
            terminate(self.proc)

    def tail(self, size: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-size:] if self.log.exists() else ""

    def reloads(self) -> float:
        """How many times Traefik has rebuilt its dynamic configuration (``traefik_config_reloads_total``).
        A rebuild makes new load balancers, so a weighted round robin restarts from its first pick."""
        with urllib.request.urlopen(f"{self.api}/metrics", timeout=5) as r:  # noqa: S310 - loopback
            for line in r.read().decode().splitlines():
                if line.startswith("traefik_config_reloads_total"):
                    return float(line.rsplit(" ", 1)[1])
        raise ClusterError("Traefik's metrics have no traefik_config_reloads_total")

    def services(self) -> list[dict[str, Any]]:
        """The HTTP services Traefik has applied (its API), with their weighted children."""
        with urllib.request.urlopen(f"{self.api}/api/http/services", timeout=5) as r:  # noqa: S310
            out: list[dict[str, Any]] = json.loads(r.read())
        return out
