"""Real Flux, built from its Go modules and run as local processes, syncs a Git repository served on
127.0.0.1 into the local cluster: a GitRepository and a Kustomization apply a manifest, a pushed change
and its revert follow on request, the Kustomization names the applied commit, and what it applies
carries the labels canary's revisionFrom reads."""

from __future__ import annotations

from pathlib import Path

from kubernetes import client

from controlplane.flux import LocalFlux
from controlplane.gitserver import Person, git
from demo.configrepo import flux_sync
from tests.conftest import Cluster
from tests.support.waiting import wait_for


def configmap(value: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  colour: {value}\n"


def test_flux_applies_pushes_and_reverts_from_a_local_remote(
    cluster: Cluster, namespace: str, flux: LocalFlux, git_remote: str, tmp_path: Path
) -> None:
    core = client.CoreV1Api(cluster.api)
    custom = client.CustomObjectsApi(cluster.api)
    ci = Person(git_remote, tmp_path / "ci")
    first = ci.commit("apps/demo/settings.yaml", configmap("blue"), "blue")
    cluster.kubectl(
        "apply",
        "-f",
        "-",
        input=flux_sync(namespace, git_remote, name="apps", path="./apps/demo", interval="1h"),
    )

    def colour() -> str | None:
        try:
            return str(core.read_namespaced_config_map("settings", namespace).data["colour"])
        except client.ApiException:
            return None

    def applied() -> str:
        ks = custom.get_namespaced_custom_object(
            "kustomize.toolkit.fluxcd.io", "v1", namespace, "kustomizations", "apps"
        )
        return str(ks.get("status", {}).get("lastAppliedRevision", ""))

    assert wait_for("blue", lambda: colour() == "blue")
    assert wait_for("the applied revision", lambda: applied() == f"main@sha1:{first}")
    labels = core.read_namespaced_config_map("settings", namespace).metadata.labels
    assert labels["kustomize.toolkit.fluxcd.io/name"] == "apps"
    assert labels["kustomize.toolkit.fluxcd.io/namespace"] == namespace

    second = ci.commit("apps/demo/settings.yaml", configmap("green"), "green")
    flux.reconcile("gitrepository", namespace, "config")
    flux.reconcile("kustomization", namespace, "apps")
    assert wait_for("green", lambda: colour() == "green")
    assert wait_for("the new revision", lambda: applied() == f"main@sha1:{second}")

    git(ci.dir, "revert", "--no-edit", "HEAD")
    git(ci.dir, "push", "--quiet", "origin", "HEAD:main")
    reverted = git(ci.dir, "rev-parse", "HEAD").strip()
    flux.reconcile("gitrepository", namespace, "config")
    flux.reconcile("kustomization", namespace, "apps")
    assert wait_for("blue again", lambda: colour() == "blue")
    assert wait_for("the revert's revision", lambda: applied() == f"main@sha1:{reverted}")
