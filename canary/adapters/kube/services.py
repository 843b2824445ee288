"""Build the Services a Canary needs: ``<apex>`` (what clients call), ``<apex>-primary`` and
``<apex>-canary`` (what routers split between).  Pure.

The apex Service selects the primary's Pods; only the kubernetes router moves it (blue/green
cut-over).  An apex Service the user created keeps its metadata; we take over its selector and ports
and remember its original selector in an annotation, to give it back when the Canary is deleted.
"""

from __future__ import annotations

import json
from typing import Any

from canary.adapters.kube.primary import CANARY_LABEL, MANAGED_BY, ORIGINAL_SELECTOR_ANNOTATION
from canary.models.canary import CanarySpec


def service_ports(spec: CanarySpec) -> list[dict[str, Any]]:
    svc = spec.service
    port: dict[str, Any] = {
        "name": svc.port_name or "http",
        "port": svc.port,
        "protocol": "TCP",
        "targetPort": svc.target_port if svc.target_port is not None else svc.port,
    }
    if svc.app_protocol:
        port["appProtocol"] = svc.app_protocol
    return [port]


def service(
    spec: CanarySpec, *, name: str, namespace: str, canary: str, selector: dict[str, str], role: str
) -> dict[str, Any]:
    svc = spec.service
    extra = {"apex": svc.apex, "primary": svc.primary, "canary": svc.canary}[role]
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {**((extra.labels if extra else None) or {}), CANARY_LABEL: canary, **MANAGED_BY},
            "annotations": dict((extra.annotations if extra else None) or {}),
        },
        "spec": {"type": "ClusterIP", "selector": selector, "ports": service_ports(spec)},
    }
    if svc.headless:
        body["spec"]["clusterIP"] = "None"
    if svc.traffic_distribution:
        body["spec"]["trafficDistribution"] = svc.traffic_distribution
    return body


def generated_services(
    spec: CanarySpec, *, namespace: str, canary: str, label: str, value: str
) -> list[dict[str, Any]]:
    apex = spec.apex_service
    primary = {label: f"{value}-primary"}
    return [
        service(spec, name=apex, namespace=namespace, canary=canary, selector=primary, role="apex"),
        service(
            spec, name=f"{apex}-primary", namespace=namespace, canary=canary, selector=primary, role="primary"
        ),
        service(
            spec,
            name=f"{apex}-canary",
            namespace=namespace,
            canary=canary,
            selector={label: value},
            role="canary",
        ),
    ]


def takeover_patch(existing: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    """Merge patch that makes an existing Service ours without losing what was there."""
    annotations = dict(wanted["metadata"]["annotations"])
    original = existing.get("metadata", {}).get("annotations", {}) or {}
    if CANARY_LABEL not in (existing.get("metadata", {}).get("labels") or {}):
        annotations.setdefault(
            ORIGINAL_SELECTOR_ANNOTATION,
            original.get(ORIGINAL_SELECTOR_ANNOTATION)
            or json.dumps(existing.get("spec", {}).get("selector") or {}),
        )
    return {
        "metadata": {"labels": wanted["metadata"]["labels"], "annotations": annotations},
        "spec": {"ports": wanted["spec"]["ports"], "selector": wanted["spec"]["selector"]},
    }
