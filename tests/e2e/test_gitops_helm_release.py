"""spec.gitops with a Flux HelmRelease: real helm-controller (built from its Go module, beside source-
and kustomize-controller) installs a chart kept in the config repository on the loopback Git remote,
and the controller learns which commit produced the target from the HelmRelease (revisionFrom:
fluxHelmRelease): the labels helm-controller puts on what it installs name the HelmRelease, whose
chart was built from a commit of the GitRepository.  A commit changing the chart's values is released
by Helm, analysed and promoted, and the status records that commit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kubernetes import client

from controlplane.flux import LocalFlux
from controlplane.gitserver import Person
from tests.conftest import Cluster
from tests.operator.conftest import Controller, apply, canary, get_canary, wait_for_phase
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


def image(cluster: Cluster, namespace: str, name: str) -> str | None:
    """The Deployment's image; None while it does not exist."""
    try:
        deployment = client.AppsV1Api(cluster.api).read_namespaced_deployment(name, namespace)
    except client.ApiException as e:
        if e.status == 404:
            return None
        raise
    return str(deployment.spec.template.spec.containers[0].image)


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
        lambda: image(cluster, namespace, "web") == "ghcr.io/acme/web:1.0.0",
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
    wait_for("Helm to release 1.1.0", lambda: image(cluster, namespace, "web") == "ghcr.io/acme/web:1.1.0")
    done = wait_for_phase(cluster, namespace, "web", "Succeeded", "Failed", timeout=120)
    assert done["status"]["phase"] == "Succeeded"
    assert image(cluster, namespace, "web-primary") == "ghcr.io/acme/web:1.1.0"
    gitops = wait_for(
        "the promoted commit",
        lambda: (
            (g := get_canary(cluster, namespace, "web")["status"]["gitops"]).get("promotedRevision")
            == release
            and g
        ),
    )
    assert gitops["appliedRevision"] == release
