"""The kubernetes provider: blue/green by moving the apex Service's selector.

No traffic splitting: the apex Service selects the primary's Pods or the canary's, all or nothing.
``set_routes`` with any canary weight selects the canary's Pods; otherwise the primary's.
"""

from __future__ import annotations

from canary.adapters.kube.client import KubeClient
from canary.adapters.routers.base import RouteContext
from canary.core.observations import Routes


class KubernetesRouter:
    def __init__(self, kube: KubeClient) -> None:
        self.kube = kube

    def reconcile(self, ctx: RouteContext) -> None:
        """Nothing beyond the Services, which the workload bootstrap creates."""

    def set_routes(self, ctx: RouteContext, routes: Routes) -> None:
        value = ctx.value if routes.canary > 0 else f"{ctx.value}-primary"
        self.kube.patch_service(ctx.namespace, ctx.apex, {"spec": {"selector": {ctx.label: value}}})

    def get_routes(self, ctx: RouteContext) -> Routes:
        svc = self.kube.get_service(ctx.namespace, ctx.apex)
        selector = (svc or {}).get("spec", {}).get("selector") or {}
        if selector.get(ctx.label) == ctx.value:
            return Routes(primary=0, canary=100)
        return Routes(primary=100, canary=0)

    def finalize(self, ctx: RouteContext) -> None:
        """Nothing: the workload finalizer points the apex Service at the target."""
