"""The primary's KEDA ScaledObject is built from the target's without a cluster: aimed at the primary,
with the queries of spec.autoscalerRef.primaryScalerQueries and the bounds of primaryScalerReplicas,
never carrying a pause; and the target's scaler is paused or resumed with one merge patch, or none
when it already is."""

from __future__ import annotations

import copy
from typing import Any

from canary.adapters.kube.primary import (
    CANARY_LABEL,
    KEDA_PAUSED_REPLICAS,
    primary_scaled_object,
    scaler_pause_patch,
)


def scaled_object(annotations: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {
            "name": "web-so",
            "namespace": "apps",
            "labels": {"team": "a", "kustomize.toolkit.fluxcd.io/name": "apps"},
            "annotations": annotations or {},
            "resourceVersion": "42",
            "uid": "1234",
        },
        "spec": {
            "scaleTargetRef": {"name": "web"},
            "minReplicaCount": 1,
            "maxReplicaCount": 5,
            "triggers": [
                {
                    "type": "prometheus",
                    "name": "requests",
                    "metadata": {
                        "serverAddress": "http://prometheus:9090",
                        "query": 'sum(rate(http_requests_total{app="web"}[1m]))',
                        "threshold": "100",
                    },
                },
                {"type": "cpu", "metricType": "Utilization", "metadata": {"value": "80"}},
                {"type": "prometheus", "name": "latency", "metadata": {"query": "web_latency"}},
            ],
            **spec,
        },
    }


def build(source: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {"canary": "web", "target": "web", "queries": {}}
    args.update(min_replicas=None, max_replicas=None)
    return primary_scaled_object(source, **{**args, **overrides})


def test_aims_at_the_primary_with_the_named_triggers_queries_replaced() -> None:
    source = scaled_object()
    before = copy.deepcopy(source)
    primary = primary_scaled_object(
        source,
        canary="web",
        target="web",
        queries={"requests": 'sum(rate(http_requests_total{app="web-primary"}[1m]))', "absent": "x"},
        min_replicas=2,
        max_replicas=10,
    )
    assert source == before  # the target's object is left as it was
    assert primary["apiVersion"] == "keda.sh/v1alpha1"
    assert primary["kind"] == "ScaledObject"
    assert primary["metadata"]["name"] == "web-so-primary"
    assert primary["metadata"]["namespace"] == "apps"
    spec = primary["spec"]
    assert spec["scaleTargetRef"] == {"name": "web-primary"}
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (2, 10)
    requests, cpu, latency = spec["triggers"]
    assert requests["metadata"] == {
        "serverAddress": "http://prometheus:9090",
        "query": 'sum(rate(http_requests_total{app="web-primary"}[1m]))',
        "threshold": "100",
    }
    assert cpu == source["spec"]["triggers"][1]
    assert latency["metadata"] == {"query": "web_latency"}  # not named in the queries: kept


def test_keeps_the_targets_bounds_and_queries_when_the_ref_overrides_nothing() -> None:
    source = scaled_object()
    primary = build(source)
    assert (primary["spec"]["minReplicaCount"], primary["spec"]["maxReplicaCount"]) == (1, 5)
    assert primary["spec"]["triggers"] == source["spec"]["triggers"]


def test_one_bound_overrides_only_its_own_count() -> None:
    primary = build(scaled_object(), max_replicas=9)
    assert (primary["spec"]["minReplicaCount"], primary["spec"]["maxReplicaCount"]) == (1, 9)


def test_a_pause_of_the_target_never_reaches_the_primary() -> None:
    source = scaled_object(
        {KEDA_PAUSED_REPLICAS: "0", "autoscaling.keda.sh/paused": "true", "owner": "team-a"}
    )
    meta = build(source)["metadata"]
    assert meta["annotations"] == {"owner": "team-a"}
    assert meta["labels"] == {"team": "a", CANARY_LABEL: "web", "app.kubernetes.io/managed-by": "canary"}
    assert "resourceVersion" not in meta
    assert "uid" not in meta


def test_a_custom_name_of_kedas_hpa_gets_the_primary_suffix() -> None:
    source = scaled_object(advanced={"horizontalPodAutoscalerConfig": {"name": "web-hpa"}})
    primary = build(source)
    assert primary["spec"]["advanced"] == {"horizontalPodAutoscalerConfig": {"name": "web-hpa-primary"}}
    assert source["spec"]["advanced"] == {"horizontalPodAutoscalerConfig": {"name": "web-hpa"}}


def test_the_scale_target_is_the_canary_targets_primary_with_the_rest_of_the_ref_kept() -> None:
    ref = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "other", "envSourceContainerName": "app"}
    primary = build(scaled_object(scaleTargetRef=ref), target="web")
    assert primary["spec"]["scaleTargetRef"] == {**ref, "name": "web-primary"}


def test_pausing_sets_zero_paused_replicas_once() -> None:
    assert scaler_pause_patch(scaled_object(), paused=True) == {
        "metadata": {"annotations": {KEDA_PAUSED_REPLICAS: "0"}}
    }
    assert scaler_pause_patch(scaled_object({KEDA_PAUSED_REPLICAS: "0"}), paused=True) is None
    # Paused at another count: parking the target needs zero.
    assert scaler_pause_patch(scaled_object({KEDA_PAUSED_REPLICAS: "3"}), paused=True) == {
        "metadata": {"annotations": {KEDA_PAUSED_REPLICAS: "0"}}
    }


def test_resuming_removes_the_annotation_with_a_null_once() -> None:
    assert scaler_pause_patch(scaled_object({KEDA_PAUSED_REPLICAS: "0"}), paused=False) == {
        "metadata": {"annotations": {KEDA_PAUSED_REPLICAS: None}}
    }
    assert scaler_pause_patch(scaled_object(), paused=False) is None
    no_annotations = scaled_object()
    del no_annotations["metadata"]["annotations"]
    assert scaler_pause_patch(no_annotations, paused=False) is None
