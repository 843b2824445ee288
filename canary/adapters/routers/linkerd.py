"""The Linkerd provider: an SMI TrafficSplit ``<apex>`` whose backends carry the weights.

Linkerd (with its SMI extension) sends traffic addressed to the apex Service to the TrafficSplit's
backends, ``<apex>-primary`` and ``<apex>-canary``, in proportion to their integer weights
(``split.smi-spec.io/v1alpha2``).  That is all a TrafficSplit can say, so the progressive canary and
blue/green (iterations) work and A/B testing does not: a TrafficSplit cannot look at headers.  A spec
with ``analysis.match`` is refused as an invalid spec naming the field, rather than having its
matches quietly ignored (which would send every request, not the matching ones, to the canary).

Like the other routing objects, the TrafficSplit carries the canary's label but no ownerReference
(deleting a Canary must never garbage-collect what routes traffic).  It exists only for the canary:
``finalize`` (revertOnDeletion, once the apex Service selects the target again) deletes it, so that
the apex Service serves directly.
"""

from __future__ import annotations

from typing import Any

from canary.adapters.kube.client import KubeClient
from canary.adapters.kube.primary import CANARY_LABEL, MANAGED_BY
from canary.adapters.routers.base import RouteContext
from canary.core.errors import InvalidSpec
from canary.core.observations import Routes

GROUP = "split.smi-spec.io"
VERSION = "v1alpha2"
PLURAL = "trafficsplits"


class LinkerdRouter:
    def __init__(self, kube: KubeClient) -> None:
        self.kube = kube

    # ------------------------------------------------------------------------------ building
    def traffic_split(self, ctx: RouteContext, routes: Routes) -> dict[str, Any]:
        apex_meta = ctx.spec.service.apex
        return {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "TrafficSplit",
            "metadata": {
                "name": ctx.apex,
                "namespace": ctx.namespace,
                "labels": {
                    **((apex_meta.labels if apex_meta else None) or {}),
                    CANARY_LABEL: ctx.canary,
                    **MANAGED_BY,
                },
                "annotations": dict((apex_meta.annotations if apex_meta else None) or {}),
            },
            "spec": {
                "service": ctx.apex,
                "backends": [
                    {"service": ctx.primary_service, "weight": routes.primary},
                    {"service": ctx.canary_service, "weight": routes.canary},
                ],
            },
        }

    @staticmethod
    def check(ctx: RouteContext) -> None:
        """Refuse what a TrafficSplit cannot express."""
        analysis = ctx.spec.effective_analysis
        if analysis is not None and analysis.match:
            raise InvalidSpec(
                "spec.analysis.match: the linkerd provider splits traffic by weight only (SMI "
                "TrafficSplit) and cannot route requests by header; remove analysis.match (canary or "
                "blue/green), or use a provider with A/B testing (istio, gatewayapi, nginx, contour)"
            )

    # ------------------------------------------------------------------------------ Router
    def reconcile(self, ctx: RouteContext) -> None:
        self.check(ctx)
        existing = self.kube.get_custom(GROUP, VERSION, PLURAL, ctx.namespace, ctx.apex)
        if existing is None:
            self.kube.create_custom(GROUP, VERSION, PLURAL, self.traffic_split(ctx, Routes(100, 0)))
            return
        wanted = self.traffic_split(ctx, self._read(existing, ctx))
        if existing.get("spec") != wanted["spec"]:
            self._patch(ctx, wanted)

    def set_routes(self, ctx: RouteContext, routes: Routes) -> None:
        wanted = self.traffic_split(ctx, routes)
        if self.kube.get_custom(GROUP, VERSION, PLURAL, ctx.namespace, ctx.apex) is None:
            # Only when reconcile never ran (a refused spec being deleted): route to the primary
            # rather than fail the deletion on a 404.
            self.kube.create_custom(GROUP, VERSION, PLURAL, wanted)
            return
        self._patch(ctx, wanted)

    def get_routes(self, ctx: RouteContext) -> Routes:
        existing = self.kube.get_custom(GROUP, VERSION, PLURAL, ctx.namespace, ctx.apex)
        return self._read(existing, ctx) if existing else Routes(100, 0)

    def _patch(self, ctx: RouteContext, wanted: dict[str, Any]) -> None:
        # A merge patch replaces the backends list wholesale; labels are merged (others may own some).
        patch = {"metadata": {"labels": wanted["metadata"]["labels"]}, "spec": wanted["spec"]}
        self.kube.patch_custom(GROUP, VERSION, PLURAL, namespace=ctx.namespace, name=ctx.apex, patch=patch)

    @staticmethod
    def _read(split: dict[str, Any], ctx: RouteContext) -> Routes:
        weights = {
            b.get("service"): int(b.get("weight") or 0) for b in split.get("spec", {}).get("backends") or []
        }
        primary, canary = weights.get(ctx.primary_service, 0), weights.get(ctx.canary_service, 0)
        total = primary + canary
        if total == 0:
            return Routes(100, 0)
        return Routes(round(100 * primary / total), round(100 * canary / total))

    def finalize(self, ctx: RouteContext) -> None:
        """Delete the TrafficSplit: the apex Service, selecting the target again, serves on its own."""
        self.kube.delete_custom(GROUP, VERSION, PLURAL, ctx.namespace, ctx.apex)
