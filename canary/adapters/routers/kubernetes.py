"""The kubernetes provider: blue/green by moving the apex Service's selector.

No traffic splitting: the apex Service selects the primary's Pods or the canary's, all or nothing.
Routes with any canary weight select the canary's Pods; otherwise the primary's.  The apex Service
is the workload bootstrap's (``canary.adapters.kube.workloads``): this router only moves its selector,
and a Canary being deleted leaves nothing of the router's behind.
"""

from __future__ import annotations

from typing import ClassVar

from canary.adapters.routers.base import Found, Ref, Rendered, RouteContext
from canary.core.capabilities import Capability
from canary.core.observations import Routes, RouteVerdict


def _apex(ctx: RouteContext) -> Ref:
    return Ref("", "v1", "services", "Service", ctx.apex, owned=False)


class KubernetesRouter:
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    reads: ClassVar[frozenset[str]] = frozenset()

    def refs(self, ctx: RouteContext) -> list[Ref]:
        return [_apex(ctx)]

    def inputs(self, ctx: RouteContext) -> list[Ref]:
        return []

    def render(self, ctx: RouteContext, routes: Routes, found: Found) -> Rendered:
        value = ctx.value if routes.canary > 0 else f"{ctx.value}-primary"
        return [(_apex(ctx), {"spec": {"selector": {ctx.label: value}}})]

    def read(self, ctx: RouteContext, found: Found) -> Routes:
        selector = (found.get(_apex(ctx)) or {}).get("spec", {}).get("selector") or {}
        if selector.get(ctx.label) == ctx.value:
            return Routes(primary=0, canary=100)
        return Routes(primary=100, canary=0)

    def handback(self, ctx: RouteContext, found: Found) -> tuple[Rendered, list[Ref]]:
        """Nothing: the workload finalizer points the apex Service at the target."""
        return [], []

    def verdict(self, ctx: RouteContext, found: Found) -> RouteVerdict | None:
        """A Service has no status to say whether traffic follows its selector."""
        return None
