"""Build the Services a Canary needs: ``<apex>`` (what clients call), ``<apex>-primary`` and
``<apex>-canary`` (what routers split between).  Pure.

The apex Service selects the primary's Pods; only the kubernetes router moves it (blue/green
cut-over).  An apex Service the user created keeps its metadata; we take over its selector and ports
and remember its original selector in an annotation, to give it back when the Canary is deleted.
With ``service.portDiscovery`` every port the target's containers declare is added to the three
Services too (sidecars' ports and the main port excepted), named after the container port or,
unnamed, ``tcp-<container>-<index>``.
"""

from __future__ import annotations

import json
from typing import Any

from canary.adapters.kube.primary import CANARY_LABEL, MANAGED_BY, ORIGINAL_SELECTOR_ANNOTATION
from canary.models.canary import CanarySpec

SIDECARS = frozenset({"istio-proxy", "envoy", "linkerd-proxy"})


def discovered_ports(target: dict[str, Any] | None, main_port: int) -> list[dict[str, Any]]:
    """The container ports of the target's pod template, as Service ports (``portDiscovery``)."""
    if target is None:
        return []
    ports: list[dict[str, Any]] = []
    seen = {main_port}
    containers = target.get("spec", {}).get("template", {}).get("spec", {}).get("containers") or []
    for container in containers:
        if container.get("name") in SIDECARS:
            continue
        for i, p in enumerate(container.get("ports") or []):
            number = p.get("containerPort")
            if not isinstance(number, int) or number in seen:
                continue
            seen.add(number)
            ports.append(
                {
                    "name": p.get("name") or f"tcp-{container.get('name')}-{i}",
                    "port": number,
                    "protocol": p.get("protocol") or "TCP",
                    "targetPort": number,
                }
            )
    return ports


def service_ports(spec: CanarySpec, target: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    svc = spec.service
    port: dict[str, Any] = {
        "name": svc.port_name or "http",
        "port": svc.port,
        "protocol": "TCP",
        "targetPort": svc.target_port if svc.target_port is not None else svc.port,
    }
    if svc.app_protocol:
        port["appProtocol"] = svc.app_protocol
    return [port, *(discovered_ports(target, svc.port) if svc.port_discovery else [])]


def service(
    spec: CanarySpec,
    *,
    name: str,
    namespace: str,
    canary: str,
    selector: dict[str, str],
    role: str,
    target: dict[str, Any] | None = None,
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
        "spec": {"type": "ClusterIP", "selector": selector, "ports": service_ports(spec, target)},
    }
    if svc.headless:
        body["spec"]["clusterIP"] = "None"
    if svc.traffic_distribution:
        body["spec"]["trafficDistribution"] = svc.traffic_distribution
    return body


def generated_services(
    spec: CanarySpec,
    *,
    namespace: str,
    canary: str,
    label: str,
    value: str,
    target: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    apex = spec.apex_service
    primary = {label: f"{value}-primary"}
    roles = (
        (apex, primary, "apex"),
        (f"{apex}-primary", primary, "primary"),
        (f"{apex}-canary", {label: value}, "canary"),
    )
    return [
        service(
            spec, name=name, namespace=namespace, canary=canary, selector=selector, role=role, target=target
        )
        for name, selector, role in roles
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
