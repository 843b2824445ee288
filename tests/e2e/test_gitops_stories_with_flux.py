"""The GitOps stories end to end: real Flux (source-controller and kustomize-controller, built from
their Go modules) syncs a config repository on the loopback Git remote into the local cluster, the
real controller runs the canary (revisionFrom: auto, which finds the Flux Kustomization through the
labels Flux puts on the Deployment), and everything is read back with plain git and the API.

1. CI commits a new image to staging, Flux applies it, the canary passes, and the image is committed
   to the production path (a kustomization.yaml, comments kept).
2. A faulty image fails its checks, traffic returns to the primary, a revert commit lands (the failed
   tag excluded in Flux's ImageRepository), Flux applies it, and the cluster, Git and the Canary's
   status agree on the old version, with no new analysis.
3. The same with an unrelated commit pushed in between: it survives the revert.

The failing check is a rollout webhook answering 500 (the release's smoke test); the Prometheus-driven
failure of a faulty image is covered by tests/operator/test_analysis_rollouts.py.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from controlplane.flux import LocalFlux
from controlplane.gitserver import Person, git
from controlplane.hooks import HookServer
from demo.configrepo import IMAGE_AUTOMATION, flux_sync, manifest
from tests.conftest import Cluster
from tests.operator.conftest import Controller, apply, canary, events, get_canary, image_of, wait_for_phase
from tests.support.waiting import wait_for

STAGING = "apps/web/staging/deployment.yaml"
PRODUCTION = "apps/web/production/kustomization.yaml"


def production(tag: str) -> str:
    return f"""apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../base   # the same Deployment as staging
images:
  - name: ghcr.io/acme/web
    newTag: {tag} # promoted from staging by canary
"""


class Stage:
    """One staging environment: the config repository, Flux syncing it, the canary's checks."""

    def __init__(
        self, cluster: Cluster, namespace: str, flux: LocalFlux, ci: Person, hooks: HookServer
    ) -> None:
        self.cluster, self.namespace, self.flux, self.ci, self.hooks = cluster, namespace, flux, ci, hooks
        self.custom = client.CustomObjectsApi(cluster.api)

    def applied(self) -> str:
        ks = self.custom.get_namespaced_custom_object(
            "kustomize.toolkit.fluxcd.io", "v1", self.namespace, "kustomizations", "web-staging"
        )
        return str(ks.get("status", {}).get("lastAppliedRevision", "")).rsplit(":", 1)[-1]

    def reconcile(self) -> str:
        """Flux, now (as ``flux reconcile``): returns the commit it applied, the remote's HEAD."""
        head = self.ci.log()[0].split()[0]
        self.flux.reconcile("gitrepository", self.namespace, "config")
        self.flux.reconcile("kustomization", self.namespace, "web-staging")
        wait_for(f"Flux to apply {head[:12]}", lambda: self.applied() == head)
        return head

    def image(self, name: str) -> str | None:
        return image_of(self.cluster, self.namespace, name)

    def status(self) -> dict[str, Any]:
        return dict(get_canary(self.cluster, self.namespace, "web").get("status", {}))


@pytest.fixture
def stage(
    cluster: Cluster,
    namespace: str,
    flux: LocalFlux,
    git_remote: str,
    tmp_path: Path,
    hooks: HookServer,
    controller: Controller,
) -> Stage:
    ci = Person(git_remote, tmp_path / "ci")
    ci.change(
        {
            STAGING: manifest("ghcr.io/acme/web:1.0.0"),
            PRODUCTION: production("1.0.0"),
            "apps/cart/deployment.yaml": "# cart, not part of this canary\nkind: ConfigMap\n",
            "flux/image-automation.yaml": IMAGE_AUTOMATION,
        },
        "initial config",
    )
    s = Stage(cluster, namespace, flux, ci, hooks)
    cluster.kubectl("apply", "-f", "-", input=flux_sync(namespace, git_remote, interval="1h"))
    wait_for("Flux's first sync", lambda: s.applied() == ci.log()[0].split()[0])
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
            "promote": {"path": "apps/web/production"},
        },
    )
    apply(cluster, namespace, spec)
    wait_for_phase(cluster, namespace, "web", "Initialized")
    return s


def test_a_release_is_promoted_to_production_and_a_faulty_one_reverted(stage: Stage, namespace: str) -> None:
    ci = stage.ci
    initial = ci.log()[0].split()[0]
    assert stage.status()["gitops"]["promotedRevision"] == initial

    # Story 1: a healthy release goes to staging through Flux, passes, and is promoted in Git.
    good = ci.commit(STAGING, manifest("ghcr.io/acme/web:1.1.0"), "web 1.1.0")
    stage.reconcile()
    wait_for_phase(stage.cluster, namespace, "web", "Succeeded")
    write = wait_for("the promotion commit", lambda: stage.status()["gitops"].get("lastWrite"))
    assert (write["kind"], write["result"]) == ("promote", "committed")
    assert ci.read(PRODUCTION) == production("1.1.0")
    assert git(ci.dir, "log", "-1", "--format=%(trailers:key=Canary-Verdict,valueonly)").strip() == "promoted"
    assert stage.image("web-primary") == "ghcr.io/acme/web:1.1.0"
    assert stage.status()["gitops"]["promotedRevision"] == good

    # Story 2: a faulty release fails, is reverted in Git, and Flux applies the revert.
    stage.hooks.answer("/smoke", 500, "smoke: 17 of 40 requests failed")
    bad = ci.commit(STAGING, manifest("ghcr.io/acme/web:1.2.0"), "web 1.2.0")
    stage.reconcile()
    wait_for_phase(stage.cluster, namespace, "web", "Failed")
    write = wait_for(
        "the revert commit",
        lambda: (w := stage.status()["gitops"].get("lastWrite")) and w["kind"] == "revert" and w,
    )
    assert write["result"] == "committed"
    revert = ci.log()[0]
    assert revert.startswith(write["commit"])
    assert bad[:12] in git(ci.dir, "log", "-1", "--format=%b")
    assert ci.read(STAGING) == manifest("ghcr.io/acme/web:1.1.0")
    assert "- '^1\\.2\\.0$'" in ci.read("flux/image-automation.yaml")
    applied = stage.reconcile()
    assert applied == write["commit"]

    # Cluster, Git and status agree on 1.1.0, and no new analysis started.
    wait_for("the target back on 1.1.0", lambda: stage.image("web") == "ghcr.io/acme/web:1.1.0")
    time.sleep(3)  # several 1 s ticks
    status = stage.status()
    assert status["phase"] == "Failed"
    assert status["lastAppliedSpec"] == status["lastPromotedSpec"]
    assert status["gitops"]["promotedRevision"] == applied
    assert stage.image("web-primary") == "ghcr.io/acme/web:1.1.0"
    reasons = [r for _, r, _ in events(stage.cluster, namespace, "web")]
    assert reasons.count("NewRevision") == 2  # 1.1.0 and 1.2.0, not the revert
    assert sum(1 for line in ci.log() if " Roll back " in line) == 1


def test_an_unrelated_commit_in_between_survives_the_revert(stage: Stage, namespace: str) -> None:
    ci = stage.ci
    stage.hooks.answer("/smoke", 500, "smoke: failed")
    bad = ci.commit(STAGING, manifest("ghcr.io/acme/web:1.2.0"), "web 1.2.0")
    stage.reconcile()
    # Someone pushes to another app while the canary runs; Flux applies that too.
    other = ci.commit(
        "apps/cart/deployment.yaml", "# cart, not part of this canary\nkind: Secret\n", "cart change"
    )
    stage.reconcile()
    wait_for_phase(stage.cluster, namespace, "web", "Failed", timeout=120)
    write = wait_for(
        "the revert commit",
        lambda: (w := stage.status()["gitops"].get("lastWrite")) and w["kind"] == "revert" and w,
    )
    assert write["result"] == "committed"
    history = [line.split(" ", 1) for line in ci.log()]
    assert history[0][0] == write["commit"]
    assert [h[0] for h in history[1:3]] == [other, bad]  # on top, nothing rewritten
    assert ci.read("apps/cart/deployment.yaml").endswith("kind: Secret\n")
    assert ci.read(STAGING) == manifest("ghcr.io/acme/web:1.0.0")
    stage.reconcile()
    wait_for("the target back on 1.0.0", lambda: stage.image("web") == "ghcr.io/acme/web:1.0.0")
    time.sleep(3)
    status = stage.status()
    assert status["phase"] == "Failed"
    assert status["lastAppliedSpec"] == status["lastPromotedSpec"]
