"""The primary and its copies never carry what a GitOps agent recognises its own objects by: Flux's
labels, Argo CD's tracking annotation and, for Argo CD's label tracking, ``app.kubernetes.io/instance``
(on the objects' own metadata; the pod template keeps every label, so the Pods still match)."""

from __future__ import annotations

from typing import Any

from canary.adapters.kube.primary import config_copy, primary_deployment, recorded_template

MARKED_LABELS = {
    "app": "web",
    "team": "a",
    "app.kubernetes.io/instance": "web-staging",
    "kustomize.toolkit.fluxcd.io/name": "apps",
    "kustomize.toolkit.fluxcd.io/namespace": "flux-system",
}
MARKED_ANNOTATIONS = {
    "argocd.argoproj.io/tracking-id": "web-staging:apps/Deployment:apps/web",
    "kubectl.kubernetes.io/last-applied-configuration": "{}",
    "owner": "team-a",
}


def target() -> dict[str, Any]:
    pod_labels = {"app": "web", "app.kubernetes.io/instance": "web-staging"}
    return {
        "metadata": {
            "name": "web",
            "namespace": "apps",
            "labels": dict(MARKED_LABELS),
            "annotations": dict(MARKED_ANNOTATIONS),
        },
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {"containers": [{"name": "web", "image": "ghcr.io/acme/web:1.0.0"}]},
            },
        },
    }


def test_the_primary_deployment_keeps_the_users_labels_and_not_the_agents() -> None:
    primary = primary_deployment(target(), canary="web", revision="rev-1", replicas=2, copied=set())
    meta = primary["metadata"]
    assert meta["labels"] == {
        "app": "web-primary",
        "team": "a",
        "canary.dev/canary": "web",
        "app.kubernetes.io/managed-by": "canary",
    }
    annotations = dict(meta["annotations"])
    annotations.pop("canary.dev/promoted-template")  # the record of what was promoted (canary undo)
    assert annotations == {"owner": "team-a"}
    assert recorded_template(primary) == ("rev-1", target()["spec"]["template"])
    pod_labels = primary["spec"]["template"]["metadata"]["labels"]
    assert pod_labels == {"app": "web-primary", "app.kubernetes.io/instance": "web-staging"}


def test_a_config_copy_drops_them_too() -> None:
    source = {
        "metadata": {
            "name": "settings",
            "namespace": "apps",
            "labels": dict(MARKED_LABELS),
            "annotations": dict(MARKED_ANNOTATIONS),
        },
        "data": {"colour": "blue"},
    }
    copy = config_copy("configmap", source, "web")
    assert "app.kubernetes.io/instance" not in copy["metadata"]["labels"]
    assert not any("fluxcd" in k for k in copy["metadata"]["labels"])
    assert copy["metadata"]["annotations"] == {"owner": "team-a"}
