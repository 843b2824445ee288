"""Build the primary Deployment, its ConfigMap/Secret copies and the three Services from the target.

Who calls this: ``adapters.kube.client`` when it creates or promotes the primary.  Pure: dicts in,
dicts out.  Rewrites: the selector label's value gets ``-primary`` (so primary and canary Pods are
told apart), ConfigMap/Secret references point at ``-primary`` copies (so a config change reaches
the primary only on promotion), and affinity/topology selectors follow the label.  Labels and
annotations by which a GitOps agent recognises its objects are dropped from the copies' own metadata
(not from the pod template): Flux or Argo CD would otherwise adopt the primary, report drift, or prune
it.  That includes ``app.kubernetes.io/instance``, Argo CD's label tracking (with it, Argo CD counts
the primary as part of the Application, keeps it OutOfSync and, with prune, deletes it; seen with
real Argo CD); so a Helm chart's release label of that name is not on the copies either (their Pods
keep it).

The target's autoscaler (a HorizontalPodAutoscaler or a KEDA ScaledObject) is cloned the same way,
aimed at the primary.  A ScaledObject of the target is paused while the target is parked at zero
replicas (KEDA would otherwise scale it back up); ``scaler_pause_patch`` builds that change.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from canary.adapters.kube.revision import config_refs
from canary.models.gitops import ARGOCD_INSTANCE_LABEL
from canary.models.requests import PROMOTED_TEMPLATE_ANNOTATION

#: Labels tried, in order, to tell the target's Pods apart (Flagger's -selector-labels default).
SELECTOR_LABELS = ("app", "name", "app.kubernetes.io/name")
MANAGED_BY = {"app.kubernetes.io/managed-by": "canary"}
CANARY_LABEL = "canary.dev/canary"
REVISION_ANNOTATION = "canary.dev/revision"
ORIGINAL_SELECTOR_ANNOTATION = "canary.dev/original-selector"
_GITOPS_MARKERS = ("toolkit.fluxcd.io", "argocd.argoproj.io")
_GITOPS_LABELS = (ARGOCD_INSTANCE_LABEL,)
_DROPPED_ANNOTATIONS = (
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
)
#: While present, KEDA holds a ScaledObject's target at this many replicas and stops scaling it.
KEDA_PAUSED_REPLICAS = "autoscaling.keda.sh/paused-replicas"
#: A pause of the target's scaler must never reach the primary's copy: the primary keeps scaling.
_KEDA_PAUSES = (KEDA_PAUSED_REPLICAS, "autoscaling.keda.sh/paused")


class SelectorLabelMissing(ValueError):
    """The target's selector carries none of the labels the controller can rewrite."""


def selector_label(target: dict[str, Any]) -> tuple[str, str]:
    """The (label, value) that selects the target's Pods, e.g. ("app", "podinfo")."""
    match = target.get("spec", {}).get("selector", {}).get("matchLabels") or {}
    for label in SELECTOR_LABELS:
        if label in match:
            return label, str(match[label])
    raise SelectorLabelMissing(
        f"spec.targetRef: the selector of Deployment {target['metadata']['name']} has none of the labels "
        f"{', '.join(SELECTOR_LABELS)} in matchLabels"
    )


def _clean(meta: dict[str, str] | None, drop: tuple[str, ...] = _GITOPS_LABELS) -> dict[str, str]:
    """Labels (or, with ``drop`` naming annotations, annotations) less those of the GitOps agents."""
    return {
        k: v for k, v in (meta or {}).items() if not any(m in k for m in _GITOPS_MARKERS) and k not in drop
    }


def _rename_configs(pod_spec: dict[str, Any], renames: dict[tuple[str, str], str]) -> None:
    def rename(kind: str, holder: dict[str, Any] | None, key: str) -> None:
        if holder and (kind, holder.get(key)) in renames:
            holder[key] = renames[(kind, holder[key])]

    for volume in pod_spec.get("volumes") or []:
        rename("configmap", volume.get("configMap"), "name")
        rename("secret", volume.get("secret"), "secretName")
        for source in (volume.get("projected") or {}).get("sources") or []:
            rename("configmap", source.get("configMap"), "name")
            rename("secret", source.get("secret"), "name")
    for container in (pod_spec.get("initContainers") or []) + (pod_spec.get("containers") or []):
        for env in container.get("env") or []:
            ref = env.get("valueFrom") or {}
            rename("configmap", ref.get("configMapKeyRef"), "name")
            rename("secret", ref.get("secretKeyRef"), "name")
        for source in container.get("envFrom") or []:
            rename("configmap", source.get("configMapRef"), "name")
            rename("secret", source.get("secretRef"), "name")


def _rewrite_selectors(node: Any, label: str, value: str) -> None:
    """In affinity and topology spread constraints, select the primary's Pods instead of the target's."""
    if isinstance(node, dict):
        match = node.get("matchLabels")
        if isinstance(match, dict) and match.get(label) == value:
            match[label] = f"{value}-primary"
        for expr in node.get("matchExpressions") or []:
            if isinstance(expr, dict) and expr.get("key") == label:
                expr["values"] = [f"{v}-primary" if v == value else v for v in expr.get("values") or []]
        for child in node.values():
            _rewrite_selectors(child, label, value)
    elif isinstance(node, list):
        for child in node:
            _rewrite_selectors(child, label, value)


def primary_name(target_name: str) -> str:
    return f"{target_name}-primary"


def primary_template(target: dict[str, Any], revision: str, copied: set[tuple[str, str]]) -> dict[str, Any]:
    """The primary's pod template: the target's, relabelled and pointing at the config copies."""
    label, value = selector_label(target)
    template: dict[str, Any] = copy.deepcopy(target["spec"]["template"])
    meta = template.setdefault("metadata", {})
    meta["labels"] = {**(meta.get("labels") or {}), label: f"{value}-primary"}
    meta["annotations"] = {**(meta.get("annotations") or {}), REVISION_ANNOTATION: revision}
    pod_spec = template.setdefault("spec", {})
    _rename_configs(pod_spec, {ref: f"{ref[1]}-primary" for ref in copied})
    for key in ("affinity", "topologySpreadConstraints"):
        if key in pod_spec:
            _rewrite_selectors(pod_spec[key], label, value)
    return template


def primary_deployment(
    target: dict[str, Any], *, canary: str, revision: str, replicas: int, copied: set[tuple[str, str]]
) -> dict[str, Any]:
    """The whole primary Deployment, for creation."""
    label, value = selector_label(target)
    meta = target["metadata"]
    spec = target["spec"]
    out_spec: dict[str, Any] = {
        "replicas": max(replicas, 1),
        "selector": {"matchLabels": {label: f"{value}-primary"}},
        "template": primary_template(target, revision, copied),
    }
    for key in ("strategy", "minReadySeconds", "progressDeadlineSeconds", "revisionHistoryLimit"):
        if key in spec:
            out_spec[key] = copy.deepcopy(spec[key])
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": primary_name(meta["name"]),
            "namespace": meta["namespace"],
            "labels": {
                **_clean(meta.get("labels")),
                label: f"{value}-primary",
                CANARY_LABEL: canary,
                **MANAGED_BY,
            },
            "annotations": {
                **_clean(meta.get("annotations"), _DROPPED_ANNOTATIONS),
                **promoted_template_record(target, revision),
            },
        },
        "spec": out_spec,
    }


def promoted_template_record(target: dict[str, Any], revision: str) -> dict[str, str]:
    """The annotation recording the target's pod template as promoted (what ``canary undo`` restores)."""
    record = {"revision": revision, "template": target["spec"]["template"]}
    return {PROMOTED_TEMPLATE_ANNOTATION: json.dumps(record, sort_keys=True, separators=(",", ":"))}


def recorded_template(primary: dict[str, Any] | None) -> tuple[str, dict[str, Any]] | None:
    """(revision, pod template) the primary records as promoted; None without a readable record."""
    raw = ((primary or {}).get("metadata", {}).get("annotations") or {}).get(PROMOTED_TEMPLATE_ANNOTATION)
    if not raw:
        return None
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    revision, template = record.get("revision"), record.get("template")
    if not isinstance(revision, str) or not isinstance(template, dict):
        return None
    return revision, template


def image_patch(target: dict[str, Any], images: tuple[tuple[str, str], ...]) -> list[dict[str, Any]]:
    """A JSON patch giving the named containers of ``target`` these images (each checked by name)."""
    containers = target["spec"]["template"]["spec"]["containers"]
    index = {c["name"]: i for i, c in enumerate(containers)}
    ops: list[dict[str, Any]] = []
    for name, image in images:
        path = f"/spec/template/spec/containers/{index[name]}"
        ops += [
            {"op": "test", "path": f"{path}/name", "value": name},
            {"op": "replace", "path": f"{path}/image", "value": image},
        ]
    return ops


def config_copy(kind: str, source: dict[str, Any], canary: str) -> dict[str, Any]:
    """A ``-primary`` copy of a ConfigMap or Secret the target uses."""
    meta = source["metadata"]
    out: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap" if kind == "configmap" else "Secret",
        "metadata": {
            "name": f"{meta['name']}-primary",
            "namespace": meta["namespace"],
            "labels": {**_clean(meta.get("labels")), CANARY_LABEL: canary, **MANAGED_BY},
            "annotations": _clean(meta.get("annotations"), _DROPPED_ANNOTATIONS),
        },
    }
    for key in ("data", "binaryData", "type", "immutable"):
        if key in source:
            out[key] = copy.deepcopy(source[key])
    if out.get("immutable"):
        out.pop("immutable")  # a copy must be updatable on the next promotion
    return out


def referenced_configs(target: dict[str, Any]) -> list[tuple[str, str]]:
    return list(config_refs(target["spec"]["template"].get("spec", {})))


def primary_autoscaler(
    hpa: dict[str, Any], *, canary: str, min_replicas: int | None, max_replicas: int | None
) -> dict[str, Any]:
    """``<hpa>-primary``: the target's HorizontalPodAutoscaler, aimed at the primary."""
    meta = hpa["metadata"]
    spec = copy.deepcopy(hpa["spec"])
    ref = spec["scaleTargetRef"]
    spec["scaleTargetRef"] = {**ref, "name": primary_name(ref["name"])}
    if min_replicas is not None:
        spec["minReplicas"] = min_replicas
    if max_replicas is not None:
        spec["maxReplicas"] = max_replicas
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {
            "name": f"{meta['name']}-primary",
            "namespace": meta["namespace"],
            "labels": {**_clean(meta.get("labels")), CANARY_LABEL: canary, **MANAGED_BY},
            "annotations": _clean(meta.get("annotations"), _DROPPED_ANNOTATIONS),
        },
        "spec": spec,
    }


def primary_scaled_object(
    scaled_object: dict[str, Any],
    *,
    canary: str,
    target: str,
    queries: Mapping[str, str],
    min_replicas: int | None,
    max_replicas: int | None,
) -> dict[str, Any]:
    """``<so>-primary``: the target's KEDA ScaledObject, aimed at the primary of ``target``.

    A trigger whose ``name`` is a key of ``queries`` (``autoscalerRef.primaryScalerQueries``) gets
    that query as its ``metadata.query``: the target's query measures the target's Pods, the
    primary's must measure its own.  A custom name of the HPA that KEDA creates gets ``-primary``
    too, or both ScaledObjects would claim the same HPA.  Other triggers keep the target's query.
    """
    meta = scaled_object["metadata"]
    spec = copy.deepcopy(scaled_object["spec"])
    spec["scaleTargetRef"] = {**(spec.get("scaleTargetRef") or {}), "name": primary_name(target)}
    for trigger in spec.get("triggers") or []:
        name = trigger.get("name")
        if isinstance(name, str) and name in queries:
            trigger["metadata"] = {**(trigger.get("metadata") or {}), "query": queries[name]}
    hpa_config = (spec.get("advanced") or {}).get("horizontalPodAutoscalerConfig") or {}
    if hpa_config.get("name"):
        hpa_config["name"] = primary_name(hpa_config["name"])
    if min_replicas is not None:
        spec["minReplicaCount"] = min_replicas
    if max_replicas is not None:
        spec["maxReplicaCount"] = max_replicas
    return {
        "apiVersion": scaled_object.get("apiVersion") or "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {
            "name": f"{meta['name']}-primary",
            "namespace": meta["namespace"],
            "labels": {**_clean(meta.get("labels")), CANARY_LABEL: canary, **MANAGED_BY},
            "annotations": _clean(meta.get("annotations"), _DROPPED_ANNOTATIONS + _KEDA_PAUSES),
        },
        "spec": spec,
    }


def scaler_pause_patch(scaled_object: dict[str, Any], *, paused: bool) -> dict[str, Any] | None:
    """The merge patch that pauses a ScaledObject at zero replicas or resumes it; None: it already is.

    Resuming removes the annotation (null in a merge patch), whoever set it.
    """
    annotations = scaled_object.get("metadata", {}).get("annotations") or {}
    wanted = "0" if paused else None
    if annotations.get(KEDA_PAUSED_REPLICAS) == wanted:
        return None
    return {"metadata": {"annotations": {KEDA_PAUSED_REPLICAS: wanted}}}
