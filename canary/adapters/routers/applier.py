"""The one place routing objects are read and written, for every router.

Who calls this: ``canary.operator.tick`` (``reconcile`` before deciding, ``set_routes`` for the core's
``SetWeights`` actions, ``observe`` for the weights and the data plane's verdict, ``finalize`` when
a Canary with revertOnDeletion is deleted).  It gets the objects a router names (from the watch
caches where they cover the kind), asks the router what they should be, and writes only what
differs:

* an object the router owns is made to carry what the router renders (``KubeClient.ensure_spec``:
  created, or patched when the spec canary wrote last, recorded by its digest, is another or someone
  changed what it set; a field the API server drops, because the installed CRD lacks it, is
  refused as ``Pruned`` naming the field);
* an object the router does not own (the apex Service) is patched with the fields the router renders
  when they are not already there, and only to move traffic: ``reconcile`` leaves it alone.

A spec asking for a capability the router lacks (``canary.core.capabilities``) raises InvalidSpec
naming the field before anything is read or written, and so does ``render`` for what the router
cannot express in its own terms; the tick reports it on the Canary (Ready=False, a Warning event).
"""

from __future__ import annotations

import contextlib

from canary.adapters.kube.client import KubeClient, contains
from canary.adapters.routers.base import JSON, Found, Ref, RouteContext, Router, placement
from canary.adapters.routers.registry import providers_with, readers_of
from canary.core.capabilities import Capability, refusal
from canary.core.errors import InvalidSpec, NotFound, Pruned
from canary.core.observations import Routes, RouteVerdict


class Traffic:
    """A router and the I/O it needs: what ``canary.operator.tick`` moves traffic with."""

    def __init__(self, kube: KubeClient, router: Router, provider: str) -> None:
        self.kube, self.router, self.provider = kube, router, provider

    @property
    def capabilities(self) -> frozenset[Capability]:
        return self.router.capabilities

    # ------------------------------------------------------------------------------ operations
    def check(self, ctx: RouteContext) -> None:
        """InvalidSpec, naming the field, for a spec asking what the router cannot do."""
        message = refusal(ctx.spec, self.provider, self.router.capabilities, providers_with())
        if message is not None:
            raise InvalidSpec(message)
        for field in placement(ctx.spec):
            if field not in self.router.reads:
                readers = ", ".join(readers_of(field)) or "none"
                raise InvalidSpec(
                    f"{field}: the {self.provider} provider does not use it (providers that do: {readers}); "
                    "remove it"
                )
        for field, value, owner in (
            ("spec.routeRef", ctx.spec.route_ref, "apisix"),
            ("spec.upstreamRef", ctx.spec.upstream_ref, "gloo"),
        ):
            if value is not None:  # Flagger's, for a provider with no router here: it would do nothing
                raise InvalidSpec(
                    f"{field}: only Flagger's {owner} provider uses it, and canary has no {owner} "
                    f"router; remove it (the {self.provider} provider does not use it)"
                )

    def reconcile(self, ctx: RouteContext) -> None:
        """Create or update the objects the router owns, keeping the weights they carry."""
        self.check(ctx)
        found = self._found(ctx)
        for ref, wanted in self.router.render(ctx, self.router.read(ctx, found), found):
            if ref.owned:
                self._ensure(ctx, ref, wanted, found.get(ref))

    def set_routes(self, ctx: RouteContext, routes: Routes) -> None:
        """Move traffic.  A field the API server drops (``Pruned``) does not stop it: the weights are
        written with the rest, and this tick's ``reconcile`` has already reported the spec."""
        self.check(ctx)
        found = self._found(ctx)
        for ref, wanted in self.router.render(ctx, routes, found):
            with contextlib.suppress(Pruned):
                self._ensure(ctx, ref, wanted, found.get(ref))

    def observe(self, ctx: RouteContext) -> tuple[Routes, RouteVerdict | None]:
        """The weights and the data plane's verdict, from one read of the objects."""
        found = self._found(ctx)
        return self.router.read(ctx, found), self.router.verdict(ctx, found)

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
