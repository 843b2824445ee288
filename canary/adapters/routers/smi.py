"""SMI TrafficSplit providers: ``linkerd``, ``osm``, ``smi:v1alpha2`` and ``smi:v1alpha3``.

Each is one TrafficSplit ``<apex>`` (``split.smi-spec.io``) whose backends, ``<apex>-primary`` and
``<apex>-canary``, carry integer weights; the mesh sends traffic addressed to the apex Service to
them in proportion.  Linkerd (with its SMI extension), Open Service Mesh and ``smi:v1alpha2`` write
``v1alpha2``; ``smi:v1alpha3`` writes ``v1alpha3`` (the same backends: Flagger's v1alpha3 router uses
none of its HTTPRouteGroup matches).  Weights are all a TrafficSplit says here, so the progressive
canary and blue/green (iterations) work and A/B testing is refused naming ``analysis.match``, rather
than having its matches quietly ignored (which would send every request, not the matching ones, to
the canary).

``smi:v1alpha1`` has no router: its weights are quantities, and no CRD a Kubernetes >= 1.22 can
install serves that version (``canary.adapters.routers.registry`` says so on the Canary).  A
``smi:v1alphaN:<mesh>`` value of Flagger's is converted to ``smi:v1alphaN`` by ``canary convert``.

The object's life cycle is ``SingleObjectRouter``'s.  The TrafficSplit exists only for the canary:
a Canary deleted with revertOnDeletion, once the apex Service selects the target again, deletes it,
so that the apex Service serves directly.
"""

from __future__ import annotations

from typing import Any, ClassVar

from canary.adapters.routers.base import RouteContext
from canary.adapters.routers.single import SingleObjectRouter
from canary.core.capabilities import Capability
from canary.core.observations import Routes

GROUP = "split.smi-spec.io"
PLURAL = "trafficsplits"


class TrafficSplitRouter(SingleObjectRouter):
    """``split.smi-spec.io/v1alpha2``: linkerd, osm, smi:v1alpha2."""

    GROUP, VERSION, PLURAL, KIND = GROUP, "v1alpha2", PLURAL, "TrafficSplit"
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


class TrafficSplitV1alpha3Router(TrafficSplitRouter):
    """``split.smi-spec.io/v1alpha3``: smi:v1alpha3."""

    VERSION = "v1alpha3"
