"""Where the commit behind the target's spec is read (spec.gitops.revisionFrom), and when it is
deliberately unknown: while the agent is still applying, its revision may be older than the objects."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from canary.adapters.gitops.revision import commit_of, git_revision
from canary.models.gitops import GitOpsSpec

SHA = "3f2a9c1d5e7b8a6f4c3d2e1f0a9b8c7d6e5f4a3b"
OLD = "1111111111111111111111111111111111111111"


def spec(**kw: Any) -> GitOpsSpec:
    return GitOpsSpec.model_validate(
        {"repository": {"url": "https://git.example/c.git"}, "path": "apps/web", **kw}
    )


def target(labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": "web", "labels": labels or {}, "annotations": annotations or {}}}


FLUX = {"kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}


def kustomization(
    applied: str, attempted: str | None = None, ready: str = "True", reconciling: bool = False
) -> dict[str, Any]:
    conditions = [{"type": "Ready", "status": ready}]
    if reconciling:
        conditions.append({"type": "Reconciling", "status": "True"})
    return {
        "status": {
            "lastAppliedRevision": applied,
            "lastAttemptedRevision": attempted or applied,
            "conditions": conditions,
        }
    }


def reader(objects: Mapping[tuple[str, str, str], Mapping[str, Any]]) -> Any:
    def read(group: str, version: str, plural: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        return objects.get((plural, namespace, name))

    return read


@pytest.mark.parametrize(
    ("text", "commit"),
    [
        (f"main@sha1:{SHA}", SHA),
        (f"main/{SHA}", SHA),
        (SHA, SHA),
        (f"refs/heads/release/v2@sha1:{SHA}", SHA),
        ("main@sha1:not-a-sha", None),
        ("", None),
        (None, None),
    ],
)
def test_commit_of_reads_flux_and_plain_revisions(text: str | None, commit: str | None) -> None:
    assert commit_of(text) == commit


def test_the_annotation_wins_in_auto_mode() -> None:
    t = target(FLUX, {"canary.dev/git-revision": SHA})
    objects = {("kustomizations", "flux-system", "apps"): kustomization(f"main@sha1:{OLD}")}
    assert git_revision(spec(), t, reader(objects)) == SHA
    assert git_revision(spec(revisionFrom="fluxKustomization"), t, reader(objects)) == OLD


def test_flux_revision_only_once_the_kustomization_is_done_applying() -> None:
    t = target(FLUX)
    for ks, expected in [
        (kustomization(f"main@sha1:{SHA}"), SHA),
        (kustomization(f"main@sha1:{OLD}", attempted=f"main@sha1:{SHA}"), None),
        (kustomization(f"main@sha1:{OLD}", ready="Unknown"), None),
        (kustomization(f"main@sha1:{OLD}", reconciling=True), None),
    ]:
        assert git_revision(spec(), t, reader({("kustomizations", "flux-system", "apps"): ks})) == expected


def test_argocd_application_from_its_tracking_annotation() -> None:
    app = {
        "status": {"sync": {"status": "Synced", "revision": SHA}, "operationState": {"phase": "Succeeded"}}
    }
    t = target(annotations={"argocd.argoproj.io/tracking-id": "web:apps/Deployment:prod/web"})
    assert git_revision(spec(), t, reader({("applications", "argocd", "web"): app})) == SHA
    running = {
        "status": {"sync": {"status": "Synced", "revision": SHA}, "operationState": {"phase": "Running"}}
    }
    assert git_revision(spec(), t, reader({("applications", "argocd", "web"): running})) is None
    # apps in any namespace: "<namespace>_<name>"
    t = target(annotations={"argocd.argoproj.io/tracking-id": "team-a_web:apps/Deployment:prod/web"})
    assert git_revision(spec(), t, reader({("applications", "team-a", "web"): app})) == SHA


def test_an_unreadable_agent_is_unknown_not_an_error() -> None:
    def forbidden(*_: str) -> Mapping[str, Any] | None:
        raise PermissionError("kustomizations.kustomize.toolkit.fluxcd.io is forbidden")

    assert git_revision(spec(), target(FLUX), forbidden) is None
    assert git_revision(spec(), target(), reader({})) is None


HELM = {"helm.toolkit.fluxcd.io/name": "web", "helm.toolkit.fluxcd.io/namespace": "shop"}


def helm_release(
    chart_version: str = "1.0.0+3f2a9c1d5e7b",
    *,
    ready: str = "True",
    attempted: int = 2,
    state: str = "deployed",
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A HelmRelease as helm-controller v1.6 reports it (fields seen on a real one)."""
    return {
        "metadata": {"name": "web", "generation": 2, "labels": labels or {}},
        "status": {
            "conditions": [{"type": "Ready", "status": ready}],
            "observedGeneration": 2,
            "lastAttemptedGeneration": attempted,
            "helmChart": "shop/shop-web",
            "history": [{"chartVersion": chart_version, "status": state, "version": 2}],
        },
    }


def helm_chart(revision: str = "1.0.0+3f2a9c1d5e7b", kind: str = "GitRepository") -> dict[str, Any]:
    return {
        "spec": {"sourceRef": {"kind": kind, "name": "config"}},
        "status": {"artifact": {"revision": revision}, "observedSourceArtifactRevision": f"main@sha1:{SHA}"},
    }


def test_helm_release_revision_only_once_released() -> None:
    t = target(HELM)
    chart = {("helmcharts", "shop", "shop-web"): helm_chart()}
    for release, expected in [
        (helm_release(), SHA),  # the chart installed was built from SHA
        (helm_release(ready="Unknown"), None),  # still releasing
        (helm_release(attempted=1), None),  # its current spec not attempted yet
        (helm_release(state="failed"), None),
        (helm_release("1.0.0+111111111111"), None),  # a newer chart is built but not installed yet
    ]:
        objects = {("helmreleases", "shop", "web"): release, **chart}
        assert git_revision(spec(revisionFrom="fluxHelmRelease"), t, reader(objects)) == expected
        assert git_revision(spec(), t, reader(objects)) == expected  # auto finds it too
    # a chart from a Helm repository says nothing of Git
    objects = {
        ("helmreleases", "shop", "web"): helm_release(),
        ("helmcharts", "shop", "shop-web"): helm_chart(kind="HelmRepository"),
    }
    assert git_revision(spec(), t, reader(objects)) is None


def test_a_helm_release_applied_by_a_kustomization_takes_its_revision() -> None:
    """The values live in Git with the HelmRelease: the Kustomization that applied it says which commit."""
    objects = {
        ("helmreleases", "shop", "web"): helm_release(labels=FLUX),
        ("kustomizations", "flux-system", "apps"): kustomization(f"main@sha1:{OLD}"),
        ("helmcharts", "shop", "shop-web"): helm_chart(),
    }
    assert git_revision(spec(revisionFrom="fluxHelmRelease"), target(HELM), reader(objects)) == OLD
