"""The shape shared by providers that route with one object per canary, named ``<apex>``, whose
spec lists the primary and canary Services with their weights (linkerd's TrafficSplit, contour's
HTTPProxy).

A subclass says what its object is (``GROUP``, ``VERSION``, ``PLURAL``, ``KIND``), how to write its
spec for some weights (``spec``), how to read the weights back (``weights``), and what it refuses
(``check``).  This class creates, updates and reads the object: the current weights are kept on
reconcile, a merge patch replaces the spec wholesale and merges the labels (others may own some), and
weights written by someone else are read back as percentages.

Like every routing object here, it carries the canary's label but no ownerReference: deleting a
Canary must never garbage-collect what routes traffic.
"""

from __future__ import annotations

from typing import Any, ClassVar

from canary.adapters.kube.client import KubeClient
from canary.adapters.routers.base import RouteContext
from canary.core.observations import Routes


class SingleObjectRouter:
    GROUP: ClassVar[str]
    VERSION: ClassVar[str]
    PLURAL: ClassVar[str]
    KIND: ClassVar[str]

    def __init__(self, kube: KubeClient) -> None:
        self.kube = kube

    # ------------------------------------------------------------------------------ per provider
    def spec(self, ctx: RouteContext, routes: Routes) -> dict[str, Any]:
        raise NotImplementedError

    @staticmethod
    def weights(obj: dict[str, Any]) -> dict[str, int]:
        """Service name -> weight, as the object carries them now."""
        raise NotImplementedError

    @staticmethod
    def check(ctx: RouteContext) -> None:
        """Refuse (InvalidSpec) what the provider cannot express."""

    # ------------------------------------------------------------------------------ shared
    def render(self, ctx: RouteContext, routes: Routes) -> dict[str, Any]:
        return {
            "apiVersion": f"{self.GROUP}/{self.VERSION}",
            "kind": self.KIND,
            "metadata": ctx.apex_metadata(),
            "spec": self.spec(ctx, routes),
        }

    def _get(self, ctx: RouteContext) -> dict[str, Any] | None:
        return self.kube.get_custom(self.GROUP, self.VERSION, self.PLURAL, ctx.namespace, ctx.apex)

    def reconcile(self, ctx: RouteContext) -> None:
        self.check(ctx)
        existing = self._get(ctx)
        if existing is None:
            self.kube.create_custom(self.GROUP, self.VERSION, self.PLURAL, self.render(ctx, Routes(100, 0)))
            return
        wanted = self.render(ctx, self._read(existing, ctx))
        if existing.get("spec") != wanted["spec"]:
            self._patch(ctx, wanted)

    def set_routes(self, ctx: RouteContext, routes: Routes) -> None:
        wanted = self.render(ctx, routes)
        if self._get(ctx) is None:
            # Only when reconcile never ran (a refused spec being deleted): route to the primary
            # rather than fail the deletion on a 404.
            self.kube.create_custom(self.GROUP, self.VERSION, self.PLURAL, wanted)
            return
        self._patch(ctx, wanted)

    def get_routes(self, ctx: RouteContext) -> Routes:
        existing = self._get(ctx)
        return self._read(existing, ctx) if existing else Routes(100, 0)

    def _patch(self, ctx: RouteContext, wanted: dict[str, Any]) -> None:
        patch = {"metadata": {"labels": wanted["metadata"]["labels"]}, "spec": wanted["spec"]}
        self.kube.patch_custom(
            self.GROUP, self.VERSION, self.PLURAL, namespace=ctx.namespace, name=ctx.apex, patch=patch
        )

    @classmethod
    def _read(cls, obj: dict[str, Any], ctx: RouteContext) -> Routes:
        weights = cls.weights(obj)
        return Routes.proportional(weights.get(ctx.primary_service, 0), weights.get(ctx.canary_service, 0))
