"""The ``Router`` protocol: how a provider creates its routing objects and moves traffic.

Who calls this: ``canary.operator.tick`` (reconcile before deciding, set_routes for the core's
``SetWeights`` actions, get_routes to observe).  Routers are the source of truth for weights: the
status only records what was last written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from canary.adapters.kube.primary import CANARY_LABEL, MANAGED_BY
from canary.adapters.routers.session import Session
from canary.core.observations import Routes
from canary.models.canary import CanarySpec


@dataclass(frozen=True)
class RouteContext:
    """What a router needs to know about one Canary."""

    spec: CanarySpec
    namespace: str
    canary: str
    #: the selector label of the target's Pods and its value, e.g. ("app", "podinfo")
    label: str
    value: str
    #: cookies of the current run when ``analysis.sessionAffinity`` is set (gatewayapi, istio)
    session: Session | None = None

    @property
    def apex(self) -> str:
        return self.spec.apex_service

    @property
    def primary_service(self) -> str:
        return f"{self.apex}-primary"

    @property
    def canary_service(self) -> str:
        return f"{self.apex}-canary"

    def apex_metadata(self) -> dict[str, Any]:
        """Metadata of a routing object named after the apex: ``service.apex`` labels and annotations,
        the canary's label on top."""
        apex_meta = self.spec.service.apex
        return {
            "name": self.apex,
            "namespace": self.namespace,
            "labels": {
                **((apex_meta.labels if apex_meta else None) or {}),
                CANARY_LABEL: self.canary,
                **MANAGED_BY,
            },
            "annotations": dict((apex_meta.annotations if apex_meta else None) or {}),
        }


class Router(Protocol):
    def reconcile(self, ctx: RouteContext) -> None:
        """Create or update the routing objects, keeping the current weights."""

    def set_routes(self, ctx: RouteContext, routes: Routes) -> None:
        """Send ``routes.primary``/``routes.canary`` percent of traffic (and mirror if asked)."""

    def get_routes(self, ctx: RouteContext) -> Routes:
        """The weights the routing objects carry now."""

    def finalize(self, ctx: RouteContext) -> None:
        """Hand traffic back to the apex Service (which then selects the target's Pods) and remove
        what only the canary needed.  Called when a Canary with revertOnDeletion is deleted."""
