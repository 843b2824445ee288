"""Start and stop real Argo CD (application-controller and repo-server, with a Redis) as local processes
against a local control plane: the second GitOps agent of the GitOps tests.

Who calls this: the ``argocd`` session fixture in ``tests/conftest.py``.  The binary and CRDs come from
``controlplane/build-argocd.sh`` (a cache outside the checkout); Redis is Debian's ``redis-server``
(``controlplane/deps.sh`` installs it).

How it runs Argo CD outside a cluster:

* Redis listens on 127.0.0.1 only, keeps nothing on disk, and serves the two Argo CD processes' caches.
* repo-server serves plain gRPC (``--disable-tls``) on 127.0.0.1; it clones with the ``git`` on PATH,
  into this work directory (``TMPDIR``), with GnuPG verification off and its ask-pass socket here.
* application-controller reads the cluster through the admin kubeconfig; ``ARGOCD_FAKE_IN_CLUSTER``
  makes Argo CD's in-cluster destination (``https://kubernetes.default.svc``) that same kubeconfig.  It
  manages Applications in ``namespace`` (``argocd``), whose settings (argocd-cm, argocd-rbac-cm,
  argocd-secret, labelled ``app.kubernetes.io/part-of: argocd`` as Argo CD looks them up) and whose
  ``default`` AppProject are written here, since argocd-server, which would create the project, is not
  run.  Its metrics and health endpoint bind 0.0.0.0 (Argo CD has no flag for the address); the
  suite runs in its own network namespace, so nothing outside it can reach them.

Not run: argocd-server (API, UI, SSO), dex, the ApplicationSet and notifications controllers, the
commit server.  What the tests need from Argo CD (an Application synced from Git, its
``status.sync.revision``, the tracking annotation on what it applies, refresh on request) is the
application-controller's and repo-server's work.

Standard library only (like ``localcluster``), so it runs before the project's dependencies.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

from controlplane.localcluster import (
    ClusterError,
    apply_crds,
    built,
    free_port,
    http_ok,
    kubectl,
)
from controlplane.supervisor import Supervisor

HERE = Path(__file__).resolve().parent
PART_OF = {"app.kubernetes.io/part-of": "argocd"}


def argocd_dir() -> Path:
    """Build Argo CD if the cache is empty; the cache directory (bin/ and crds/)."""
    return built("build-argocd.sh", "Argo CD")


def redis_ready(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def settings(namespace: str) -> list[dict[str, Any]]:
    """The objects Argo CD reads its settings from, and the project every test Application uses."""

    def configmap(name: str, data: dict[str, str]) -> dict[str, Any]:
        meta = {"name": name, "namespace": namespace, "labels": PART_OF}
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}

    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        configmap("argocd-cm", {}),
        configmap("argocd-rbac-cm", {}),
        configmap("argocd-cmd-params-cm", {}),
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "argocd-secret", "namespace": namespace, "labels": PART_OF},
            "stringData": {"server.secretkey": secrets.token_urlsafe(32)},
        },
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "AppProject",
            "metadata": {"name": "default", "namespace": namespace},
            "spec": {
                "sourceRepos": ["*"],
                "destinations": [{"server": "*", "namespace": "*"}],
                "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
            },
        },
    ]


class LocalArgoCD:
    def __init__(self, workdir: Path, kubeconfig: Path, namespace: str = "argocd") -> None:
        self.workdir, self.kubeconfig, self.namespace = workdir, kubeconfig, namespace
        self.processes = Supervisor(workdir, workdir / "argocd-state.json")

    def kubectl(self, *args: str, input: str | None = None) -> str:
        return kubectl(self.kubeconfig, *args, input=input)

    def start(self, timeout: float = 120.0) -> dict[str, object]:
        """Start Redis, repo-server and application-controller; what argocd-state.json records."""
        cache = argocd_dir()
        redis = shutil.which("redis-server")
        if redis is None:
            raise ClusterError("redis-server is not installed (controlplane/deps.sh installs it)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        apply_crds(self.kubeconfig, cache / "crds")
        for obj in settings(self.namespace):
            self.kubectl("apply", "-f", "-", input=json.dumps(obj))
        for sub in ("tmp", "ssh", "tls", "gpg", "redis"):
            (self.workdir / sub).mkdir(exist_ok=True)
        (self.workdir / "ssh" / "ssh_known_hosts").touch()
        deadline = time.monotonic() + timeout

        redis_port, repo_port, repo_metrics, metrics = free_port(), free_port(), free_port(), free_port()
        self.processes.extra.update(redis=f"127.0.0.1:{redis_port}", repoServer=f"127.0.0.1:{repo_port}")
        record = self.processes.spawn(
            Path(redis),
            [
                *("--bind", "127.0.0.1", "--port", str(redis_port)),
                *("--save", "", "--appendonly", "no", "--dir", str(self.workdir / "redis")),
            ],
            {},
        )
        self.processes.wait_ready(record, partial(redis_ready, redis_port), deadline)

        env = {
            "TMPDIR": str(self.workdir / "tmp"),
            "ARGOCD_GPG_ENABLED": "false",
            "ARGOCD_GNUPGHOME": str(self.workdir / "gpg"),
            "ARGOCD_SSH_DATA_PATH": str(self.workdir / "ssh"),
            "ARGOCD_TLS_DATA_PATH": str(self.workdir / "tls"),
            "ARGOCD_ASK_PASS_SOCK": str(self.workdir / "askpass.sock"),
            "KUBECONFIG": str(self.kubeconfig),
            "ARGOCD_FAKE_IN_CLUSTER": "true",
            "PATH": f"{cache / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",  # git-verify-wrapper.sh
        }
        common = ["--redis", f"127.0.0.1:{redis_port}", "--loglevel", "info", "--logformat", "text"]
        repo_server = self.processes.spawn(
            cache / "bin" / "argocd-repo-server",
            [
                *("--address", "127.0.0.1", "--port", str(repo_port)),
                *("--disable-tls", "--client-ca-path", ""),
                *("--metrics-address", "127.0.0.1", "--metrics-port", str(repo_metrics), *common),
            ],
            env,
        )
        self.processes.wait_ready(
            repo_server, partial(http_ok, f"http://127.0.0.1:{repo_metrics}/healthz?full=true"), deadline
        )
        controller = self.processes.spawn(
            cache / "bin" / "argocd-application-controller",
            [
                *("--kubeconfig", str(self.kubeconfig), "--namespace", self.namespace),
                *("--repo-server", f"127.0.0.1:{repo_port}", "--repo-server-plaintext"),
                *("--metrics-port", str(metrics), *common),
            ],
            env,
        )
        healthz = f"http://127.0.0.1:{metrics}/healthz"
        self.processes.wait_ready(controller, partial(http_ok, healthz), deadline)
        return json.loads(self.processes.state_file.read_text())  # type: ignore[no-any-return]

    def refresh(self, name: str, *, hard: bool = False) -> None:
        """Ask Argo CD to compare the Application with Git now (as ``argocd app get --refresh``)."""
        refresh = "argocd.argoproj.io/refresh=" + ("hard" if hard else "normal")
        self.kubectl("annotate", "--overwrite", "-n", self.namespace, "application", name, refresh)

    def stop(self, grace: float = 15.0) -> None:
        """Stop the processes recorded in argocd-state.json, and only those."""
        self.processes.stop(grace)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m controlplane.argocd", description=__doc__.splitlines()[0]
    )
    parser.add_argument("command", choices=["up", "down"])
    parser.add_argument("--dir", type=Path, required=True, help="work directory (state, logs, clones)")
    parser.add_argument("--kubeconfig", type=Path, help="the local cluster's kubeconfig (for up)")
    args = parser.parse_args(argv)
    if args.command == "down":
        LocalArgoCD(args.dir, args.kubeconfig or Path()).stop()
        return 0
    if args.kubeconfig is None:
        parser.error("up needs --kubeconfig")
    print(json.dumps(LocalArgoCD(args.dir, args.kubeconfig).start(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
