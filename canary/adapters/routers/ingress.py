"""What the Ingress-cloning providers (nginx, skipper) share: the Ingress ``spec.ingressRef`` names,
read but never written, and the metadata of its ``<ingress>-canary`` clone.

The clone copies the source's annotations except those a tool keeps for itself on the source
(kubectl's last-applied configuration, Flux's), carries the canary's label, and no ownerReference.
"""

from __future__ import annotations

from typing import Any

from canary.adapters.kube.primary import CANARY_LABEL, MANAGED_BY
from canary.adapters.routers.base import Found, Ref, RouteContext
from canary.core.errors import InvalidSpec


def ingress_ref(name: str) -> Ref:
    return Ref("networking.k8s.io", "v1", "ingresses", "Ingress", name)


def source_name(ctx: RouteContext, provider: str) -> str:
    ref = ctx.spec.ingress_ref
    if ref is None:
        raise InvalidSpec(f"spec.ingressRef: the {provider} provider needs the Ingress to clone")
    return ref.name


def clone_ref(ctx: RouteContext, provider: str) -> Ref:
    return ingress_ref(f"{source_name(ctx, provider)}-canary")


def source(ctx: RouteContext, found: Found, provider: str) -> dict[str, Any]:
    name = source_name(ctx, provider)
    ingress = found.get(ingress_ref(name))
    if ingress is None:
        raise InvalidSpec(f"spec.ingressRef: Ingress {name} not found in namespace {ctx.namespace}")
    return ingress


def clone(
    ctx: RouteContext, source: dict[str, Any], spec: dict[str, Any], annotations: dict[str, str | None]
) -> dict[str, Any]:
    """The ``<ingress>-canary`` Ingress with ``spec`` and the source's annotations updated with
    ``annotations`` (a None removes a key an earlier run set)."""
    copied: dict[str, str | None] = {
        k: v
        for k, v in (source["metadata"].get("annotations") or {}).items()
        if k != "kubectl.kubernetes.io/last-applied-configuration" and "toolkit.fluxcd.io" not in k
    }
    copied.update(annotations)
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": f"{source['metadata']['name']}-canary",
            "namespace": ctx.namespace,
            "labels": {CANARY_LABEL: ctx.canary, **MANAGED_BY},
            "annotations": copied,
        },
        "spec": spec,
    }
