"""The knative provider: the Knative Service's own ``spec.traffic``, split between two revisions by name.

The target is the Knative Service (``canary.adapters.kube.knative``), which names the primary
revision; the canary is its latest created revision.  The router writes ``spec.traffic`` with the
primary revision's percent and, while it has any, the canary revision's, each by ``revisionName``
(``latestRevision: false``, as Knative's defaulting would write it, so a defaulted object reads as
unchanged).  Knative's route controller turns that into its Route and ingress.  Flagger writes the
canary's share as ``latestRevision: true``, which sends it to any newer revision the moment Knative
makes one; here a revision gets traffic only while it is the one analysed.

The weights are read back from ``spec.traffic``: the primary's percent against everything else
(an entry for another revision, or ``latestRevision: true`` resolving to one, counts as not on the
primary).  A Service without ``spec.traffic`` sends everything to its latest ready revision.

Knative's word (``verdict``): the Service's ``RoutesReady`` condition for its current generation.
False, or Unknown because a named revision is missing or not ready (Knative then keeps routing as
before), means the weights written are not in effect; True means they are.  Knative says Unknown
while its networking layer programs the ingress: no verdict then.

Only weights: Knative has no mirroring, no header or cookie match for a split (tag routing by header
is a feature flag of its own), and the route policies (timeouts, retries, ...) are the Service's and
its ingress's; they are refused naming the field.  A Canary deleted with revertOnDeletion gives the
Service back to Knative's default: all traffic to the latest ready revision.
"""

from __future__ import annotations

from typing import Any, ClassVar

from canary.adapters.kube.knative import SERVICES
from canary.adapters.routers.base import Found, Ref, Rendered, RouteContext
from canary.core.capabilities import Capability
from canary.core.errors import InvalidSpec
from canary.core.observations import Routes, RouteVerdict

#: Knative's reasons for RoutesReady=Unknown that mean the traffic written is not in effect
_HELD = frozenset({"RevisionMissing", "ConfigurationMissing"})


def _service(ctx: RouteContext) -> Ref:
    name = ctx.spec.target_ref.name
    return Ref(SERVICES.group, SERVICES.version, SERVICES.plural, "Service", name, owned=False)


def _entry(revision: str, percent: int) -> dict[str, Any]:
    return {"revisionName": revision, "percent": percent, "latestRevision": False}


def _revisions(ctx: RouteContext) -> tuple[str, str]:
    if ctx.revisions is None:
        raise InvalidSpec("spec.provider: the knative provider needs a Knative Service (spec.targetRef)")
    return ctx.revisions


class KnativeRouter:
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.WEIGHTS})
    reads: ClassVar[frozenset[str]] = frozenset()

    def refs(self, ctx: RouteContext) -> list[Ref]:
        return [_service(ctx)]

    def inputs(self, ctx: RouteContext) -> list[Ref]:
        return []

    def render(self, ctx: RouteContext, routes: Routes, found: Found) -> Rendered:
        primary, canary = _revisions(ctx)
        if canary == primary or routes.canary == 0:
            traffic = [_entry(primary, 100)]
        elif routes.primary == 0:
            traffic = [_entry(canary, 100)]
        else:
            traffic = [_entry(primary, routes.primary), _entry(canary, routes.canary)]
        return [(_service(ctx), {"spec": {"traffic": traffic}})]

    def read(self, ctx: RouteContext, found: Found) -> Routes:
        service = found.get(_service(ctx))
        if service is None or ctx.revisions is None:
            return Routes(100, 0)
        primary = ctx.revisions[0]
        status = service.get("status") or {}
        traffic = (service.get("spec") or {}).get("traffic") or [
            {"latestRevision": True, "percent": 100}  # Knative's default
        ]
        on_primary = elsewhere = 0
        for entry in traffic:
            name = entry.get("revisionName")
            if entry.get("latestRevision") or (not name and entry.get("configurationName")):
                # Before the pin (canary.adapters.kube.knative) the latest ready revision is the primary.
                name = status.get("latestReadyRevisionName") or primary
            percent = int(entry.get("percent") or 0)
            if name == primary:
                on_primary += percent
            else:
                elsewhere += percent
        return Routes.proportional(on_primary, elsewhere)

    def handback(self, ctx: RouteContext, found: Found) -> tuple[Rendered, list[Ref]]:
        """Knative's default again: everything to the latest ready revision."""
        spec = {"traffic": [{"latestRevision": True, "percent": 100}]}
        return [(_service(ctx), {"spec": spec})], []

    def verdict(self, ctx: RouteContext, found: Found) -> RouteVerdict | None:
        service = found.get(_service(ctx))
        if service is None:
            return None
        meta, status = service.get("metadata") or {}, service.get("status") or {}
        if status.get("observedGeneration") != meta.get("generation"):
            return None  # Knative has not seen the traffic written last
        condition = {c.get("type"): c for c in status.get("conditions") or []}.get("RoutesReady")
        if condition is None:
            return None
        where = f"Knative Service {meta.get('name')}"
        state, reason = condition.get("status"), condition.get("reason", "")
        if state == "True":
            return RouteVerdict(True, f"{where}: Knative reports RoutesReady=True")
        if state == "False" or reason in _HELD:
            message = condition.get("message", "")
            return RouteVerdict(False, f"{where}: Knative reports RoutesReady={state} ({reason}): {message}")
        return None
