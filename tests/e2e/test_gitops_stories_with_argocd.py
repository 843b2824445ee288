"""The GitOps stories with Argo CD as the agent: real application-controller and repo-server (built from
Argo CD's Go module, with Debian's Redis) sync a config repository on the loopback Git remote into the
local cluster through an Application with automated sync, and the real controller runs the canary with
``revisionFrom: argoApplication``: the commit behind the target is the Application's
``status.sync.revision``, found through the tracking annotation Argo CD puts on the Deployment.

1. CI commits a new image to staging, Argo CD syncs it, the canary passes, and the image is committed to
   the production path (a plain manifest, comments kept); the promoted revision is the commit Argo CD
   synced.
2. A faulty image fails its smoke hook, traffic returns to the primary, a revert commit lands on top of
   an unrelated commit pushed meanwhile (which survives), Argo CD syncs the revert, and the cluster, Git,
   the Application and the Canary's status agree on the old version, with no new analysis.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from controlplane.argocd import LocalArgoCD
from controlplane.gitserver import Person, git
from controlplane.hooks import HookServer
from demo.configrepo import manifest
from tests.conftest import Cluster
from tests.operator.conftest import Controller, apply, canary, events, get_canary, image_of, wait_for_phase
from tests.support.waiting import wait_for

STAGING = "apps/web/staging/deployment.yaml"
PRODUCTION = "apps/web/production/deployment.yaml"
IMAGE = "ghcr.io/acme/web"


def production(tag: str) -> str:
    return manifest(f"{IMAGE}:{tag}", comment="web in production: promoted from staging by canary")


class Stage:
    """Staging: the config repository, the Argo CD Application syncing it, the canary's checks."""

    def __init__(
        self, cluster: Cluster, namespace: str, argocd: LocalArgoCD, ci: Person, hooks: HookServer
    ) -> None:
        self.cluster, self.namespace, self.argocd, self.ci, self.hooks = cluster, namespace, argocd, ci, hooks
        # short: with label tracking the name is a label value (at most 63 characters)
        self.app = "web-" + hashlib.sha256(namespace.encode()).hexdigest()[:10]
        self.apps = client.AppsV1Api(cluster.api)
        self.custom = client.CustomObjectsApi(cluster.api)

    def application(self) -> dict[str, Any]:
        return dict(
            self.custom.get_namespaced_custom_object(
                "argoproj.io", "v1alpha1", self.argocd.namespace, "applications", self.app
            )
        )

    def synced(self) -> str:
        """The commit Argo CD last synced, once the Application is Synced and no operation runs."""
        status = self.application().get("status") or {}
        sync, operation = status.get("sync") or {}, (status.get("operationState") or {}).get("phase")
        if sync.get("status") != "Synced" or operation in ("Running", "Terminating"):
            return ""
        return str(sync.get("revision", ""))

    def sync(self) -> str:
        """Argo CD, now (as ``argocd app get --refresh``): returns the commit it synced, the remote's HEAD."""
        head = self.ci.log()[0].split()[0]
        self.argocd.refresh(self.app)
        wait_for(f"Argo CD to sync {head[:12]}", lambda: self.synced() == head, timeout=90)
        return head

    def image(self, name: str) -> str | None:
        return image_of(self.cluster, self.namespace, name)

    def status(self) -> dict[str, Any]:
        return dict(get_canary(self.cluster, self.namespace, "web").get("status", {}))


@pytest.fixture
def tracking() -> str:
    """Argo CD's resource tracking method for this test (a test overrides it by parametrizing it)."""
    return "annotation"


def track_by(argocd: LocalArgoCD, method: str) -> None:
    patch = {"data": {"application.resourceTrackingMethod": method}}
    argocd.kubectl("patch", "-n", argocd.namespace, "configmap", "argocd-cm", "-p", json.dumps(patch))


@pytest.fixture
def stage(
    tracking: str,
    cluster: Cluster,
    namespace: str,
    argocd: LocalArgoCD,
    git_remote: str,
    tmp_path: Path,
    hooks: HookServer,
    controller: Controller,
) -> Iterator[Stage]:
    track_by(argocd, tracking)
    ci = Person(git_remote, tmp_path / "ci")
    ci.change(
        {
            STAGING: manifest(f"{IMAGE}:1.0.0"),
            PRODUCTION: production("1.0.0"),
            "apps/cart/deployment.yaml": "# cart, not part of this canary\nkind: ConfigMap\n",
        },
        "initial config",
    )
    s = Stage(cluster, namespace, argocd, ci, hooks)
    application = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": s.app, "namespace": argocd.namespace},
        "spec": {
            "project": "default",
            "source": {"repoURL": git_remote, "path": "apps/web/staging", "targetRevision": "HEAD"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
            "syncPolicy": {"automated": {"prune": True}},
        },
    }
    cluster.kubectl("apply", "-f", "-", input=json.dumps(application))
    wait_for("Argo CD's first sync", lambda: s.synced() == ci.log()[0].split()[0], timeout=90)
    hooks.answer("/smoke", 200)
    spec = canary(
        "web",
        {
            "iterations": 2,
            "threshold": 1,
            "webhooks": [{"name": "smoke", "type": "rollout", "url": f"{hooks.url}/smoke", "timeout": "5s"}],
        },
        gitops={
            "repository": {"url": git_remote},
            "path": "apps/web/staging",
            "revisionFrom": "argoApplication",
            "promote": {"path": "apps/web/production"},
        },
    )
    apply(cluster, namespace, spec)
    wait_for_phase(cluster, namespace, "web", "Initialized")
    yield s
    cluster.kubectl("delete", "-n", argocd.namespace, "application", s.app, "--wait=false", check=False)
    track_by(argocd, "annotation")


def test_argocd_release_is_promoted_and_a_faulty_one_reverted(stage: Stage, namespace: str) -> None:
    ci = stage.ci
    initial = ci.log()[0].split()[0]
    tracking = stage.apps.read_namespaced_deployment("web", namespace).metadata.annotations
    assert tracking["argocd.argoproj.io/tracking-id"] == f"{stage.app}:apps/Deployment:{namespace}/web"
    assert stage.status()["gitops"]["promotedRevision"] == initial

    # Story 1: a healthy release reaches staging through Argo CD, passes, and is promoted in Git.
    good = ci.commit(STAGING, manifest(f"{IMAGE}:1.1.0"), "web 1.1.0")
    stage.sync()
    wait_for_phase(stage.cluster, namespace, "web", "Succeeded")
    write = wait_for("the promotion commit", lambda: stage.status()["gitops"].get("lastWrite"))
    assert (write["kind"], write["result"]) == ("promote", "committed")
    assert ci.read(PRODUCTION) == production("1.1.0")
    assert git(ci.dir, "log", "-1", "--format=%(trailers:key=Canary-Verdict,valueonly)").strip() == "promoted"
    assert stage.image("web-primary") == f"{IMAGE}:1.1.0"
    assert stage.status()["gitops"]["promotedRevision"] == good
    # The primary is canary's, not Argo CD's: no tracking annotation, so Argo CD never prunes it.
    primary = stage.apps.read_namespaced_deployment("web-primary", namespace).metadata.annotations or {}
    assert "argocd.argoproj.io/tracking-id" not in primary

    # Story 2: a faulty release fails while someone pushes another app; only the release is reverted.
    stage.hooks.answer("/smoke", 500, "smoke: 17 of 40 requests failed")
    bad = ci.commit(STAGING, manifest(f"{IMAGE}:1.2.0"), "web 1.2.0")
    stage.sync()
    other = ci.commit("apps/cart/deployment.yaml", "# cart, not part of this canary\nkind: Secret\n", "cart")
    wait_for_phase(stage.cluster, namespace, "web", "Failed", timeout=120)
    write = wait_for(
        "the revert commit",
        lambda: (w := stage.status()["gitops"].get("lastWrite")) and w["kind"] == "revert" and w,
    )
    assert write["result"] == "committed"
    history = [line.split(" ", 1)[0] for line in ci.log()]
    assert history[0] == write["commit"]
    assert history[1:3] == [other, bad]  # on top, nothing rewritten
    assert bad[:12] in git(ci.dir, "log", "-1", "--format=%b")
    assert ci.read(STAGING) == manifest(f"{IMAGE}:1.1.0")
    assert ci.read("apps/cart/deployment.yaml").endswith("kind: Secret\n")
    assert stage.sync() == write["commit"]

    # Cluster, Git, the Application and the status agree on 1.1.0, and no new analysis started.
    wait_for("the target back on 1.1.0", lambda: stage.image("web") == f"{IMAGE}:1.1.0")
    time.sleep(3)  # several 1 s ticks
    status = stage.status()
    assert status["phase"] == "Failed"
    assert status["lastAppliedSpec"] == status["lastPromotedSpec"]
    assert status["gitops"]["promotedRevision"] == write["commit"]
    assert stage.image("web-primary") == f"{IMAGE}:1.1.0"
    assert stage.application()["status"]["sync"]["revision"] == write["commit"]
    reasons = [r for _, r, _ in events(stage.cluster, namespace, "web")]
    assert reasons.count("NewRevision") == 2  # 1.1.0 and 1.2.0, not the revert
    assert sum(1 for line in ci.log() if " Roll back " in line) == 1


@pytest.mark.parametrize("tracking", ["label"])
def test_with_label_tracking_argocd_neither_adopts_nor_prunes_the_primary(
    stage: Stage, namespace: str, tracking: str
) -> None:
    """Argo CD's older tracking method: the app.kubernetes.io/instance label.  The primary is built from
    the target, label and all; were the label copied, Argo CD would count web-primary as part of the
    Application, report it OutOfSync (not in Git) and, with prune, delete it."""
    ci = stage.ci
    labels = stage.apps.read_namespaced_deployment("web", namespace).metadata.labels
    assert labels["app.kubernetes.io/instance"] == stage.app
    assert stage.status()["gitops"]["promotedRevision"] == ci.log()[0].split()[0]  # found by the label
    primary = stage.apps.read_namespaced_deployment("web-primary", namespace)
    assert "app.kubernetes.io/instance" not in (primary.metadata.labels or {})

    good = ci.commit(STAGING, manifest(f"{IMAGE}:1.1.0"), "web 1.1.0")
    stage.sync()  # a sync with prune, the primary live beside the target
    wait_for_phase(stage.cluster, namespace, "web", "Succeeded")
    assert stage.status()["gitops"]["promotedRevision"] == good
    stage.argocd.refresh(stage.app)
    time.sleep(2)
    assert stage.synced() == good  # still Synced: the primary is not Argo CD's
    resources = {(r["kind"], r["name"]) for r in stage.application()["status"].get("resources", [])}
    assert resources == {("Deployment", "web")}
    assert stage.image("web-primary") == f"{IMAGE}:1.1.0"
