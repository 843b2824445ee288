"""``python -m demo`` (``make demo``): canary's main job, end to end on this machine.

It runs inside the network namespace of ``controlplane/netns.sh`` (``make demo`` puts it there), where
kwok's pod range is a local route, and starts, each stopped at the end (only what it started):

* the local control plane (kube-apiserver, controller-manager, scheduler, kwok), canary's CRDs and the
  upstream Gateway API CRDs;
* Traefik (built from its Go module), a real Gateway API implementation: the Gateway ``public`` is
  Traefik's, and Traefik routes by the HTTPRoute the controller writes and the real EndpointSlices;
* stand-ins bound to the Pods' IPs (``controlplane.standins``), each serving as its image does (the
  catalogue below: 1.2.0 is the faulty build), and counting what they served;
* Prometheus, scraping each annotated Pod's histogram at its IP;
* a smart-HTTP git remote holding a sample config repository, and real Flux (source-controller and
  kustomize-controller) syncing its staging path into the cluster, the Canary included;
* canary's load tester, called by the Canary's rollout webhook to send traffic through Traefik;
* the controller, ``canary run``.

Then two stories, as CI and Flux would play them: a healthy release (``web:1.1.0``) goes through
20/40/60% and is committed to the production path; a faulty one (``web:1.2.0``, 15% errors) fails its
success-rate check, traffic returns to the primary, the controller pushes a revert, Flux applies it,
and the cluster, Git and the Canary agree on 1.1.0 with no new analysis.  It prints a timeline, the
config repository's ``git log`` and ``kubectl get canaries``, and exits non-zero, saying which, if
any outcome of the stories is not what it should be.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from kubernetes import client, config

from controlplane import crds as upstream_crds
from controlplane.flux import LocalFlux
from controlplane.gitserver import GitHTTPServer, Person, git
from controlplane.loadtester import LoadTester
from controlplane.localcluster import (
    ClusterError,
    LocalCluster,
    http_ok,
    kubectl,
    kubectl_path,
    scratch_dir,
    terminate,
    wait_for_crds,
)
from controlplane.prometheus import Prometheus
from controlplane.standins import StandIns, pod_range_is_local
from controlplane.traefik import LocalTraefik, gateway, gateway_class
from demo import configrepo
from demo.timeline import Timeline

REPO = Path(__file__).resolve().parents[1]
NAMESPACE = "demo"
APP = "web"
#: what each image does when it runs (the stand-ins read it): 1.2.0 is the faulty build
CATALOGUE = {
    f"{configrepo.IMAGE}:1.0.0": {"STANDIN_DELAY_MS": "20", "STANDIN_DELAY_SIGMA": "0.3"},
    f"{configrepo.IMAGE}:1.1.0": {"STANDIN_DELAY_MS": "18", "STANDIN_DELAY_SIGMA": "0.3"},
    f"{configrepo.IMAGE}:1.2.0": {
        "STANDIN_ERROR_PERCENT": "15",
        "STANDIN_DELAY_MS": "20",
        "STANDIN_DELAY_SIGMA": "0.3",
    },
}
CRDS = ("canaries", "metrictemplates", "alertproviders")
T = TypeVar("T")


class StoryFailed(Exception):
    """An outcome of a story is not what it should be."""


def wait_for(what: str, check: Callable[[], T | None], timeout: float = 180.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise StoryFailed(f"timed out after {timeout:g}s waiting for {what}")


class Demo:
    def __init__(self, workdir: Path, stack: contextlib.ExitStack) -> None:
        self.workdir, self.stack = workdir, stack
        self.timeline: Timeline | None = None

    # ------------------------------------------------------------------------------ start
    def say(self, text: str) -> None:
        if self.timeline is not None:
            self.timeline.say(text)
        else:
            print(text, flush=True)

    def start(self) -> None:
        if not pod_range_is_local():
            raise StoryFailed(
                "the pod range 10.244.0.0/16 is not a local route here: run the demo inside "
                "controlplane/netns.sh (make demo does), so that the Pods' stand-ins can bind their IPs"
            )
        self.say(
            "starting the local control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok)"
        )
        cluster = LocalCluster(self.workdir / "cluster")
        self.stack.callback(cluster.stop)
        cluster.start()
        self.kubeconfig = cluster.kubeconfig
        self.api: Any = config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=str(cluster.kubeconfig)
        )
        self.stack.callback(self.api.close)
        self.kubectl(
            "apply",
            "--server-side",
            *(f"--filename={REPO / 'crds' / f'{kind}.yaml'}" for kind in CRDS),
            # Traefik runs its CRD provider too: without its CRDs it logs a failure every second.
            *upstream_crds.files("gateway-api", "traefik"),
        )
        wait_for_crds([kubectl_path(), f"--kubeconfig={self.kubeconfig}"], "crd", "--all")
        self.kubectl("create", "namespace", NAMESPACE)

        self.say("starting Traefik (its Gateway API provider) and the Gateway 'public'")
        self.traefik = LocalTraefik(self.workdir / "traefik", cluster.kubeconfig)
        self.stack.callback(self.traefik.stop)
        self.traefik.start()
        # The Gateway is the platform's (not in the config repository): Traefik's, on its entryPoint.
        platform = [gateway_class(), gateway(NAMESPACE, "public", self.traefik.web_port)]
        self.kubectl("apply", "-f", "-", input="\n---\n".join(json.dumps(o) for o in platform))

        self.say("starting Prometheus and the git remote")
        self.prometheus = Prometheus(self.workdir / "prometheus")
        self.stack.callback(self.prometheus.stop)
        self.prometheus.start()
        (self.workdir / "remotes").mkdir()
        server = GitHTTPServer(self.workdir / "remotes")
        server.start()
        self.stack.callback(server.stop)
        self.remote = server.create_repo("config")

        self.say("starting Flux (source-controller, kustomize-controller)")
        self.flux = LocalFlux(self.workdir / "flux", cluster.kubeconfig)
        self.stack.callback(self.flux.stop)
        self.flux.start()

        self.say("starting the stand-ins of the Pods and the load tester")
        self.standins = StandIns(
            self.api, NAMESPACE, images=CATALOGUE, prometheus=self.prometheus, on_change=self.say
        )
        self.stack.callback(self.standins.stop)
        loadtester = LoadTester(self.workdir / "loadtester.log")
        self.stack.callback(loadtester.stop)
        self.loadtester = loadtester.start().url
        self.say("starting the controller (canary run)")
        self._process(
            "controller",
            [
                sys.executable,
                "-m",
                "canary",
                "run",
                "-n",
                NAMESPACE,
                "--metrics-server",
                self.prometheus.url,
                "--min-analysis-interval",
                "1",
                "--gitops-workdir",
                str(self.workdir / "gitops"),
                "--log-level",
                "info",
            ],
        )

    def _process(self, name: str, argv: list[str], ready: str | None = None) -> None:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - closed by the stack
        self.stack.callback(log.close)
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            env={**os.environ, "KUBECONFIG": str(self.kubeconfig), "PYTHONPATH": str(REPO)},
        )

        self.stack.callback(terminate, proc, 15)
        if ready is not None:
            wait_for(
                f"the {name} to answer", lambda: proc.poll() is None and http_ok(ready, timeout=1), timeout=30
            )

    def kubectl(self, *args: str, input: str | None = None) -> str:
        try:
            return kubectl(self.kubeconfig, *args, input=input)
        except ClusterError as e:
            raise StoryFailed(str(e)) from e

    # ------------------------------------------------------------------------------ reading
    def canary(self) -> dict[str, Any]:
        custom: Any = client.CustomObjectsApi(self.api)
        body: dict[str, Any] = custom.get_namespaced_custom_object(
            "canary.dev", "v1alpha1", NAMESPACE, "canaries", APP
        )
        return body

    def status(self) -> dict[str, Any]:
        try:
            return dict(self.canary().get("status") or {})
        except client.ApiException as e:
            if e.status == 404:
                return {}
            raise

    def image(self, deployment: str) -> str:
        d: Any = client.AppsV1Api(self.api).read_namespaced_deployment(deployment, NAMESPACE)
        return str(d.spec.template.spec.containers[0].image)

    def phase(self, *phases: str, timeout: float = 240.0) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            status = self.status()
            return status if status.get("phase") in phases else None

        return wait_for(f"the Canary to reach {' or '.join(phases)}", reached, timeout)

    def last_write(self, kind: str) -> dict[str, Any]:
        def written() -> dict[str, Any] | None:
            w = (self.status().get("gitops") or {}).get("lastWrite")
            return w if w and w.get("kind") == kind else None

        return wait_for(f"the {kind} commit", written, timeout=60)

    def reasons(self) -> list[str]:
        items: list[Any] = (
            client.CoreV1Api(self.api)
            .list_namespaced_event(
                NAMESPACE, field_selector=f"involvedObject.kind=Canary,involvedObject.name={APP}"
            )
            .items
        )
        return [str(e.reason) for e in items]

    # ------------------------------------------------------------------------------ Flux
    def flux_applied(self) -> str:
        try:
            custom: Any = client.CustomObjectsApi(self.api)
            ks = custom.get_namespaced_custom_object(
                "kustomize.toolkit.fluxcd.io", "v1", NAMESPACE, "kustomizations", "web-staging"
            )
        except client.ApiException as e:
            if e.status == 404:
                return ""
            raise
        return str((ks.get("status") or {}).get("lastAppliedRevision", "")).rsplit(":", 1)[-1]

    def flux_sync(self, ci: Person) -> str:
        """``flux reconcile``: Flux fetches the remote's HEAD and applies it; returns that commit."""
        head = ci.log()[0].split()[0]
        self.flux.reconcile("gitrepository", NAMESPACE, "config")
        self.flux.reconcile("kustomization", NAMESPACE, "web-staging")
        wait_for(f"Flux to apply {head[:8]}", lambda: self.flux_applied() == head, timeout=120)
        self.say(f"Flux applied {head[:8]} ({ci.log()[0].split(' ', 1)[1]})")
        return head

    # ------------------------------------------------------------------------------ stories
    def play(self) -> None:
        ci = Person(self.remote, self.workdir / "ci")
        self.timeline = Timeline(self.api, NAMESPACE, APP, split=self.standins.served)
        self.stack.callback(self.timeline.stop)
        self.timeline.start()

        self.timeline.heading("Setup: the config repository, synced by Flux")
        ci.change(
            configrepo.files(git_url=self.remote, loadtester=self.loadtester, gateway=self.traefik.url),
            "web 1.0.0 in staging and production, its Canary, image automation",
        )
        self.kubectl("apply", "-f", "-", input=configrepo.flux_sync(NAMESPACE, self.remote))
        wait_for("Flux's first sync", lambda: self.flux_applied() == ci.log()[0].split()[0], timeout=120)
        self.phase("Initialized", timeout=120)

        self.timeline.heading("Story 1: CI commits web:1.1.0 to staging; a healthy release")
        ci.commit(configrepo.STAGING, configrepo.deployment("1.1.0"), "web 1.1.0")
        good = self.flux_sync(ci)
        status = self.phase("Succeeded", "Failed")
        if status["phase"] != "Succeeded":
            raise StoryFailed(f"the healthy release ended {status['phase']}, not Succeeded")
        write = self.last_write("promote")
        production = ci.read(configrepo.PRODUCTION)
        if write.get("result") != "committed" or "newTag: 1.1.0" not in production:
            raise StoryFailed(f"1.1.0 was not committed to production: {write}\n{production}")
        if self.image(f"{APP}-primary") != f"{configrepo.IMAGE}:1.1.0":
            raise StoryFailed("the primary does not run 1.1.0 after the promotion")
        if (self.status().get("gitops") or {}).get("promotedRevision") != good:
            raise StoryFailed("status.gitops.promotedRevision is not the commit Flux applied")

        self.timeline.heading("Story 2: CI commits web:1.2.0 (15% of its requests fail)")
        ci.commit(configrepo.STAGING, configrepo.deployment("1.2.0"), "web 1.2.0")
        self.flux_sync(ci)
        status = self.phase("Succeeded", "Failed")
        if status["phase"] != "Failed":
            raise StoryFailed(f"the faulty release ended {status['phase']}, not Failed")
        write = self.last_write("revert")
        if write.get("result") != "committed":
            raise StoryFailed(f"no revert commit: {write}")
        reverted = self.flux_sync(ci)
        if reverted != write.get("commit"):
            raise StoryFailed(f"Flux applied {reverted[:8]}, not the revert {write.get('commit')}")
        wait_for("the target back on 1.1.0", lambda: self.image(APP) == f"{configrepo.IMAGE}:1.1.0", 60)
        time.sleep(6)  # more than one analysis interval: nothing may start
        status = self.status()
        new_revisions = self.reasons().count("NewRevision")
        if status.get("phase") != "Failed" or new_revisions != 2:
            raise StoryFailed(
                f"the applied revert started something: phase {status.get('phase')}, "
                f"{new_revisions} NewRevision events"
            )
        checks = {
            "Git (staging)": "image: ghcr.io/acme/web:1.1.0" in ci.read(configrepo.STAGING),
            "cluster (web)": self.image(APP) == f"{configrepo.IMAGE}:1.1.0",
            "cluster (web-primary)": self.image(f"{APP}-primary") == f"{configrepo.IMAGE}:1.1.0",
            "Canary status": (status.get("gitops") or {}).get("promotedRevision") == reverted,
        }
        if not all(checks.values()):
            raise StoryFailed(f"cluster, Git and status do not agree on 1.1.0: {checks}")
        self.say("Git, the cluster and the Canary's status agree on web:1.1.0; no new analysis started")
        self.timeline.stop()

        print("\n== git log of the config repository (newest first)", flush=True)
        print(history(ci.dir), flush=True)
        print("== kubectl get canaries -n demo", flush=True)
        print(self.kubectl("get", "canaries", "-n", NAMESPACE), flush=True)

    def logs(self) -> str:
        parts = []
        for name in ("controller", "loadtester"):
            path = self.workdir / f"{name}.log"
            if path.exists():
                parts.append(f"--- {name} log (end) ---\n{path.read_text()[-4000:]}")
        return "\n".join(parts)


def history(checkout: Path) -> str:
    """``git log`` of ``checkout``: each commit's author and subject, its trailers, the files it changed."""
    out = git(checkout, "log", "--name-only", "--format=%x1e%h%x1f%an%x1f%s%x1f%(trailers:only,unfold)%x1f")
    lines = []
    for record in out.split("\x1e")[1:]:
        commit, author, subject, trailers, files = record.split("\x1f")
        lines.append(f"{commit}  {author:<7} {subject}")
        lines += [f"           {t}" for t in trailers.splitlines() if t.strip()]
        lines += [f"           changed {f}" for f in files.split() if f]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m demo", description=__doc__.split("\n\n")[0])
    p.add_argument("--keep-workdir", action="store_true", help="keep the logs and state after the run")
    args = p.parse_args(argv)
    workdir = scratch_dir("canary-demo-")
    started = time.monotonic()
    failed = False
    with contextlib.ExitStack() as stack:
        demo = Demo(workdir, stack)
        try:
            demo.start()
            demo.play()
        except (StoryFailed, RuntimeError) as e:
            failed = True
            print(f"\nDEMO FAILED: {e}\n{demo.logs()}", file=sys.stderr, flush=True)
        except KeyboardInterrupt:
            failed = True
    print(f"demo {'failed' if failed else 'done'} in {time.monotonic() - started:.0f}s", flush=True)
    if args.keep_workdir or failed:
        print(f"logs and state kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0
