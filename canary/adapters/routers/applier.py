"""The one place routing objects are read and written, for every router.

Who calls this: ``canary.operator.tick`` (``reconcile`` before deciding, ``set_routes`` for the core's
``SetWeights`` actions, ``routes`` to observe, ``finalize`` when a Canary with revertOnDeletion is
deleted).  It gets the objects a router names (from the watch caches where they cover the kind),
asks the router what they should be, and writes only what differs:

* an object the router owns that does not exist is created; one that does is patched when its spec,
  or one of the labels or annotations the router renders, differs.  The patch is a merge patch of
  those labels and annotations (others may own the rest) and of the whole spec (lists are replaced
  wholesale, which is what routes and backends need);
* an object the router does not own (the apex Service) is patched with the fields the router renders
  when they are not already there, and only to move traffic: ``reconcile`` leaves it alone.

A spec the router cannot express raises InvalidSpec from ``render``, before anything is written.
"""

from __future__ import annotations

from canary.adapters.kube.client import KubeClient, contains
from canary.adapters.routers.base import JSON, Found, Ref, RouteContext, Router
from canary.core.capabilities import Capability
from canary.core.errors import NotFound
from canary.core.observations import Routes


class Traffic:
    """A router and the I/O it needs: what ``canary.operator.tick`` moves traffic with."""

    def __init__(self, kube: KubeClient, router: Router) -> None:
        self.kube, self.router = kube, router

    @property
    def capabilities(self) -> frozenset[Capability]:
        return self.router.capabilities

    # ------------------------------------------------------------------------------ operations
    def reconcile(self, ctx: RouteContext) -> None:
        """Create or update the objects the router owns, keeping the weights they carry."""
        found = self._found(ctx)
        for ref, wanted in self.router.render(ctx, self.router.read(ctx, found), found):
            if ref.owned:
                self._ensure(ctx, ref, wanted, found.get(ref))

    def set_routes(self, ctx: RouteContext, routes: Routes) -> None:
        found = self._found(ctx)
        for ref, wanted in self.router.render(ctx, routes, found):
            self._ensure(ctx, ref, wanted, found.get(ref))

    def get_routes(self, ctx: RouteContext) -> Routes:
        return self.router.read(ctx, self._found(ctx))

    def finalize(self, ctx: RouteContext) -> None:
        """Hand traffic back to the apex Service and remove what only the canary needed."""
        found = self._found(ctx)
        keep, delete = self.router.handback(ctx, found)
        for ref, wanted in keep:
            existing = found.get(ref)
            if existing is not None:
                self._ensure(ctx, ref, wanted, existing)
        for ref in delete:
            self.kube.delete_custom(ref.group, ref.version, ref.plural, ctx.namespace, ref.name)

    # ------------------------------------------------------------------------------ I/O
    def _found(self, ctx: RouteContext) -> Found:
        refs = [*self.router.inputs(ctx), *self.router.refs(ctx)]
        return {
            ref: self.kube.get_custom(ref.group, ref.version, ref.plural, ctx.namespace, ref.name)
            for ref in refs
        }

    def _ensure(self, ctx: RouteContext, ref: Ref, wanted: JSON, existing: JSON | None) -> None:
        if ref.owned:
            self.kube.ensure_spec(ref.group, ref.version, ref.plural, wanted, existing=existing)
            return
        if existing is None:
            raise NotFound(f"{ref.kind} {ctx.namespace}/{ref.name} not found: it routes the canary's traffic")
        patch = {k: v for k, v in wanted.items() if k not in ("apiVersion", "kind", "metadata")}
        if not contains(existing, patch):
            self.kube.patch_custom(
                ref.group, ref.version, ref.plural, namespace=ctx.namespace, name=ref.name, patch=patch
            )
