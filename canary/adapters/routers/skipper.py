"""The Skipper provider: a clone of ``spec.ingressRef`` named ``<ingress>-canary`` with weighted backends.

The source Ingress is left as it is: it sends to the apex Service, that is to the primary.  In the
clone, every path whose backend is the apex Service goes to ``<apex>-primary`` and is repeated for
``<apex>-canary``; Skipper splits the two by the ``zalando.org/backend-weights`` annotation
(``{"<apex>-primary": 90, "<apex>-canary": 10}``).  The clone's routes take precedence over the
source's by the ``Weight(100)`` predicate in ``zalando.org/skipper-predicate`` (the source's own
predicates are kept after it); while the canary has no traffic the predicate is ``False()`` instead,
so the clone matches nothing and the source serves alone.  These are Flagger's annotations.

A source Ingress with no backend naming the apex Service cannot be split and is refused naming
``spec.ingressRef``.  Skipper predicates could match headers, but Flagger's skipper router does not
and neither does this one: A/B testing is refused naming ``analysis.match``.  A Canary deleted with
revertOnDeletion deletes the clone.
"""

from __future__ import annotations

import copy
import json
from typing import Any, ClassVar

from canary.adapters.routers import ingress
from canary.adapters.routers.base import Found, Ref, Rendered, RouteContext
from canary.core.capabilities import Capability
from canary.core.errors import InvalidSpec
from canary.core.observations import Routes, RouteVerdict

WEIGHTS = "zalando.org/backend-weights"
PREDICATE = "zalando.org/skipper-predicate"
ON, OFF = "Weight(100)", "False()"


def _predicate(source: str | None, first: str) -> str:
    """``first`` followed by the source's own predicates (never a weight or disabling one)."""
    kept = [p.strip() for p in (source or "").split("&&") if p.strip() and p.strip() not in (ON, OFF)]
    return " && ".join([first, *kept])


class SkipperRouter:
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.WEIGHTS})
    reads: ClassVar[frozenset[str]] = frozenset({"spec.ingressRef"})

    @staticmethod
    def _split(ctx: RouteContext, source: dict[str, Any]) -> dict[str, Any]:
        spec = copy.deepcopy(source.get("spec") or {})
        split = False
        for rule in spec.get("rules") or []:
            paths = (rule.get("http") or {}).get("paths") or []
            for path in list(paths):
                service = (path.get("backend") or {}).get("service") or {}
                if service.get("name") == ctx.apex:
                    service["name"] = ctx.primary_service
                    twin = copy.deepcopy(path)
                    twin["backend"]["service"]["name"] = ctx.canary_service
                    paths.append(twin)
                    split = True
        if not split:
            name = source["metadata"]["name"]
            raise InvalidSpec(
                f"spec.ingressRef: Ingress {name} has no path whose backend is the apex Service "
                f"{ctx.apex}; the skipper provider splits those paths"
            )
        return spec

    def canary_ingress(self, ctx: RouteContext, source: dict[str, Any], routes: Routes) -> dict[str, Any]:
        own = (source["metadata"].get("annotations") or {}).get(PREDICATE)
        annotations: dict[str, str | None] = {
            WEIGHTS: json.dumps({ctx.primary_service: routes.primary, ctx.canary_service: routes.canary}),
            PREDICATE: _predicate(own, ON if routes.canary > 0 else OFF),
        }
        return ingress.clone(ctx, source, self._split(ctx, source), annotations)

    # ------------------------------------------------------------------------------ Router
    def refs(self, ctx: RouteContext) -> list[Ref]:
        return [ingress.clone_ref(ctx, "skipper")]

    def inputs(self, ctx: RouteContext) -> list[Ref]:
        return [ingress.ingress_ref(ingress.source_name(ctx, "skipper"))]

    def render(self, ctx: RouteContext, routes: Routes, found: Found) -> Rendered:
        source = ingress.source(ctx, found, "skipper")
        return [(self.refs(ctx)[0], self.canary_ingress(ctx, source, routes))]

    def read(self, ctx: RouteContext, found: Found) -> Routes:
        clone = found.get(self.refs(ctx)[0])
        if clone is None:
            return Routes(100, 0)
        annotations = clone.get("metadata", {}).get("annotations") or {}
        if OFF in (annotations.get(PREDICATE) or ""):
            return Routes(100, 0)  # the clone matches nothing
        try:
            weights = json.loads(annotations.get(WEIGHTS) or "{}")
            primary, canary = (int(weights.get(n) or 0) for n in (ctx.primary_service, ctx.canary_service))
        except (ValueError, TypeError, AttributeError):
            return Routes(100, 0)  # not ours to read: the next render writes it
        return Routes.proportional(primary, canary)

    def handback(self, ctx: RouteContext, found: Found) -> tuple[Rendered, list[Ref]]:
        """Delete the clone: the source Ingress already sends everything to the apex Service."""
        return [], self.refs(ctx) if ctx.spec.ingress_ref is not None else []

    def verdict(self, ctx: RouteContext, found: Found) -> RouteVerdict | None:
        """Skipper reports nothing on an Ingress but its load-balancer address."""
        return None
