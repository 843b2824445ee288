"""The fault suite: rollouts on the real components while their dependencies fail, measured from outside.

``python -m bench.chaos --size full`` runs the full size and prints the table of docs/reliability.md;
``tests/e2e/test_fault_suite.py`` runs ``--size small`` in ``make test`` and asserts on its counts
(never on its times).

What runs, inside the network namespace of ``controlplane/netns.sh`` (``make test`` puts the suite
there; run ``controlplane/netns.sh .venv/bin/python -m bench.chaos``), each stopped at the end (only
what this started):

* the local control plane, its API server writing an audit log (who wrote what, when), its Pods in
  10.245.0.0/16 (the suite's own cluster has 10.244.0.0/16 in the same namespace);
* Traefik (its Gateway API provider) as the Gateway ``public``: each canary's HTTPRoute has a host of
  its own, and the load tester sends each host traffic through Traefik, which splits it by the
  weights the controller writes, over the real EndpointSlices, to stand-ins bound to the Pod IPs
  (``controlplane.standins``: each Pod serving the error rate its template declares);
* Prometheus, scraping each Pod's request histogram at its IP;
* a git remote with credentials and a forge (GitHub's pull-request API) holding the config repository
  of the GitOps canaries, and a GitOps agent that applies the repository's HEAD (``kubectl apply``,
  stamping the commit in the ``canary.dev/git-revision`` annotation);
* webhook and notification receivers: a rollout gate per canary, event and post-rollout hooks and a
  Slack-type AlertProvider;
* two controller replicas (``canary run``) with leader election.

The controller reaches Git, the gate and the other receivers through ``controlplane.faults.FaultProxy``
(down, hanging, slow, resetting), and Prometheus through an authenticating proxy (a planted token).

Each scenario is a number of rounds; in a round every canary releases a new version at once, healthy or
faulty (80% errors), half of them through Git, while the scenario's fault is injected: controller
replicas SIGKILLed at random moments (the leader most of the time) or paused past their Lease, the
API server or etcd restarted, Prometheus stopped for three intervals, the receivers answering 5xx,
hanging past their timeout or resetting connections, the Git remote down, refusing pushes, hanging or
slow, the forge answering 500.

Measured, for each scenario, outside the controllers: runs and correct terminal states (healthy ->
promoted, faulty -> rolled back, and for a faulty GitOps release, its revert in Git, applied by the
agent, exactly once), false promotions, runs that never ended, duplicate Git commits (two commits with
the same verdict trailers), double-driven ticks (writes to one canary's objects by both replicas less
than an interval apart, from the audit log), promotions while Prometheus was down, and the time from a
rollback decision to the route sending 100% to the primary: as the controller measured it (its log),
and from outside (the deciding check's arrival at the gate to the route's patch at the API server, for
checks the gate answered).  At the end, every log line, event, status and metric of the run is
scanned for the planted secrets.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import itertools
import json
import logging
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config

from controlplane import crds as upstream_crds
from controlplane.faults import FaultProxy, Mode
from controlplane.forge import FakeForge
from controlplane.gitserver import GitHTTPServer, Person, git
from controlplane.hooks import HookServer
from controlplane.loadtester import LoadTester
from controlplane.localcluster import (
    LocalCluster,
    free_port,
    kubectl,
    kubectl_path,
    scratch_dir,
    terminate,
    wait_for_crds,
)
from controlplane.prometheus import AuthProxy, Prometheus
from controlplane.standins import StandIns, pod_range_is_local
from controlplane.traefik import LocalTraefik, gateway, gateway_class

REPO = Path(__file__).resolve().parents[1]
NS = "chaos"
INTERVAL = 2.0
LEASE, RENEW = 4.0, 1.0
#: a faulty release fails this share of its requests: so many that a check seeing even a few requests
#: cannot miss it, and every wrong verdict is the faults' doing (detection power is docs/analysis.md's)
FAULTY_ERROR_PERCENT = "80"
#: kwok's Pod range for this control plane (controlplane/netns.sh makes 10.244.0.0/15 local)
POD_CIDR = "10.245.0.0/16"
log = logging.getLogger("chaos")

AUDIT_POLICY = f"""apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived, ResponseStarted]
rules:
  - level: Request
    verbs: [patch, update, create]
    namespaces: [{NS}]
    resources: [{{group: gateway.networking.k8s.io, resources: [httproutes]}}]
  - level: Metadata
    verbs: [patch, update, create, delete]
    namespaces: [{NS}]
    resources:
      - {{group: canary.dev, resources: [canaries/status]}}
      - {{group: apps, resources: [deployments]}}
  - level: None
"""


@dataclass(frozen=True)
class Size:
    canaries: int
    #: rounds of the controller-kill scenario, and of every other one
    kill_rounds: int
    rounds: int
    #: one scenario per receiver and Git fault (full), or one cycling through them (small)
    one_per_mode: bool


SIZES = {"small": Size(4, 2, 1, False), "full": Size(10, 12, 3, True)}


# ---------------------------------------------------------------------------------------------- records
@dataclass
class Rollout:
    scenario: str
    canary: str
    version: int
    healthy: bool
    gitops: bool
    started: float
    ended: float = 0.0
    phase: str = ""
    revision: str = ""
    correct: bool = False
    stuck: bool = False
    git_done: bool | None = None
    note: str = ""


@dataclass
class Injected:
    """What a scenario's injector did, and when."""

    count: Counter[str] = field(default_factory=Counter)
    #: (start, end) of the times Prometheus was down
    blind: list[tuple[float, float]] = field(default_factory=list)
    #: (canary, start, end) of the times a canary's gate was made to fail
    gate_faults: list[tuple[str, float, float]] = field(default_factory=list)


@dataclass
class Row:
    scenario: str
    runs: int = 0
    correct: int = 0
    false_promotions: int = 0
    stuck: int = 0
    duplicate_commits: int = 0
    double_driven: int = 0
    rollbacks: int = 0
    decision_to_route: float | None = None
    check_to_route: float | None = None
    promotions_blind: int = 0
    injected: str = ""
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


@dataclass
class Report:
    size: str
    rows: list[Row]
    rollouts: list[Rollout]
    leaks: dict[str, int]
    scanned: dict[str, int]
    seconds: float

    @property
    def total(self) -> Row:
        t = Row("all faults")
        for r in self.rows:
            if r.scenario == CONTROL:
                continue
            t.runs += r.runs
            t.correct += r.correct
            t.false_promotions += r.false_promotions
            t.stuck += r.stuck
            t.duplicate_commits += r.duplicate_commits
            t.double_driven += r.double_driven
            t.rollbacks += r.rollbacks
            t.promotions_blind += r.promotions_blind
            for name in ("decision_to_route", "check_to_route"):
                mine, theirs = getattr(t, name), getattr(r, name)
                if theirs is not None and (mine is None or theirs > mine):
                    setattr(t, name, theirs)
        return t


# ---------------------------------------------------------------------------------------------- pieces
def deployment(name: str, version: int, *, faulty: bool) -> dict[str, Any]:
    """The target's manifest (no replicas: the controller owns them)."""
    errors = FAULTY_ERROR_PERCENT if faulty else "0"
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS, "labels": {"app": name}},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {
                    "labels": {"app": name},
                    "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "9898"},
                },
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": image(name, version),
                            "ports": [{"name": "http", "containerPort": 9898}],
                            "env": [
                                {"name": "STANDIN_ERROR_PERCENT", "value": errors},
                                {"name": "STANDIN_DELAY_MS", "value": "10"},
                            ],
                        }
                    ]
                },
            },
        },
    }


def host(name: str) -> str:
    """The host the canary's HTTPRoute routes (one per canary, through the one Traefik)."""
    return f"{name}.chaos.example"


def image(name: str, version: int) -> str:
    return f"registry.example/{name}:1.{version}.0"


class Replica:
    """One controller replica, ``canary run`` as a process of its own (JSON logs, appended)."""

    def __init__(self, stage: Stage, identity: str) -> None:
        self.stage, self.identity = stage, identity
        self.log = stage.workdir / f"{identity}.log"
        self.metrics_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.paused = False
        self.extra: tuple[str, ...] = ()

    def start(self) -> None:
        s = self.stage
        argv = [
            sys.executable,
            "-m",
            "canary",
            "run",
            "-n",
            NS,
            "--identity",
            self.identity,
            "--lease-seconds",
            str(LEASE),
            "--renew-seconds",
            str(RENEW),
            "--metrics-server",
            s.prometheus.url,
            "--min-analysis-interval",
            "1",
            "--gitops-workdir",
            str(s.workdir / f"gitops-{self.identity}"),
            "--metrics-address",
            f"127.0.0.1:{self.metrics_port}",
            "--log-format",
            "json",
            "--git-command-timeout",
            "10",
            "--git-write-deadline",
            "30",
            *self.extra,
        ]
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=REPO,
                env={**os.environ, "KUBECONFIG": str(s.cluster.kubeconfig)},
            )

    def kill(self) -> None:
        if self.proc is not None:
            if self.paused:
                self.resume()
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def pause(self) -> None:
        if self.proc is not None:
            os.kill(self.proc.pid, signal.SIGSTOP)
            self.paused = True

    def resume(self) -> None:
        if self.proc is not None:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.paused = False

    def stop(self) -> None:
        if self.proc is not None:
            if self.paused:
                self.resume()
            terminate(self.proc, 15)
            self.proc = None

    def metrics(self) -> str:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as r:
                return str(r.read().decode())
        except OSError:
            return ""


@dataclass
class Canary:
    index: int
    name: str
    gitops: bool
    pull_request: bool
    version: int = 0
    promoted_image: str = ""
    gate: FaultProxy | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


# ---------------------------------------------------------------------------------------------- the stage
class Stage:
    def __init__(self, workdir: Path, size: Size, seed: int) -> None:
        self.workdir, self.size = workdir, size
        self.rng = random.Random(seed)  # noqa: S311 - fault timing, not a secret
        self.stack = contextlib.ExitStack()
        self.planted = {
            "git password": "gitpw-" + secrets.token_hex(12),
            "ssh key": secrets.token_hex(32),
            "forge token": "ghp_" + secrets.token_hex(16),
            "webhook token": "hooktok-" + secrets.token_hex(12),
            "Prometheus token": "promtok-" + secrets.token_hex(12),
            "Slack URL": "slk" + secrets.token_hex(12),
        }
        self.canaries = [
            Canary(i, f"svc-{i}", gitops=i % 2 == 0, pull_request=i % 4 == 2) for i in range(size.canaries)
        ]
        self.ci_lock = threading.Lock()
        self.stopping = threading.Event()
        self.replicas: list[Replica] = []
        self.metrics_seen: list[str] = []
        #: the round under way (injectors that change their fault per round read it) and when it began
        self.round = 0
        self.round_began = 0.0
        #: releases committed to Git in each round (a Git fault waits for them: CI is not under test)
        self.committed: Counter[int] = Counter()
        #: the GitOps agent: the HEAD it last applied for each canary, and its last error
        self.agent_applied: dict[str, str] = {}
        self.agent_error = ""
        #: each canary's status.lastAppliedSpec when the round began
        self.applied_before: dict[str, Any] = {}

    # ------------------------------------------------------------------------------ helpers
    def say(self, text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)

    def kubectl(self, *args: str, input: str | None = None) -> str:
        return kubectl(self.cluster.kubeconfig, *args, input=input)

    def apply(self, *objects: dict[str, Any]) -> None:
        self.kubectl("apply", "-f", "-", input="\n---\n".join(json.dumps(o) for o in objects))

    def status(self, name: str) -> dict[str, Any]:
        try:
            body = self.custom.get_namespaced_custom_object("canary.dev", "v1alpha1", NS, "canaries", name)
        except (client.ApiException, OSError, Exception):  # the API may be restarting
            return {}
        return dict(body.get("status") or {})

    def container_image(self, deployment_name: str) -> str:
        try:
            d = self.apps.read_namespaced_deployment(deployment_name, NS)
        except Exception:
            return ""
        return str(d.spec.template.spec.containers[0].image)

    def route(self, name: str) -> tuple[int, int] | None:
        try:
            r = self.custom.get_namespaced_custom_object(
                "gateway.networking.k8s.io", "v1", NS, "httproutes", name
            )
        except Exception:
            return None
        refs = {
            b["name"]: b.get("weight", 1)
            for b in (r.get("spec", {}).get("rules") or [{}])[0].get("backendRefs", [])
        }
        return refs.get(f"{name}-primary", 0), refs.get(f"{name}-canary", 0)

    def leader(self) -> Replica | None:
        try:
            lease = client.CoordinationV1Api(self.api).read_namespaced_lease("canary-controller", NS)
        except Exception:
            return None
        holder = lease.spec.holder_identity if lease.spec else None
        return next((r for r in self.replicas if r.identity == holder), None)

    # ------------------------------------------------------------------------------ start
    def start(self) -> None:
        self._start_cluster()
        self._start_git()
        self._start_receivers()
        self._start_workloads()
        self._start_controllers()

    def _start_cluster(self) -> None:
        w = self.workdir
        (w / "audit-policy.yaml").write_text(AUDIT_POLICY)
        self.say("starting the control plane (with an audit log), Prometheus, the git remote and the forge")
        self.cluster = LocalCluster(w / "cluster", audit_policy=w / "audit-policy.yaml", pod_cidr=POD_CIDR)
        self.stack.callback(self.cluster.stop)
        self.cluster.start()
        self.api: Any = config.new_client_from_config(config_file=str(self.cluster.kubeconfig))  # type: ignore[no-untyped-call]
        self.stack.callback(self.api.close)
        self.custom: Any = client.CustomObjectsApi(self.api)
        self.apps: Any = client.AppsV1Api(self.api)
        self.kubectl(
            "apply",
            "--server-side",
            *(
                f"--filename={REPO / 'crds' / f'{kind}.yaml'}"
                for kind in ("canaries", "metrictemplates", "alertproviders")
            ),
            # Traefik runs its CRD provider too: without its CRDs it logs a failure every second.
            *upstream_crds.files("gateway-api", "traefik"),
        )
        wait_for_crds([kubectl_path(), f"--kubeconfig={self.cluster.kubeconfig}"], "crd", "--all")
        self.kubectl("create", "namespace", NS)

        self.prometheus = Prometheus(w / "prometheus")
        self.stack.callback(self.prometheus.stop)
        self.prometheus.start()
        self.auth_proxy = AuthProxy(self.prometheus.url, self.planted["Prometheus token"])
        self.stack.callback(self.auth_proxy.stop)

    def _start_git(self) -> None:
        w = self.workdir
        (w / "remotes").mkdir()
        self.git_server = GitHTTPServer(w / "remotes", credentials=("canary", self.planted["git password"]))
        self.git_server.start()
        self.stack.callback(self.git_server.stop)
        url = self.git_server.create_repo("config")
        self.bare = w / "remotes" / "config.git"
        self.git_proxy = FaultProxy(("127.0.0.1", self.git_server.port), delay=1.0).start()
        self.stack.callback(self.git_proxy.stop)
        self.git_url = url.replace(f"127.0.0.1:{self.git_server.port}", self.git_proxy.address)
        self.forge = FakeForge(self.planted["forge token"], git_dir=self.bare).start()
        self.stack.callback(self.forge.stop)
        authed = url.replace("http://", f"http://canary:{self.planted['git password']}@")
        seed_dir = w / "seed"
        seed_dir.mkdir()
        git(seed_dir, "init", "--quiet", "--initial-branch=main")
        for c in self.canaries:
            if c.gitops:
                path = seed_dir / "apps" / c.name / "deployment.yaml"
                path.parent.mkdir(parents=True)
                path.write_text(yaml.safe_dump(deployment(c.name, 0, faulty=False), sort_keys=False))
        (seed_dir / "README.md").write_text("config repository of the fault suite\n")
        git(seed_dir, "add", ".")
        git(seed_dir, "commit", "--quiet", "-m", "initial")
        git(seed_dir, "push", "--quiet", authed, "HEAD:main")
        self.person = Person(authed, w / "ci")

    def _start_receivers(self) -> None:
        self.say("starting the receivers")
        self.receivers = HookServer()
        self.stack.callback(self.receivers.close)
        host, port = self.receivers.url.removeprefix("http://").split(":")
        self.side = FaultProxy((host, int(port))).start()
        self.stack.callback(self.side.stop)
        self.slack_path = f"/slack/T0/B0/{self.planted['Slack URL']}"
        for path in ("/events", "/post", self.slack_path):
            self.receivers.answer(path, 200, "ok")
        for c in self.canaries:
            self.receivers.answer(f"/gate/{c.name}", 200, "ok")
            c.gate = FaultProxy((host, int(port))).start()
            self.stack.callback(c.gate.stop)

    def _start_workloads(self) -> None:
        w = self.workdir
        self.say("starting Traefik as the Gateway 'public', the stand-ins of the Pods and the load tester")
        self.traefik = LocalTraefik(w / "traefik", self.cluster.kubeconfig)
        self.stack.callback(self.traefik.stop)
        self.traefik.start()
        self.apply(gateway_class(), gateway(NS, "public", self.traefik.web_port))
        self.standins = StandIns(self.api, NS, prometheus=self.prometheus)
        self.stack.callback(self.standins.stop)
        self.loadtester = LoadTester(w / "loadtester.log")
        self.loadtester.start()
        self.stack.callback(self.loadtester.stop)

        self._secrets_and_templates()
        for c in self.canaries:
            c.promoted_image = image(c.name, 0)
            if not c.gitops:
                self.apply(deployment(c.name, 0, faulty=False))
        self.agent = threading.Thread(target=self._agent, name="gitops-agent", daemon=True)
        self.agent.start()
        self.stack.callback(self.stopping.set)
        self._wait(lambda: all(self.container_image(c.name) for c in self.canaries), "the targets", 60)
        for c in self.canaries:
            answer = self.loadtester.post(
                "/",
                {
                    "name": c.name,
                    "namespace": NS,
                    "metadata": {
                        "type": "load",
                        "url": f"{self.traefik.url}/",
                        "headers": f"Host: {host(c.name)}",
                        "rate": "8",
                        "duration": "1h",
                        "mode": "async",
                    },
                },
            )
            if answer.status_code >= 300:
                raise RuntimeError(f"the load tester refused the load of {c.name}: {answer.text}")

    def _start_controllers(self) -> None:
        self.say("starting two controller replicas with leader election")
        for identity in ("replica-a", "replica-b"):
            r = Replica(self, identity)
            r.start()
            self.replicas.append(r)
            self.stack.callback(r.stop)
        self.apply(*(self._canary(c) for c in self.canaries))
        self._wait(
            lambda: all(self.status(c.name).get("phase") == "Initialized" for c in self.canaries),
            "every canary Initialized",
            120,
        )

    def _secrets_and_templates(self) -> None:
        p = self.planted
        ssh_key = f"-----BEGIN OPENSSH PRIVATE KEY-----\n{p['ssh key']}\n-----END OPENSSH PRIVATE KEY-----\n"

        def secret(name: str, data: dict[str, str]) -> dict[str, Any]:
            encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
            return {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": name, "namespace": NS},
                "data": encoded,
            }

        self.apply(
            secret(
                "git-creds",
                {
                    "username": "canary",
                    "password": p["git password"],
                    "bearerToken": p["forge token"],
                    "identity": ssh_key,
                    "known_hosts": "127.0.0.1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleOnly\n",
                },
            ),
            secret("hook-token", {"token": p["webhook token"]}),
            secret("prom-token", {"token": p["Prometheus token"]}),
            secret("slack", {"address": f"{self.side.url}{self.slack_path}"}),
            {
                "apiVersion": "canary.dev/v1alpha1",
                "kind": "MetricTemplate",
                "metadata": {"name": "prometheus-up", "namespace": NS},
                "spec": {
                    "provider": {
                        "type": "prometheus",
                        "address": self.auth_proxy.url,
                        "secretRef": {"name": "prom-token"},
                    },
                    "query": "vector(1)",
                },
            },
            {
                "apiVersion": "canary.dev/v1alpha1",
                "kind": "AlertProvider",
                "metadata": {"name": "slack", "namespace": NS},
                "spec": {"type": "slack", "channel": "releases", "secretRef": {"name": "slack"}},
            },
        )

    def _canary(self, c: Canary) -> dict[str, Any]:
        assert c.gate is not None
        spec: dict[str, Any] = {
            "provider": "gatewayapi",
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": c.name},
            "service": {
                "port": 9898,
                "targetPort": "http",
                "gatewayRefs": [{"name": "public"}],
                "hosts": [host(c.name)],
            },
            "progressDeadlineSeconds": 120,
            "analysis": {
                "interval": f"{INTERVAL:g}s",
                "threshold": 2,
                "maxHeldChecks": 30,
                "stepWeight": 25,
                "maxWeight": 50,
                "metrics": [
                    {"name": "request-success-rate", "interval": "10s", "thresholdRange": {"min": 95}},
                    {
                        "name": "prometheus-up",
                        "templateRef": {"name": "prometheus-up"},
                        "thresholdRange": {"min": 1},
                    },
                ],
                "webhooks": [
                    {
                        "name": "gate",
                        "type": "rollout",
                        "url": f"{c.gate.url}/gate/{c.name}",
                        "timeout": "1s",
                        "tokenSecretRef": {"name": "hook-token", "key": "token"},
                    },
                    {"name": "events", "type": "event", "url": f"{self.side.url}/events", "timeout": "1s"},
                    {"name": "post", "type": "post-rollout", "url": f"{self.side.url}/post", "timeout": "1s"},
                ],
                "alerts": [{"name": "chat", "severity": "info", "providerRef": {"name": "slack"}}],
            },
        }
        if c.gitops:
            gitops: dict[str, Any] = {
                "repository": {"url": self.git_url, "secretRef": {"name": "git-creds"}},
                "path": f"apps/{c.name}",
                "revisionFrom": "annotation",
            }
            if c.pull_request:
                gitops["onRollback"] = "pullRequest"
                gitops["forge"] = {"provider": "github", "apiURL": self.forge.url, "project": "acme/config"}
            spec["gitops"] = gitops
        return {
            "apiVersion": "canary.dev/v1alpha1",
            "kind": "Canary",
            "metadata": {"name": c.name, "namespace": NS},
            "spec": spec,
        }

    def _wait(self, check: Callable[[], bool], what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.5)
        raise RuntimeError(f"timed out after {timeout:g}s waiting for {what}")

    # ------------------------------------------------------------------------------ the GitOps agent
    def _agent(self) -> None:
        """Apply HEAD of the config repository every second, as Flux would (direct, not faulted)."""
        applied = self.agent_applied
        while not self.stopping.wait(1.0):
            try:
                with self.ci_lock:
                    head = self.person.sync()
                    manifests = {
                        c.name: (self.person.dir / "apps" / c.name / "deployment.yaml").read_text()
                        for c in self.canaries
                        if c.gitops
                    }
                for name, text in manifests.items():
                    if applied.get(name) == head:
                        continue
                    body = yaml.safe_load(text)
                    body["metadata"].setdefault("annotations", {})["canary.dev/git-revision"] = head
                    self.apply(body)
                    applied[name] = head
                self.agent_error = ""
            except Exception as e:  # the API or Git may be restarting: the next pass catches up
                self.agent_error = f"{type(e).__name__}: {e}"[:300]

    # ------------------------------------------------------------------------------ releasing
    def release(self, c: Canary, scenario: str, healthy: bool) -> Rollout:
        with c.lock:
            c.version += 1
            version = c.version
        before = self.status(c.name)
        old = {before.get("lastAppliedSpec"), before.get("lastPromotedSpec")}
        r = Rollout(scenario, c.name, version, healthy, c.gitops, time.time())
        body = deployment(c.name, version, faulty=not healthy)
        if c.gitops:
            with self.ci_lock:
                self._commit(c, body, version)
                self.committed[self.round] += 1
        else:
            patch = {"spec": {"template": body["spec"]["template"]}}
            for _ in range(30):
                try:
                    self.apps.patch_namespaced_deployment(c.name, NS, patch)
                    break
                except Exception:
                    time.sleep(1)
        deadline = time.monotonic() + 300
        status: dict[str, Any] = {}
        while time.monotonic() < deadline:
            status = self.status(c.name)
            applied = status.get("lastAppliedSpec")
            if applied and applied not in old and status.get("phase") in ("Succeeded", "Failed"):
                break
            time.sleep(0.5)
        else:
            r.stuck = True
            r.note = (
                f"still {status.get('phase')} at {status.get('canaryWeight')}% after 300 s; target "
                f"{self.container_image(c.name)}, applied {status.get('lastAppliedSpec')}, agent at "
                f"{self.agent_applied.get(c.name, '-')[:12]} ({self.agent_error or 'no error'})"
            )
            self._keep_evidence(c, r, status)
            r.ended = time.time()
            return r
        r.ended, r.phase, r.revision = time.time(), status["phase"], status["lastAppliedSpec"]
        primary = self.container_image(f"{c.name}-primary")
        route = self.route(c.name)
        if healthy:
            r.correct = r.phase == "Succeeded" and primary == image(c.name, version) and route == (100, 0)
        else:
            r.correct = r.phase == "Failed" and primary == c.promoted_image and route == (100, 0)
        if r.phase == "Succeeded" and primary:
            c.promoted_image = primary  # what the primary runs now, right or wrong: the next run starts there
        if not r.correct:
            seen = "; ".join(
                f"{m.get('name')}: {m.get('message')}"
                for m in (status.get("lastAnalysis") or {}).get("metrics") or []
            )
            r.note = f"{r.phase}, primary {primary}, route {route}; last analysis: {seen}"
            self._keep_evidence(c, r, status)
        if c.gitops and r.phase == "Failed":
            r.git_done = self._reverted(c, r)
            r.correct = r.correct and r.git_done
        return r

    def _commit(self, c: Canary, body: dict[str, Any], version: int) -> None:
        """CI's release commit, made on the remote's tip; a push that loses a race (the controller
        pushed a revert meanwhile) is made again on the new tip, as CI would."""
        path = f"apps/{c.name}/deployment.yaml"
        error = ""
        for _ in range(10):
            try:
                self.person.sync()
                (self.person.dir / path).write_text(yaml.safe_dump(body, sort_keys=False))
                git(self.person.dir, "add", path)
                git(self.person.dir, "commit", "--quiet", "-m", f"{c.name} {image(c.name, version)}")
                git(self.person.dir, "push", "--quiet", "origin", "HEAD:main")
                return
            except subprocess.CalledProcessError as e:
                error = (e.stderr or str(e)).strip()[-300:]
                time.sleep(0.5)
        raise RuntimeError(f"CI could not push the release of {c.name}: {error}")

    def _merge(self, branch: str) -> None:
        """A person merges the pull request: its branch into main with a merge commit, made again from
        the new tip if main moved meanwhile (never rebased: that would copy the controller's commit)."""
        d = self.person.dir
        try:
            for _ in range(10):
                try:
                    self.person.sync()
                    git(d, "fetch", "--quiet", "origin", branch)
                    git(d, "merge", "--quiet", "--no-edit", "FETCH_HEAD")
                    git(d, "push", "--quiet", "origin", "HEAD:main")
                    return
                except subprocess.CalledProcessError:
                    time.sleep(0.5)
            raise RuntimeError(f"could not merge {branch}")
        finally:
            self.person.sync()  # nothing of ours left unpushed

    def _keep_evidence(self, c: Canary, r: Rollout, status: dict[str, Any]) -> None:
        """What a wrong outcome looked like, in the work directory (kept with --keep)."""
        folder = self.workdir / "wrong"
        folder.mkdir(exist_ok=True)
        try:
            events = self.kubectl(
                "get",
                "events",
                "-n",
                NS,
                "--field-selector",
                f"involvedObject.name={c.name}",
                "--sort-by=.lastTimestamp",
            )
        except RuntimeError as e:
            events = str(e)
        (folder / f"{c.name}-v{r.version}.txt").write_text(
            f"{r}\n\nstatus: {json.dumps(status, indent=1)}\n\nevents:\n{events}\n"
        )

    def _reverted(self, c: Canary, r: Rollout) -> bool:
        """The revert of a failed GitOps release: recorded, in Git (merged, for a pull request), applied
        by the agent, and the Canary back on the promoted spec without a new run."""
        deadline = time.monotonic() + 240
        write: dict[str, Any] = {}
        while time.monotonic() < deadline:
            gitops = self.status(c.name).get("gitops") or {}
            write = gitops.get("lastWrite") or {}
            if write.get("revision") == r.revision and not gitops.get("pending"):
                break
            time.sleep(0.5)
        else:
            pending = (self.status(c.name).get("gitops") or {}).get("pending")
            r.note = f"the revert was never recorded (pending: {pending})"
            return False
        if write.get("result") == "pullRequest":
            branch = f"canary/rollback/{NS}/{c.name}-{r.revision[:16]}"
            with self.ci_lock:
                self._merge(branch)
        elif write.get("result") != "committed":
            r.note = f"the revert was {write.get('result')}: {write.get('message')}"
            return False
        while time.monotonic() < deadline:
            s = self.status(c.name)
            if self.container_image(c.name) == c.promoted_image and s.get("lastAppliedSpec") == s.get(
                "lastPromotedSpec"
            ):
                return s.get("phase") == "Failed"
            time.sleep(0.5)
        r.note = "the agent's apply of the revert was never seen"
        return False


# ---------------------------------------------------------------------------------------------- scenarios
Injector = Callable[[Stage, threading.Event, Injected], None]


@dataclass(frozen=True)
class Scenario:
    name: str
    rounds: int
    inject: Injector
    #: (canary, round) -> healthy?
    healthy: Callable[[Canary, int], bool]
    #: a fault applied at each round's start (and cleared after ``hold`` seconds)
    round_fault: Callable[[Stage, Injected], Callable[[], None]] | None = None


def rounds(stage: Stage, stop: threading.Event) -> Iterator[int]:
    """Each round of the scenario as it starts (for injectors that act once per round)."""
    current = -1
    while not stop.wait(0.2):
        if stage.round not in (current, -1):
            current = stage.round
            yield current


def alternate(c: Canary, k: int) -> bool:
    return (c.index + k) % 2 == 0


def gitops_faulty(c: Canary, k: int) -> bool:
    return not c.gitops


def nothing(stage: Stage, stop: threading.Event, done: Injected) -> None:
    stop.wait()


def kill_controllers(stage: Stage, stop: threading.Event, done: Injected) -> None:
    """SIGKILL a replica every 1.5-4.5 s (the leader three times in four), and start it again at once."""
    while not stop.wait(stage.rng.uniform(1.5, 4.5)):
        leader = stage.leader()
        others = [r for r in stage.replicas if r is not leader]
        victim = (
            leader
            if leader is not None and stage.rng.random() < 0.75
            else stage.rng.choice(others or stage.replicas)
        )
        victim.kill()
        done.count["kills"] += 1
        done.count["leader kills" if victim is leader else "standby kills"] += 1
        victim.start()


def pause_leader(stage: Stage, stop: threading.Event, done: Injected) -> None:
    """SIGSTOP the leader past its Lease (the other takes over), then SIGCONT it: a partitioned leader
    that comes back believing it still leads."""
    while not stop.wait(stage.rng.uniform(4.0, 9.0)):
        leader = stage.leader()
        if leader is None:
            continue
        leader.pause()
        stop.wait(LEASE + 2.0)
        leader.resume()
        done.count["pauses"] += 1


def restart(component: str) -> Injector:
    """Once in each round, 3-8 s into it (canaries mid-rollout): ``component`` killed and restarted."""

    def inject(stage: Stage, stop: threading.Event, done: Injected) -> None:
        for _ in rounds(stage, stop):
            if stop.wait(stage.rng.uniform(3.0, 8.0)):
                return
            stage.cluster.restart(component)
            done.count[f"{component} restarts"] += 1

    return inject


def restart_control_plane(stage: Stage, stop: threading.Event, done: Injected) -> None:
    """In each round, the API server 3-5 s into it and etcd 4-6 s after that."""
    for _ in rounds(stage, stop):
        for component, wait in (("kube-apiserver", (3.0, 5.0)), ("etcd", (4.0, 6.0))):
            if stop.wait(stage.rng.uniform(*wait)):
                return
            stage.cluster.restart(component)
            done.count[f"{component} restarts"] += 1


def stop_prometheus(stage: Stage, stop: threading.Event, done: Injected) -> None:
    """Prometheus down for three intervals while canaries are being analysed (at most once every 20 s),
    then up again: the runs hold while blind and resume after."""
    last = 0.0
    while not stop.wait(0.5):
        analysed = [c for c in stage.canaries if stage.status(c.name).get("canaryWeight", 0) >= 25]
        if not analysed or time.monotonic() - last < 20:
            continue
        began = time.time()
        stage.prometheus.stop()
        stop.wait(3 * INTERVAL + 0.5)
        stage.prometheus.start()
        done.blind.append((began, time.time()))
        done.count["Prometheus stops"] += 1
        last = time.monotonic()


RECEIVER_MODES = ("5xx", "hang", "reset")


def receivers(modes: tuple[str, ...]) -> Injector:
    """In round k the event, post-rollout and notification receivers fail the whole round in mode
    ``modes[k]`` (5xx, hang past their timeout, reset), and each run's gate fails one check that way."""

    def inject(stage: Stage, stop: threading.Event, done: Injected) -> None:
        faulted: set[tuple[str, str]] = set()
        current = -1
        while not stop.wait(0.2):
            if stage.round == -1:
                continue
            mode = modes[stage.round % len(modes)]
            if stage.round != current:
                current = stage.round
                _side(stage, mode)
                done.count[f"receivers {mode}"] += 1
            for c in stage.canaries:
                s = stage.status(c.name)
                key = (c.name, str(s.get("lastAppliedSpec")))
                if s.get("phase") == "Progressing" and s.get("canaryWeight", 0) >= 25 and key not in faulted:
                    faulted.add(key)
                    threading.Thread(target=_gate_fault, args=(stage, c, mode, done), daemon=True).start()
        _side(stage, "open")

    return inject


def _side(stage: Stage, mode: str) -> None:
    status = 500 if mode == "5xx" else 200
    for path in ("/events", "/post", stage.slack_path):
        stage.receivers.answer(path, status, "receiver failing" if status == 500 else "ok")
    stage.side.set({"hang": Mode.HANG, "reset": Mode.RESET}.get(mode, Mode.OPEN))


def _gate_fault(stage: Stage, c: Canary, mode: str, done: Injected) -> None:
    assert c.gate is not None
    began = time.time()
    if mode == "5xx":
        stage.receivers.answer(f"/gate/{c.name}", 503, "gate failing")
    else:
        c.gate.set(Mode.HANG if mode == "hang" else Mode.RESET)
    time.sleep(1.2)  # one check of a 2 s interval
    stage.receivers.answer(f"/gate/{c.name}", 200, "ok")
    c.gate.set(Mode.OPEN)
    done.gate_faults.append((c.name, began, time.time()))
    done.count[f"gate {mode}"] += 1


GIT_MODES = ("down", "refusing pushes", "hang", "slow", "forge 500")


def git_fault(modes: tuple[str, ...]) -> Injector:
    """In round k the Git path fails in mode ``modes[k]`` from the round's start until 8 s after the
    first GitOps canary of the round is rolled back (so that the revert's first attempts meet the
    fault), then recovers."""

    def inject(stage: Stage, stop: threading.Event, done: Injected) -> None:
        for current in rounds(stage, stop):
            mode = modes[current % len(modes)]
            while stage.committed[current] < sum(c.gitops for c in stage.canaries) and not stop.wait(0.1):
                pass  # CI's release commits go in first: the fault is on the controller's path
            gitops = [c for c in stage.canaries if c.gitops]
            before = dict(stage.applied_before)
            _git(stage, mode)
            done.count[f"git {mode}"] += 1
            while not stop.wait(0.5):
                now = {c.name: stage.status(c.name) for c in gitops}
                if any(
                    s.get("phase") == "Failed" and s.get("lastAppliedSpec") != before[n]
                    for n, s in now.items()
                ):
                    break  # this round's first GitOps rollback
            stop.wait(8.0)
            _git(stage, "open")
        _git(stage, "open")

    return inject


def _git(stage: Stage, mode: str) -> None:
    hook = stage.bare / "hooks" / "pre-receive"
    stage.git_proxy.set({"down": Mode.DOWN, "hang": Mode.HANG, "slow": Mode.SLOW}.get(mode, Mode.OPEN))
    if mode == "refusing pushes":
        hook.write_text("#!/bin/sh\necho 'pushes are refused for maintenance' >&2\nexit 1\n")
        hook.chmod(0o755)
    else:
        hook.unlink(missing_ok=True)
    stage.forge.failing = 500 if mode == "forge 500" else None


def without_leader_election(stage: Stage, stop: threading.Event, done: Injected) -> None:
    """The control of the double-driven measure: both replicas run without leader election."""
    for r in stage.replicas:
        r.stop()
        r.extra = ("--no-leader-election",)
        r.start()
    done.count["replicas without leader election"] = len(stage.replicas)
    stop.wait()
    for r in stage.replicas:
        r.stop()
        r.extra = ()
        r.start()


CONTROL = "control: two replicas WITHOUT leader election"


def scenarios(size: Size) -> list[Scenario]:
    rounds = size.rounds
    out = [
        Scenario("controller SIGKILLed (two replicas)", size.kill_rounds, kill_controllers, alternate),
        Scenario("leader paused past its Lease", rounds, pause_leader, alternate),
    ]
    if size.one_per_mode:
        out += [
            Scenario("kube-apiserver restarted", rounds, restart("kube-apiserver"), alternate),
            Scenario("etcd restarted", rounds, restart("etcd"), alternate),
        ]
    else:
        out.append(Scenario("kube-apiserver and etcd restarted", rounds, restart_control_plane, alternate))
    out.append(Scenario("Prometheus stopped for 3 intervals", rounds, stop_prometheus, alternate))
    if size.one_per_mode:
        out += [Scenario(f"receivers {m}", rounds, receivers((m,)), alternate) for m in RECEIVER_MODES]
        out += [Scenario(f"Git {m}", rounds, git_fault((m,)), gitops_faulty) for m in GIT_MODES]
    else:
        out.append(
            Scenario("receivers 5xx, hang, reset", len(RECEIVER_MODES), receivers(RECEIVER_MODES), alternate)
        )
        out.append(
            Scenario(
                "Git down, refusing, hang, slow; forge 500",
                len(GIT_MODES),
                git_fault(GIT_MODES),
                gitops_faulty,
            )
        )
    out.append(Scenario(CONTROL, 1, without_leader_election, alternate))
    return out


# ---------------------------------------------------------------------------------------------- running
def run_scenario(stage: Stage, scenario: Scenario, results: list[Rollout]) -> tuple[Injected, float, float]:
    stage.say(f"scenario: {scenario.name} ({scenario.rounds} round(s) of {len(stage.canaries)} releases)")
    done = Injected()
    stop = threading.Event()
    began = time.time()
    stage.round = -1  # no round yet: injectors that act per round wait for the first
    stage.committed.clear()
    injector = threading.Thread(
        target=scenario.inject, args=(stage, stop, done), name="injector", daemon=True
    )
    injector.start()
    try:
        for k in range(scenario.rounds):
            stage.applied_before = {
                c.name: stage.status(c.name).get("lastAppliedSpec") for c in stage.canaries
            }
            stage.round, stage.round_began = k, time.monotonic()
            out: list[Rollout] = []
            threads = [
                threading.Thread(target=_release, args=(stage, c, scenario, k, out), daemon=True)
                for c in stage.canaries
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            results.extend(out)
            ok = sum(r.correct for r in out)
            stage.say(
                f"  round {k + 1}: {ok} of {len(out)} correct"
                + "".join(f"; {r.canary}: {r.note}" for r in out if r.note)
            )
    finally:
        stop.set()
        injector.join(60)
        for r in stage.replicas:
            if r.paused:
                r.resume()
            if r.proc is None:
                r.start()
        stage.metrics_seen += [r.metrics() for r in stage.replicas]
    return done, began, time.time()


def _release(stage: Stage, c: Canary, scenario: Scenario, k: int, out: list[Rollout]) -> None:
    healthy = scenario.healthy(c, k)
    try:
        out.append(stage.release(c, scenario.name, healthy))
    except Exception as e:  # counted as a wrong outcome, with what happened
        r = Rollout(scenario.name, c.name, c.version, healthy, c.gitops, time.time(), time.time())
        r.note = f"the release itself failed: {type(e).__name__}: {e}"
        out.append(r)


def run(
    size_name: str = "small", *, seed: int = 1, workdir: Path | None = None, keep: bool = False
) -> Report:
    size = SIZES[size_name]
    if not pod_range_is_local():
        raise RuntimeError(
            "the pod ranges are not a local route here: run inside controlplane/netns.sh "
            "(make test does), so that the stand-ins can bind the Pods' IPs"
        )
    for noisy in ("kubernetes", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    workdir = workdir or scratch_dir("canary-chaos-")
    stage = Stage(workdir, size, seed)
    t0 = time.time()
    rollouts: list[Rollout] = []
    windows: list[tuple[Scenario, Injected, float, float]] = []
    try:
        with stage.stack:
            stage.start()
            for scenario in scenarios(size):
                injected, began, ended = run_scenario(stage, scenario, rollouts)
                windows.append((scenario, injected, began, ended))
            for r in stage.replicas:
                r.stop()
            stage.metrics_seen.append(stage.kubectl("get", "events", "-n", NS, "-o", "json"))
            report = measure(stage, windows, rollouts, size_name, time.time() - t0)
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return report


# ---------------------------------------------------------------------------------------------- measuring
def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def audit_writes(path: Path) -> list[dict[str, Any]]:
    """The controllers' successful writes, from the API server's audit log."""
    out = []
    with open(path) as f:
        for line in f:
            try:
                e = json.loads(line)
            except ValueError:
                continue
            agent = e.get("userAgent") or ""
            code = (e.get("responseStatus") or {}).get("code", 0)
            if e.get("stage") != "ResponseComplete" or not agent.startswith("canary/") or code >= 300:
                continue
            m = re.search(r"\(([^)]+)\)", agent)
            ref = e.get("objectRef") or {}
            name = str(ref.get("name") or "").removesuffix("-primary")
            out.append(
                {
                    "t": _ts(e["requestReceivedTimestamp"]),
                    "who": m.group(1) if m else agent,
                    "resource": ref.get("resource"),
                    "subresource": ref.get("subresource"),
                    "object": ref.get("name"),
                    "canary": name,
                    "verb": e.get("verb"),
                    "body": e.get("requestObject"),
                }
            )
    out.sort(key=lambda w: w["t"])
    return out


def double_driven(writes: list[dict[str, Any]], began: float, ended: float) -> int:
    """Writes to one canary's objects by two replicas less than an interval apart."""
    by_canary: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for w in writes:
        if began <= w["t"] <= ended:
            by_canary[w["canary"]].append(w)
    count = 0
    for seq in by_canary.values():
        for a, b in itertools.pairwise(seq):
            if a["who"] != b["who"] and b["t"] - a["t"] < INTERVAL:
                count += 1
    return count


def _weights(body: Any) -> tuple[int, int] | None:
    try:
        refs = {b["name"]: b.get("weight", 1) for b in body["spec"]["rules"][0]["backendRefs"]}
    except (KeyError, IndexError, TypeError):
        return None
    primary = next((v for k, v in refs.items() if k.endswith("-primary")), None)
    canary = next((v for k, v in refs.items() if k.endswith("-canary")), None)
    return (primary, canary) if primary is not None and canary is not None else None


def controller_rollbacks(stage: Stage) -> list[tuple[float, str, float]]:
    """(time, canary, seconds from the decision to the route's answer) from both replicas' logs."""
    out = []
    pattern = re.compile(r"rollback of [^/]+/(\S+): all traffic on the primary ([0-9.]+)s after the decision")
    for r in stage.replicas:
        for line in r.log.read_text(errors="replace").splitlines():
            if "rollback of" not in line:
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            m = pattern.search(record.get("message", ""))
            if m:
                out.append((_ts(record["time"]), m.group(1), float(m.group(2))))
    return out


def duplicate_commits(stage: Stage) -> list[tuple[float, str]]:
    """(commit time, description) of every commit, on any branch of the remote, that repeats the
    verdict trailers (Canary, Canary-Revision, Canary-Verdict) of an earlier one."""
    out = subprocess.run(
        [
            "git",
            "--git-dir",
            str(stage.bare),
            "log",
            "--all",
            "--reverse",
            "--format=%H%x00%ct%x00%s%x00%(trailers:unfold,only)%x1e",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    first: dict[tuple[str, str, str], str] = {}
    repeats = []
    for record in out.split("\x1e"):
        parts = record.strip().split("\x00")
        if len(parts) < 4:
            continue
        sha, when, subject, text = parts[:4]
        t = dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)
        if "Canary" not in t:
            continue
        key = (t["Canary"], t.get("Canary-Revision", ""), t.get("Canary-Verdict", ""))
        if key in first:
            repeats.append((float(when), f"{sha[:12]} repeats {first[key][:12]}: {subject}"))
        else:
            first[key] = sha
    return repeats


@dataclass
class Seen:
    """What was observed from outside the controllers over the whole run."""

    writes: list[dict[str, Any]]
    routes: list[dict[str, Any]]
    rollbacks: list[tuple[float, str, float]]
    gate_calls: dict[str, list[float]]


def _row(
    scenario: Scenario, injected: Injected, span: tuple[float, float], mine: list[Rollout], seen: Seen
) -> Row:
    began, ended = span
    writes, routes, rollbacks, gate_calls = seen.writes, seen.routes, seen.rollbacks, seen.gate_calls
    row = Row(scenario.name, seconds=ended - began)
    row.runs = len(mine)
    row.correct = sum(r.correct for r in mine)
    row.false_promotions = sum(1 for r in mine if not r.healthy and r.phase == "Succeeded")
    row.stuck = sum(r.stuck for r in mine)
    row.double_driven = double_driven(writes, began, ended)
    row.injected = ", ".join(f"{n} {what}" for what, n in sorted(injected.count.items()))
    inside = [(t, c, s) for t, c, s in rollbacks if began <= t <= ended]
    row.rollbacks = len(inside)
    if inside:
        row.decision_to_route = max(s for _, _, s in inside)
    outside = [
        o for t, name, _ in inside if (o := _outside(t, name, routes, gate_calls, injected)) is not None
    ]
    if outside:
        row.check_to_route = max(outside)
    primary_patches = [
        w
        for w in writes
        if w["resource"] == "deployments" and str(w["object"]).endswith("-primary") and w["verb"] == "patch"
    ]
    row.promotions_blind = sum(
        1 for w in primary_patches for a, b in injected.blind if a + 1.0 <= w["t"] <= b
    )
    row.notes += [
        f"{r.canary} v{r.version} ({'healthy' if r.healthy else 'faulty'}): {r.note}" for r in mine if r.note
    ]
    return row


def _outside(
    t: float, name: str, routes: list[dict[str, Any]], gate_calls: dict[str, list[float]], injected: Injected
) -> float | None:
    """From the arrival of the rollback's deciding check at the gate to the route patch sending all
    traffic to the primary, at the API server; None when the deciding call met a gate fault (its end is
    then the controller's timeout, not an answer)."""
    patch = next(
        (
            w
            for w in reversed(routes)
            if w["canary"] == name and w["t"] <= t + 0.5 and _weights(w["body"]) == (100, 0)
        ),
        None,
    )
    if patch is None:
        return None
    calls = [at for at in gate_calls[name] if at <= patch["t"]]
    if not calls:
        return None
    last = calls[-1]
    if any(c == name and a - 0.1 <= last <= b + 0.1 for c, a, b in injected.gate_faults):
        return None
    return float(patch["t"] - last)


def measure(
    stage: Stage,
    windows: list[tuple[Scenario, Injected, float, float]],
    rollouts: list[Rollout],
    size: str,
    seconds: float,
) -> Report:
    writes = audit_writes(stage.cluster.audit_log)
    routes = [w for w in writes if w["resource"] == "httproutes" and w["verb"] == "patch"]
    rollbacks = controller_rollbacks(stage)
    gate_calls: dict[str, list[float]] = defaultdict(list)
    for call in stage.receivers.calls:
        if call.path.startswith("/gate/"):
            gate_calls[call.path.removeprefix("/gate/")].append(call.at)
    wrong_tokens = sum(
        1
        for call in stage.receivers.calls
        if call.path.startswith("/gate/")
        and call.headers.get("Authorization") != f"Bearer {stage.planted['webhook token']}"
    )
    rows = []
    repeats = duplicate_commits(stage)
    for scenario, injected, began, ended in windows:
        mine = [r for r in rollouts if r.scenario == scenario.name]
        row = _row(scenario, injected, (began, ended), mine, Seen(writes, routes, rollbacks, gate_calls))
        dups = [text for when, text in repeats if began - 1 <= when <= ended + 1]
        row.duplicate_commits = len(dups)
        row.notes += dups
        rows.append(row)
    attributed = sum(r.duplicate_commits for r in rows)
    if rows and attributed < len(repeats):  # made between scenarios: counted in the first row, never lost
        rows[0].duplicate_commits += len(repeats) - attributed
    if wrong_tokens:
        rows[0].notes.append(f"{wrong_tokens} gate calls without the webhook's bearer token")
    texts = {
        "controller logs": "\n".join(r.log.read_text(errors="replace") for r in stage.replicas),
        "events": stage.kubectl("get", "events", "-n", NS, "-o", "json"),
        "Canary objects (status)": stage.kubectl("get", "canaries", "-n", NS, "-o", "json"),
        "metrics": "\n".join(stage.metrics_seen),
    }
    leaks: dict[str, int] = {}
    for what, value in stage.planted.items():
        forms = {value, base64.b64encode(value.encode()).decode()}
        leaks[what] = sum(text.count(form) for text in texts.values() for form in forms)
    scanned = {k: len(v.splitlines()) for k, v in texts.items()}
    return Report(size, rows, rollouts, leaks, scanned, seconds)


# ---------------------------------------------------------------------------------------------- output
def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f} s"


def table(report: Report) -> str:
    head = (
        "| fault | runs | correct | false promotions | never ended | duplicate Git commits "
        "| double-driven ticks | rollbacks | decision -> route (controller) "
        "| deciding check -> route patch (outside) | promotions while blind | injected |"
    )
    lines = [head, "|" + "---|" * 12]
    rows = [r for r in report.rows if r.scenario != CONTROL]
    rows += [report.total, *(r for r in report.rows if r.scenario == CONTROL)]
    for r in rows:
        lines.append(
            f"| {r.scenario} | {r.runs} | {r.correct} | {r.false_promotions} | {r.stuck} "
            f"| {r.duplicate_commits} | {r.double_driven} | {r.rollbacks} "
            f"| {_s(r.decision_to_route)} | {_s(r.check_to_route)} "
            f"| {r.promotions_blind} | {r.injected} |"
        )
    lines.append("")
    lines.append(
        "Secrets planted and found (controller logs, events, Canary objects, metrics): "
        + ", ".join(f"{k}: {v}" for k, v in report.leaks.items())
        + f" (scanned {', '.join(f'{n} lines of {k}' for k, n in report.scanned.items())})"
    )
    notes = [n for r in report.rows for n in r.notes]
    if notes:
        lines += ["", "Notes:", *(f"- {n}" for n in notes)]
    lines.append(f"\n{report.size} size, {report.seconds / 60:.1f} min")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, audit log)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    report = run(args.size, seed=args.seed, keep=args.keep)
    print(table(report))
    t = report.total
    bad = (
        t.runs - t.correct
        or t.false_promotions
        or t.duplicate_commits
        or t.double_driven
        or sum(report.leaks.values())
    )
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
