"""spec.gitops with Flux HelmReleases: real helm-controller (built from its Go module, beside source-
and kustomize-controller) installs a chart kept in the config repository on the loopback Git remote.

1. The commit behind the target is learnt from the HelmRelease (revisionFrom: fluxHelmRelease): the
   labels helm-controller puts on what it installs name the HelmRelease, whose chart was built from a
   commit of the GitRepository.  A values commit is released by Helm, analysed and promoted, and the
   status records that commit.
2. The stories of tests/e2e/test_gitops_stories_with_flux.py with HelmReleases applied by Flux
   Kustomizations: a healthy release in staging's HelmRelease values is promoted into production's
   values file (a ConfigMap kustomize generates for the HelmRelease's valuesFrom), and Flux and Helm
   release it in production; a faulty one is reverted in staging's HelmRelease, Helm releases the
   revert, and the cluster, Git and the Canary's status agree, with no new analysis.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from kubernetes import client

from controlplane.flux import LocalFlux
from controlplane.gitserver import Person, git
from controlplane.hooks import HookServer
from demo.configrepo import IMAGE_AUTOMATION
from tests.conftest import Cluster
from tests.operator.conftest import Controller, apply, canary, events, get_canary, image_of, wait_for_phase
from tests.support.waiting import wait_for

CHART = "charts/web"
DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
          ports: [{name: http, containerPort: 9898}]
"""


def values(tag: str) -> str:
    return f"image:\n  repository: ghcr.io/acme/web\n  tag: '{tag}' # released by CI\n"


def sources(namespace: str, url: str) -> list[dict[str, Any]]:
    """The GitRepository of the config repository and a HelmRelease of its chart (a chart version per
    commit: reconcileStrategy Revision)."""
    return [
        {
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "GitRepository",
            "metadata": {"name": "config", "namespace": namespace},
            "spec": {"interval": "1h", "url": url, "ref": {"branch": "main"}},
        },
        {
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "kind": "HelmRelease",
            "metadata": {"name": "web", "namespace": namespace},
            "spec": {
                "interval": "1h",
                "chart": {
                    "spec": {
                        "chart": f"./{CHART}",
                        "reconcileStrategy": "Revision",
                        "sourceRef": {"kind": "GitRepository", "name": "config"},
                    }
                },
            },
        },
    ]


def released(cluster: Cluster, namespace: str, name: str) -> bool:
    """helm-controller has finished releasing the HelmRelease's spec (Helm waits for the rollout)."""
    release = client.CustomObjectsApi(cluster.api).get_namespaced_custom_object(
        "helm.toolkit.fluxcd.io", "v2", namespace, "helmreleases", name
    )
    ready = [c for c in release.get("status", {}).get("conditions", []) if c["type"] == "Ready"]
    return bool(ready) and ready[0]["status"] == "True"


def test_the_commit_behind_a_helm_release_is_recorded_and_a_values_change_promoted(
    cluster: Cluster, namespace: str, flux: LocalFlux, git_remote: str, tmp_path: Path, controller: Controller
) -> None:
    ci = Person(git_remote, tmp_path / "ci")
    initial = ci.change(
        {
            f"{CHART}/Chart.yaml": "apiVersion: v2\nname: web\nversion: 1.0.0\n",
            f"{CHART}/values.yaml": values("1.0.0"),
            f"{CHART}/templates/deployment.yaml": DEPLOYMENT,
        },
        "web chart",
    )
    cluster.kubectl(
        "apply", "-f", "-", input="\n---\n".join(json.dumps(o) for o in sources(namespace, git_remote))
    )
    wait_for(
        "helm-controller to install the chart",
        lambda: image_of(cluster, namespace, "web") == "ghcr.io/acme/web:1.0.0",
    )
    wait_for("the HelmRelease to be released", lambda: released(cluster, namespace, "web"))
    labels = client.AppsV1Api(cluster.api).read_namespaced_deployment("web", namespace).metadata.labels
    assert labels["helm.toolkit.fluxcd.io/name"] == "web"  # how the HelmRelease is found

    spec = canary(
        "web",
        {"iterations": 2, "threshold": 1},
        provider="kubernetes",
        gitops={
            "repository": {"url": git_remote},
            "path": CHART,
            "revisionFrom": "fluxHelmRelease",
            "onRollback": "none",
        },
    )
    apply(cluster, namespace, spec)
    wait_for_phase(cluster, namespace, "web", "Initialized")
    gitops = get_canary(cluster, namespace, "web")["status"]["gitops"]
    assert gitops["promotedRevision"] == initial
    assert gitops["appliedRevision"] == initial

    release = ci.commit(f"{CHART}/values.yaml", values("1.1.0"), "web 1.1.0")
    flux.reconcile("gitrepository", namespace, "config")
    wait_for("Helm to release 1.1.0", lambda: image_of(cluster, namespace, "web") == "ghcr.io/acme/web:1.1.0")
    done = wait_for_phase(cluster, namespace, "web", "Succeeded", "Failed", timeout=120)
    assert done["status"]["phase"] == "Succeeded"
    assert image_of(cluster, namespace, "web-primary") == "ghcr.io/acme/web:1.1.0"
    gitops = wait_for(
        "the promoted commit",
        lambda: (
            (g := get_canary(cluster, namespace, "web")["status"]["gitops"]).get("promotedRevision")
            == release
            and g
        ),
    )
    assert gitops["appliedRevision"] == release


# ------------------------------------------------------------------------- staging -> production
NAMED_CHART = DEPLOYMENT.replace("name: web\n", "name: {{ .Release.Name }}\n").replace(
    "{app: web}", "{app: {{ .Release.Name }}}"
)
STAGING = "apps/web/staging/helmrelease.yaml"
PRODUCTION_VALUES = "apps/web/production/production-values.yaml"


def release(name: str, body: str) -> str:
    return f"""apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: {name}
spec:
  interval: 1h
  chart:
    spec:
      chart: ./{CHART}
      reconcileStrategy: Revision
      sourceRef: {{kind: GitRepository, name: config}}
{body}"""


def staging(tag: str) -> str:
    return release(
        "web",
        f"""  values:
    image:
      repository: ghcr.io/acme/web
      tag: '{tag}' # released by CI
""",
    )


def production_values(tag: str) -> str:
    return (
        "# web in production: canary writes the promoted tag\n"
        f"image:\n  repository: ghcr.io/acme/web\n  tag: {tag}\n"
    )


PRODUCTION = {
    "apps/web/production/helmrelease.yaml": release(
        "web-prod", "  valuesFrom:\n    - kind: ConfigMap\n      name: web-values\n"
    ),
    "apps/web/production/kustomization.yaml": """apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [helmrelease.yaml]
configMapGenerator:
  - name: web-values
    files: [values.yaml=production-values.yaml]
configurations: [kustomizeconfig.yaml] # the generated name (with its hash) into valuesFrom
""",
    "apps/web/production/kustomizeconfig.yaml": """nameReference:
  - kind: ConfigMap
    version: v1
    fieldSpecs:
      - path: spec/valuesFrom/name
        kind: HelmRelease
""",
    PRODUCTION_VALUES: production_values("1.0.0"),
}


def kustomizations(namespace: str, url: str) -> str:
    objects: list[dict[str, Any]] = [sources(namespace, url)[0]]
    for env in ("staging", "production"):
        objects.append(
            {
                "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                "kind": "Kustomization",
                "metadata": {"name": f"web-{env}", "namespace": namespace},
                "spec": {
                    "interval": "1h",
                    "path": f"./apps/web/{env}",
                    "prune": True,
                    "targetNamespace": namespace,
                    "sourceRef": {"kind": "GitRepository", "name": "config"},
                },
            }
        )
    return "\n---\n".join(json.dumps(o) for o in objects)


class Environments:
    def __init__(self, cluster: Cluster, namespace: str, flux: LocalFlux, ci: Person) -> None:
        self.cluster, self.namespace, self.flux, self.ci = cluster, namespace, flux, ci
        self.custom = client.CustomObjectsApi(cluster.api)

    def applied(self, env: str) -> str:
        ks = self.custom.get_namespaced_custom_object(
            "kustomize.toolkit.fluxcd.io", "v1", self.namespace, "kustomizations", f"web-{env}"
        )
        return str(ks.get("status", {}).get("lastAppliedRevision", "")).rsplit(":", 1)[-1]

    def reconcile(self, *envs: str) -> str:
        """Flux, now, for these environments: the commit applied (the remote's HEAD)."""
        head = self.ci.log()[0].split()[0]
        self.flux.reconcile("gitrepository", self.namespace, "config")
        for env in envs:
            self.flux.reconcile("kustomization", self.namespace, f"web-{env}")
            wait_for(f"Flux to apply {head[:12]} to {env}", lambda env=env: self.applied(env) == head)
        return head

    def image(self, name: str) -> str | None:
        return image_of(self.cluster, self.namespace, name)

    def status(self) -> dict[str, Any]:
        return dict(get_canary(self.cluster, self.namespace, "web").get("status", {}))


def test_a_helm_release_is_promoted_into_production_values_and_a_faulty_one_reverted(
    cluster: Cluster,
    namespace: str,
    flux: LocalFlux,
    git_remote: str,
    tmp_path: Path,
    controller: Controller,
) -> None:
    ci = Person(git_remote, tmp_path / "ci")
    initial = ci.change(
        {
            f"{CHART}/Chart.yaml": "apiVersion: v2\nname: web\nversion: 1.0.0\n",
            f"{CHART}/values.yaml": values("0.0.1"),
            f"{CHART}/templates/deployment.yaml": NAMED_CHART,
            STAGING: staging("1.0.0"),
            **PRODUCTION,
            "flux/image-automation.yaml": IMAGE_AUTOMATION,
        },
        "web: staging and production as HelmReleases",
    )
    envs = Environments(cluster, namespace, flux, ci)
    cluster.kubectl("apply", "-f", "-", input=kustomizations(namespace, git_remote))
    for name in ("web", "web-prod"):
        wait_for(f"Helm to install {name}", lambda name=name: envs.image(name) == "ghcr.io/acme/web:1.0.0")
        wait_for(f"{name} to be released", lambda name=name: released(cluster, namespace, name))
    hooks = HookServer()
    try:
        hooks.answer("/smoke", 200)
        spec = canary(
            "web",
            {
                "iterations": 2,
                "threshold": 1,
                "webhooks": [
                    {"name": "smoke", "type": "rollout", "url": f"{hooks.url}/smoke", "timeout": "5s"}
                ],
            },
            provider="kubernetes",
            gitops={
                "repository": {"url": git_remote},
                "path": "apps/web/staging",
                "promote": {"path": "apps/web/production"},
            },
        )
        apply(cluster, namespace, spec)
        wait_for_phase(cluster, namespace, "web", "Initialized")
        assert envs.status()["gitops"]["promotedRevision"] == initial  # HelmRelease -> Kustomization

        # A healthy release: Helm releases staging's values, the canary passes, production's values
        # file gets the tag, and Flux and Helm release it in production.
        good = ci.commit(STAGING, staging("1.1.0"), "web 1.1.0 to staging")
        envs.reconcile("staging")
        wait_for_phase(cluster, namespace, "web", "Succeeded", timeout=120)
        write = wait_for("the promotion commit", lambda: envs.status()["gitops"].get("lastWrite"))
        assert (write["kind"], write["result"]) == ("promote", "committed"), write
        assert ci.read(PRODUCTION_VALUES) == production_values("1.1.0")
        assert (
            git(ci.dir, "log", "-1", "--format=%(trailers:key=Canary-Verdict,valueonly)").strip()
            == "promoted"
        )
        assert envs.status()["gitops"]["promotedRevision"] == good
        envs.reconcile("production")
        wait_for(
            "Helm to release 1.1.0 in production", lambda: envs.image("web-prod") == "ghcr.io/acme/web:1.1.0"
        )

        # A faulty release: rolled back, staging's HelmRelease reverted, Helm releases the revert.
        hooks.answer("/smoke", 500, "smoke: 17 of 40 requests failed")
        bad = ci.commit(STAGING, staging("1.2.0"), "web 1.2.0 to staging")
        envs.reconcile("staging")
        wait_for_phase(cluster, namespace, "web", "Failed", timeout=120)
        write = wait_for(
            "the revert commit",
            lambda: (w := envs.status()["gitops"].get("lastWrite")) and w["kind"] == "revert" and w,
        )
        assert write["result"] == "committed", write
        assert ci.read(STAGING) == staging("1.1.0")
        assert bad[:12] in git(ci.dir, "log", "-1", "--format=%b")
        assert "- '^1\\.2\\.0$'" in ci.read("flux/image-automation.yaml")
        applied = envs.reconcile("staging")
        assert applied == write["commit"]
        wait_for("Helm to release the revert", lambda: envs.image("web") == "ghcr.io/acme/web:1.1.0")
        wait_for("the revert to be released", lambda: released(cluster, namespace, "web"))
        wait_for(
            "the revert's commit recorded", lambda: envs.status()["gitops"]["appliedRevision"] == applied
        )
        time.sleep(3)  # several 1 s ticks
        status = envs.status()
        assert status["phase"] == "Failed"
        assert status["lastAppliedSpec"] == status["lastPromotedSpec"]
        assert status["gitops"]["promotedRevision"] == applied
        assert envs.image("web-primary") == "ghcr.io/acme/web:1.1.0"
        assert envs.image("web-prod") == "ghcr.io/acme/web:1.1.0"
        assert ci.read(PRODUCTION_VALUES) == production_values("1.1.0")
        reasons = [r for _, r, _ in events(cluster, namespace, "web")]
        assert reasons.count("NewRevision") == 2  # 1.1.0 and 1.2.0, not the revert
    finally:
        hooks.close()
