"""The Linkerd provider: an SMI TrafficSplit ``<apex>`` whose backends carry the weights.

Linkerd (with its SMI extension) sends traffic addressed to the apex Service to the TrafficSplit's
backends, ``<apex>-primary`` and ``<apex>-canary``, in proportion to their integer weights
(``split.smi-spec.io/v1alpha2``).  That is all a TrafficSplit can say, so the progressive canary and
blue/green (iterations) work and A/B testing does not: a TrafficSplit cannot look at headers.  A spec
with ``analysis.match`` is refused as an invalid spec naming the field, rather than having its
matches quietly ignored (which would send every request, not the matching ones, to the canary).

The object's life cycle is ``SingleObjectRouter``'s.  The TrafficSplit exists only for the canary:
a Canary deleted with revertOnDeletion, once the apex Service selects the target again, deletes it,
so that the apex Service serves directly.
"""

from __future__ import annotations

from typing import Any, ClassVar

from canary.adapters.routers.base import RouteContext
from canary.adapters.routers.single import SingleObjectRouter
from canary.core.capabilities import Capability
from canary.core.errors import InvalidSpec
from canary.core.observations import Routes

GROUP = "split.smi-spec.io"
VERSION = "v1alpha2"
PLURAL = "trafficsplits"


class LinkerdRouter(SingleObjectRouter):
    GROUP, VERSION, PLURAL, KIND = GROUP, VERSION, PLURAL, "TrafficSplit"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.WEIGHTS})

    def spec(self, ctx: RouteContext, routes: Routes) -> dict[str, Any]:
        return {
            "service": ctx.apex,
            "backends": [
                {"service": ctx.primary_service, "weight": routes.primary},
                {"service": ctx.canary_service, "weight": routes.canary},
            ],
        }

    def traffic_split(self, ctx: RouteContext, routes: Routes) -> dict[str, Any]:
        return self.object(ctx, routes)

    @staticmethod
    def weights(obj: dict[str, Any]) -> dict[str, int]:
        return {
            b.get("service"): int(b.get("weight") or 0) for b in obj.get("spec", {}).get("backends") or []
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
