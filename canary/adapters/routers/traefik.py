"""The Traefik provider: a TraefikService ``<apex>`` (``traefik.io/v1alpha1``) that splits traffic.

The user's IngressRoute sends to the TraefikService ``<apex>`` (``kind: TraefikService``), as with
Flagger.  Its ``weighted`` services are ``<apex>-primary`` and ``<apex>-canary`` on ``service.port``
with the weights (Traefik's weighted round robin).  The canary Service is listed only while it has a
weight, as Flagger does: Traefik (``providers.kubernetesCRD`` without ``allowEmptyServices``) drops
a whole TraefikService one of whose Services has no endpoints, and every request for its
IngressRoute then gets a 404 (measured: 37 requests in a second after a promotion scaled the
canary to zero, before this rule).  While mirroring (``analysis.mirror``, blue/green), the spec is a
``mirroring`` one instead: every request goes to the primary, and ``analysis.mirrorWeight`` percent
(default 100) of them is copied to the canary, whose responses Traefik discards.  Flagger's traefik
router does not mirror.

A TraefikService cannot match requests (the IngressRoute does), so A/B testing is refused naming
``analysis.match``; timeouts, retries and the other route policies are the IngressRoute's and its
middlewares', and are refused too rather than ignored.  The ``service.apex`` labels and annotations
go on the TraefikService.  A Canary deleted with revertOnDeletion keeps it (the IngressRoute names
it) but sends everything to the apex Service.
"""

from __future__ import annotations

from typing import Any, ClassVar

from canary.adapters.routers.base import Found, Ref, Rendered, RouteContext
from canary.adapters.routers.single import SingleObjectRouter
from canary.core.capabilities import Capability
from canary.core.observations import Routes

GROUP = "traefik.io"
VERSION = "v1alpha1"
PLURAL = "traefikservices"


class TraefikRouter(SingleObjectRouter):
    GROUP, VERSION, PLURAL, KIND = GROUP, VERSION, PLURAL, "TraefikService"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.WEIGHTS, Capability.MIRRORING})

    @staticmethod
    def _service(ctx: RouteContext, name: str, **extra: Any) -> dict[str, Any]:
        return {"name": name, "namespace": ctx.namespace, "port": ctx.spec.service.port, **extra}

    def spec(self, ctx: RouteContext, routes: Routes) -> dict[str, Any]:
        if routes.mirrored and routes.canary == 0:
            analysis = ctx.spec.effective_analysis
            percent = (analysis.mirror_weight if analysis else None) or 100
            return {
                "mirroring": {
                    **self._service(ctx, ctx.primary_service),
                    "mirrors": [self._service(ctx, ctx.canary_service, percent=percent)],
                }
            }
        services = [self._service(ctx, ctx.primary_service, weight=routes.primary)]
        if routes.canary > 0:  # a Service without endpoints would take the whole TraefikService down
            services.append(self._service(ctx, ctx.canary_service, weight=routes.canary))
        return {"weighted": {"services": services}}

    @staticmethod
    def weights(obj: dict[str, Any]) -> dict[str, int]:
        services = ((obj.get("spec") or {}).get("weighted") or {}).get("services") or []
        return {s.get("name"): int(s.get("weight") or 0) for s in services}

    def _read(self, obj: dict[str, Any], ctx: RouteContext) -> Routes:
        mirroring = (obj.get("spec") or {}).get("mirroring")
        if mirroring is not None:
            mirrored = any(m.get("name") == ctx.canary_service for m in mirroring.get("mirrors") or [])
            to_canary = mirroring.get("name") == ctx.canary_service
            return Routes(0, 100, mirrored) if to_canary else Routes(100, 0, mirrored)
        return super()._read(obj, ctx)

    def handback(self, ctx: RouteContext, found: Found) -> tuple[Rendered, list[Ref]]:
        """Keep the TraefikService (the IngressRoute sends to it), all of it to the apex Service."""
        spec = {"weighted": {"services": [self._service(ctx, ctx.apex, weight=100)]}}
        return [(self.ref(ctx), self.ref(ctx).body(ctx.apex_metadata(), spec))], []
