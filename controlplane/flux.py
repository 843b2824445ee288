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
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from controlplane.localcluster import (
    ClusterError,
    ProcessRecord,
    _alive,
    _pid_runs,
    _tail,
    free_port,
    http_ok,
    kubectl,
    kubectl_path,
    wait_for_crds,
)

HERE = Path(__file__).resolve().parent
CONTROLLERS = ("source-controller", "kustomize-controller")


def helm_controller_dir() -> Path:
    """Build helm-controller if its cache is empty; the cache directory (bin/ and crds/)."""
    proc = subprocess.run(
        [str(HERE / "build-helm-controller.sh")], check=False, stdout=subprocess.PIPE, text=True
    )
    if proc.returncode != 0:
        raise ClusterError(
            "building helm-controller failed; see the messages of build-helm-controller.sh above"
        )
    return Path(proc.stdout.strip().splitlines()[-1])


def flux_dir() -> Path:
    """Build Flux if the cache is empty; the cache directory (bin/ and crds/)."""
    proc = subprocess.run([str(HERE / "build-flux.sh")], check=False, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise ClusterError("building Flux failed; see the messages of controlplane/build-flux.sh above")
    return Path(proc.stdout.strip().splitlines()[-1])


@dataclass
class FluxState:
    workdir: str
    storage: str
    processes: list[ProcessRecord] = field(default_factory=list)


class LocalFlux:
    def __init__(self, workdir: Path, kubeconfig: Path, *, helm: bool = False) -> None:
        """``helm``: run helm-controller too (HelmReleases), built by build-helm-controller.sh."""
        self.workdir, self.kubeconfig, self.helm = workdir, kubeconfig, helm
        self.state_file = workdir / "flux-state.json"
        self._children: dict[int, subprocess.Popen[bytes]] = {}

    def kubectl(self, *args: str, input: str | None = None) -> str:
        return kubectl(self.kubeconfig, *args, input=input)

    def start(self, timeout: float = 120.0) -> FluxState:
        cache = flux_dir()
        binaries = {name: cache / "bin" / name for name in CONTROLLERS}
        crds = ["-f", str(cache / "crds")]
        if self.helm:
            helm = helm_controller_dir()
            binaries["helm-controller"] = helm / "bin" / "helm-controller"
            crds += ["-f", str(helm / "crds")]
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "logs").mkdir(exist_ok=True)
        self.kubectl("apply", "--server-side", "--force-conflicts", *crds)
        wait_for_crds([kubectl_path(), f"--kubeconfig={self.kubeconfig}"], *crds)
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "flux-system"}}
        self.kubectl("apply", "-f", "-", input=json.dumps(namespace))
        storage_port = free_port()
        state = FluxState(str(self.workdir), f"127.0.0.1:{storage_port}")
        health: dict[str, int] = {}
        for name, exe in binaries.items():
            health[name] = free_port()
            args = [
                f"--metrics-addr=127.0.0.1:{free_port()}",
                f"--health-addr=127.0.0.1:{health[name]}",
                "--enable-leader-election=false",
                "--watch-all-namespaces=true",
                "--log-level=info",
            ]
            if name == "source-controller":
                (self.workdir / "storage").mkdir(exist_ok=True)
                args += [
                    f"--storage-path={self.workdir / 'storage'}",
                    f"--storage-addr={state.storage}",
                    f"--storage-adv-addr={state.storage}",
                ]
            state.processes.append(self._spawn(exe, args))
            self._save(state)
        deadline = time.monotonic() + timeout
        for name in binaries:
            self._wait_healthy(state, name, health[name], deadline)
        return state

    def _spawn(self, exe: Path, args: list[str]) -> ProcessRecord:
        log = self.workdir / "logs" / f"{exe.name}.log"
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "RUNTIME_NAMESPACE": "flux-system"}
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                [str(exe), *args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                env=env,
            )
        self._children[proc.pid] = proc
        return ProcessRecord(exe.name, proc.pid, str(exe.resolve()), str(log))

    def _save(self, state: FluxState) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(state), indent=2))
        tmp.replace(self.state_file)

    def _wait_healthy(self, state: FluxState, name: str, port: int, deadline: float) -> None:
        record = next(p for p in state.processes if p.name == name)
        while time.monotonic() < deadline:
            if not _pid_runs(record.pid, record.exe):
                raise ClusterError(
                    f"{name} exited while starting; last lines of {record.log}:\n{_tail(record.log)}"
                )
            if http_ok(f"http://127.0.0.1:{port}/readyz"):
                return
            time.sleep(0.2)
        raise ClusterError(f"timed out waiting for {name} to be ready\n{_tail(record.log, 10)}")

    def reconcile(self, kind: str, namespace: str, name: str) -> None:
        """Ask for an immediate reconciliation, as ``flux reconcile`` does."""
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        self.kubectl(
            "annotate", "--overwrite", "-n", namespace, kind, name, f"reconcile.fluxcd.io/requestedAt={stamp}"
        )

    def stop(self, grace: float = 15.0) -> None:
        """Stop the processes recorded in flux-state.json, and only those."""
        if not self.state_file.is_file():
            return
        raw = json.loads(self.state_file.read_text())
        for p in reversed([ProcessRecord(**p) for p in raw.get("processes", [])]):
            if not _pid_runs(p.pid, p.exe):
                self._reap(p.pid)
                continue
            with contextlib.suppress(ProcessLookupError):
                os.kill(p.pid, signal.SIGTERM)
            deadline = time.monotonic() + grace
            while _alive(p.pid) and time.monotonic() < deadline:
                self._reap(p.pid)
                time.sleep(0.05)
            if _alive(p.pid) and _pid_runs(p.pid, p.exe):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p.pid, signal.SIGKILL)
            self._reap(p.pid)
        self.state_file.unlink(missing_ok=True)

    def _reap(self, pid: int) -> None:
        child = self._children.get(pid)
        if child is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=1)
                del self._children[pid]  # only once it has exited: a dropped Popen of a live child warns
        else:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)


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
    print(json.dumps(asdict(state), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
