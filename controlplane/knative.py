"""Knative Serving's own controller and autoscaler as local processes against a local control plane:
what turns a Knative Service into Revisions, their Deployments, its Route and its ingress, for the
knative provider's tests.

Who calls this: the ``knative`` fixture of ``tests/operator/test_knative.py``.  The binaries and
manifests come from ``controlplane/build-knative.sh`` (a cache outside the checkout, Knative Serving
at the version pinned in ``versions.env``).

What runs, and what does not: the controller (Services, Configurations, Revisions, Routes, the
ingress objects) and the autoscaler (the PodAutoscalers that make a Revision ready), with admin
credentials, watching all namespaces.  Not run: Knative's webhook (so nothing is defaulted or
validated on admission: a Service's template names its autoscaler class itself, as the webhook would
have defaulted it), the activator, and any networking layer (no ingress is programmed: a Route stays
``IngressNotConfigured``, while its status and its ingress's spec show the split Knative made of the
traffic written).  kwok runs the Revisions' Pods.  Scale to zero is off (no queue-proxy reports
requests, so every revision would otherwise be idle), and image tags under ``example.com`` are not
resolved to digests (that would need the registry).

Ports: metrics and profiling on free ports (metrics on 127.0.0.1), the autoscaler's stats server on
:18080 (moved there by the build); the controller's health probes are off (the build).  Standard
library only, like ``localcluster``.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import IO, Any

from controlplane.localcluster import ClusterError, _tail, built, free_port, http_ok, kubectl, terminate

HERE = Path(__file__).resolve().parent
NAMESPACE = "knative-serving"
#: Settings made in Knative's config maps (the rest is upstream's defaults).
CONFIG = {
    "config-deployment": {
        "queue-sidecar-image": "example.com/knative/queue:v1",
        "registries-skipping-tag-resolving": "example.com,kind.local,ko.local,dev.local",
    },
    "config-autoscaler": {"enable-scale-to-zero": "false", "target-burst-capacity": "0"},
}
#: the autoscaler's address in its bucket's Endpoints (it must not be loopback; nothing is sent to it:
#: the one autoscaler owns the one bucket)
AUTOSCALER_IP = "192.0.2.10"
#: the annotation every template needs while Knative's webhook (which would default it) is not run
KPA_CLASS = {"autoscaling.knative.dev/class": "kpa.autoscaling.knative.dev"}


def knative_dir() -> Path:
    """Build Knative Serving if the cache is empty; the cache directory (bin/, crds/, config/)."""
    return built("build-knative.sh", "Knative Serving")


def install(kubeconfig: Path) -> Path:
    """Knative Serving's CRDs (established), its namespace and config maps; the cache directory."""
    root = knative_dir()
    kubectl(kubeconfig, "apply", "--server-side", "-f", str(root / "crds"))
    kubectl(kubeconfig, "wait", "--for=condition=Established", "--timeout=60s", "-f", str(root / "crds"))
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    kubectl(kubeconfig, "apply", "--server-side", "-f", "-", input=json.dumps(namespace))
    kubectl(kubeconfig, "apply", "--server-side", "-f", str(root / "config"))
    for name, data in CONFIG.items():
        patch = json.dumps({"data": data})
        kubectl(kubeconfig, "patch", "-n", NAMESPACE, "configmap", name, "--type=merge", "-p", patch)
    return root


class LocalKnative:
    """Knative Serving's controller and autoscaler, started by ``start`` and stopped by ``stop``."""

    def __init__(self, kubeconfig: Path, workdir: Path) -> None:
        self.kubeconfig, self.workdir = kubeconfig, workdir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[IO[bytes]] = []

    def log(self, name: str) -> Path:
        return self.workdir / f"knative-{name}.log"

    def start(self, timeout: float = 60.0) -> None:
        root = install(self.kubeconfig)
        metrics = {}
        for name in ("controller", "autoscaler"):
            metrics[name] = free_port()
            env = {
                **os.environ,
                "SYSTEM_NAMESPACE": NAMESPACE,
                "POD_NAME": f"local-{name}",
                "METRICS_DOMAIN": "knative.dev/serving",
                "METRICS_PROMETHEUS_HOST": "127.0.0.1",
                "METRICS_PROMETHEUS_PORT": str(metrics[name]),
                "PROFILING_PORT": str(free_port()),
            }
            if name == "autoscaler":
                env["POD_IP"] = AUTOSCALER_IP
            out = open(self.log(name), "ab")  # noqa: SIM115 - closed in stop()
            self._logs.append(out)
            self.procs[name] = subprocess.Popen(
                [str(root / "bin" / name), f"--kubeconfig={self.kubeconfig}"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + timeout
        for name, port in metrics.items():
            while not http_ok(f"http://127.0.0.1:{port}/metrics"):
                proc = self.procs[name]
                if proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise ClusterError(f"Knative's {name} did not start:\n{_tail(str(self.log(name)))}")
                time.sleep(0.2)

    def running(self) -> bool:
        return bool(self.procs) and all(p.poll() is None for p in self.procs.values())

    def stop(self) -> None:
        for proc in self.procs.values():
            terminate(proc, 10)
        self.procs.clear()
        for out in self._logs:
            out.close()
        self._logs.clear()


def ingress_splits(ingress: dict[str, Any]) -> dict[str, int]:
    """Revision -> percent, as Knative's ingress object for a Route splits its traffic (the first path
    of the first rule: a Service's cluster-local and external rules carry the same splits)."""
    rules = (ingress.get("spec") or {}).get("rules") or []
    paths = ((rules[0].get("http") or {}).get("paths") or []) if rules else []
    splits = (paths[0].get("splits") or []) if paths else []
    return {s["serviceName"]: int(s.get("percent") or 0) for s in splits}
