"""Start and stop real Flux (source-controller and kustomize-controller) as local processes against a
local control plane: the GitOps agent of the GitOps tests and of the demo.

Who calls this: the ``flux`` session fixture in ``tests/conftest.py``, and the demo.  The binaries
and CRDs come from ``controlplane/build-flux.sh`` (a cache outside the checkout).

How it runs Flux outside a cluster: both controllers take the local cluster's kubeconfig (admin),
watch all namespaces, run without leader election, and bind their metrics and health endpoints to
free ports on 127.0.0.1.  source-controller serves the artifacts it builds from Git on 127.0.0.1 and
advertises that address in ``GitRepository.status.artifact.url``, which kustomize-controller then
downloads, as in a cluster.  Readiness is observed (each health endpoint answers); a controller that
dies while starting fails the start with the tail of its log.  As for the control plane, the PIDs
and executables are recorded in ``flux-state.json`` and only those are ever stopped.

Standard library only (like ``localcluster``), so it runs before the project's dependencies.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from controlplane.localcluster import (
    apply_crds,
    built,
    free_port,
    http_ok,
    kubectl,
)
from controlplane.supervisor import Supervisor

HERE = Path(__file__).resolve().parent
CONTROLLERS = ("source-controller", "kustomize-controller")


def helm_controller_dir() -> Path:
    """Build helm-controller if its cache is empty; the cache directory (bin/ and crds/)."""
    return built("build-helm-controller.sh", "helm-controller")


def flux_dir() -> Path:
    """Build Flux if the cache is empty; the cache directory (bin/ and crds/)."""
    return built("build-flux.sh", "Flux")


class LocalFlux:
    def __init__(self, workdir: Path, kubeconfig: Path, *, helm: bool = False) -> None:
        """``helm``: run helm-controller too (HelmReleases), built by build-helm-controller.sh."""
        self.workdir, self.kubeconfig, self.helm = workdir, kubeconfig, helm
        self.processes = Supervisor(workdir, workdir / "flux-state.json")

    def kubectl(self, *args: str, input: str | None = None) -> str:
        return kubectl(self.kubeconfig, *args, input=input)

    def start(self, timeout: float = 120.0) -> dict[str, object]:
        """Start the controllers; what flux-state.json records (the artifact storage address, the PIDs)."""
        cache = flux_dir()
        binaries = {name: cache / "bin" / name for name in CONTROLLERS}
        crds = [cache / "crds"]
        if self.helm:
            helm = helm_controller_dir()
            binaries["helm-controller"] = helm / "bin" / "helm-controller"
            crds.append(helm / "crds")
        self.workdir.mkdir(parents=True, exist_ok=True)
        apply_crds(self.kubeconfig, *crds)
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "flux-system"}}
        self.kubectl("apply", "-f", "-", input=json.dumps(namespace))
        storage = f"127.0.0.1:{free_port()}"
        self.processes.extra["storage"] = storage
        env = {"KUBECONFIG": str(self.kubeconfig), "RUNTIME_NAMESPACE": "flux-system"}
        started = []
        for name, exe in binaries.items():
            health = free_port()
            args = [
                f"--metrics-addr=127.0.0.1:{free_port()}",
                f"--health-addr=127.0.0.1:{health}",
                "--enable-leader-election=false",
                "--watch-all-namespaces=true",
                "--log-level=info",
            ]
            if name == "source-controller":
                (self.workdir / "storage").mkdir(exist_ok=True)
                args += [
                    f"--storage-path={self.workdir / 'storage'}",
                    f"--storage-addr={storage}",
                    f"--storage-adv-addr={storage}",
                ]
            started.append((self.processes.spawn(exe, args, env), health))
        deadline = time.monotonic() + timeout
        for record, health in started:
            self.processes.wait_ready(record, partial(http_ok, f"http://127.0.0.1:{health}/readyz"), deadline)
        return json.loads(self.processes.state_file.read_text())  # type: ignore[no-any-return]

    def reconcile(self, kind: str, namespace: str, name: str) -> None:
        """Ask for an immediate reconciliation, as ``flux reconcile`` does."""
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        self.kubectl(
            "annotate", "--overwrite", "-n", namespace, kind, name, f"reconcile.fluxcd.io/requestedAt={stamp}"
        )

    def stop(self, grace: float = 15.0) -> None:
        """Stop the processes recorded in flux-state.json, and only those."""
        self.processes.stop(grace)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m controlplane.flux", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "down"])
    parser.add_argument("--dir", type=Path, required=True, help="work directory (state, logs, artifacts)")
    parser.add_argument("--kubeconfig", type=Path, help="the local cluster's kubeconfig (for up)")
    args = parser.parse_args(argv)
    if args.command == "down":
        LocalFlux(args.dir, args.kubeconfig or Path()).stop()
        return 0
    if args.kubeconfig is None:
        parser.error("up needs --kubeconfig")
    state = LocalFlux(args.dir, args.kubeconfig).start()
    print(json.dumps(state, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
