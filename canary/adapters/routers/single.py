"""The shape shared by providers that route with one object per canary, named ``<apex>``, whose
spec lists the primary and canary Services with their weights (linkerd's TrafficSplit, contour's
HTTPProxy).

A subclass says what its object is (``GROUP``, ``VERSION``, ``PLURAL``, ``KIND``), what it can do
(``capabilities``), how to write its spec for some weights (``spec``), how to read the weights back
(``weights``), and what it refuses (``check``).  Weights written by someone else are read back as
percentages.  A Canary being deleted deletes the object unless the subclass keeps it (``handback``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from canary.adapters.routers.base import Found, Ref, Rendered, RouteContext
from canary.core.capabilities import Capability
from canary.core.observations import Routes, RouteVerdict


class SingleObjectRouter:
    GROUP: ClassVar[str]
    VERSION: ClassVar[str]
    PLURAL: ClassVar[str]
    KIND: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]]
    reads: ClassVar[frozenset[str]] = frozenset()

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

    # ------------------------------------------------------------------------------ Router
    def ref(self, ctx: RouteContext) -> Ref:
        return Ref(self.GROUP, self.VERSION, self.PLURAL, self.KIND, ctx.apex)

    def refs(self, ctx: RouteContext) -> list[Ref]:
        return [self.ref(ctx)]

    def inputs(self, ctx: RouteContext) -> list[Ref]:
        return []

    def object(self, ctx: RouteContext, routes: Routes) -> dict[str, Any]:
        return self.ref(ctx).body(ctx.apex_metadata(), self.spec(ctx, routes))

    def render(self, ctx: RouteContext, routes: Routes, found: Found) -> Rendered:
        self.check(ctx)
        return [(self.ref(ctx), self.object(ctx, routes))]

    def read(self, ctx: RouteContext, found: Found) -> Routes:
        obj = found.get(self.ref(ctx))
        return Routes(100, 0) if obj is None else self._read(obj, ctx)

    def _read(self, obj: dict[str, Any], ctx: RouteContext) -> Routes:
        weights = self.weights(obj)
        return Routes.proportional(weights.get(ctx.primary_service, 0), weights.get(ctx.canary_service, 0))

    def handback(self, ctx: RouteContext, found: Found) -> tuple[Rendered, list[Ref]]:
        """Delete the object: the apex Service, selecting the target again, serves on its own."""
        return [], [self.ref(ctx)]

    def verdict(self, ctx: RouteContext, found: Found) -> RouteVerdict | None:
        """None unless the provider's object has a status that says (``contour``)."""
        return None
