"""The NGINX ingress provider: a clone of ``spec.ingressRef`` named ``<ingress>-canary``.

The clone's backends point at ``<apex>-canary`` and it carries ingress-nginx's canary annotations:
``canary: "true"`` and ``canary-weight`` for a progressive canary; for A/B testing, the one header of
the one ``analysis.match`` entry becomes ``canary-by-header`` with ``-value`` (exact) or ``-pattern``
(regex), and a ``cookie`` header match becomes ``canary-by-cookie`` naming the cookie (its exact value,
as Flagger reads it; ingress-nginx then sends requests whose cookie is ``always`` to the canary).
ingress-nginx has one such condition, so a spec with more match entries or headers, or a header
matched by prefix or suffix, is refused naming the field rather than narrowed.  The original
Ingress is left as it is: it keeps sending traffic to the apex Service, that is to the primary.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

from canary.adapters.routers import ingress
from canary.adapters.routers.base import Found, Ref, Rendered, RouteContext
from canary.core.capabilities import Capability
from canary.core.errors import InvalidSpec
from canary.core.observations import Routes, RouteVerdict
from canary.models.canary import Strategy

PREFIX = "nginx.ingress.kubernetes.io"
_AB_KEYS = ("canary-by-header", "canary-by-header-value", "canary-by-header-pattern", "canary-by-cookie")


def _retarget(node: Any, apex: str, canary: str) -> None:
    """Point every backend that names the apex Service at the canary Service instead."""
    if isinstance(node, dict):
        service = node.get("service")
        if isinstance(service, dict) and service.get("name") == apex:
            service["name"] = canary
        for child in node.values():
            _retarget(child, apex, canary)
    elif isinstance(node, list):
        for child in node:
            _retarget(child, apex, canary)


class NginxRouter:
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.WEIGHTS, Capability.HEADER_MATCH})
    reads: ClassVar[frozenset[str]] = frozenset({"spec.ingressRef"})

    def __init__(self, prefix: str = PREFIX) -> None:
        self.prefix = prefix

    @staticmethod
    def check(ctx: RouteContext) -> None:
        """Refuse A/B matches ingress-nginx cannot express: one entry, one header or cookie."""
        analysis = ctx.spec.effective_analysis
        if ctx.spec.strategy is not Strategy.AB_TESTING or analysis is None:
            return
        one = (
            "the nginx provider routes A/B requests by one header or cookie (ingress-nginx's canary-by-header"
        )
        matches = analysis.match or []
        if len(matches) != 1:
            raise InvalidSpec(f"spec.analysis.match[1]: {one} or canary-by-cookie); keep one entry")
        headers = matches[0].headers or {}
        if len(headers) != 1:
            raise InvalidSpec(f"spec.analysis.match[0].headers: {one} or canary-by-cookie); keep one header")
        ((name, match),) = headers.items()
        field = f"spec.analysis.match[0].headers.{name}"
        if name.lower() == "cookie":
            if match.exact is None:
                raise InvalidSpec(f"{field}: the nginx provider needs the cookie's name as an exact match")
        elif match.exact is None and match.regex is None:
            raise InvalidSpec(f"{field}: ingress-nginx matches a header by exact value or regex only")

    def _annotations(self, ctx: RouteContext, routes: Routes) -> dict[str, str | None]:
        p = self.prefix
        out: dict[str, str | None] = {f"{p}/canary": "true", f"{p}/canary-weight": str(routes.canary)}
        out.update({f"{p}/{k}": None for k in _AB_KEYS})
        analysis = ctx.spec.effective_analysis
        if ctx.spec.strategy is Strategy.AB_TESTING and analysis is not None and routes.canary > 0:
            out[f"{p}/canary-weight"] = "0"
            headers = (analysis.match or [])[0].headers or {} if analysis.match else {}
            for header, match in sorted(headers.items()):
                if header.lower() == "cookie" and match.exact:
                    out[f"{p}/canary-by-cookie"] = match.exact
                else:
                    out[f"{p}/canary-by-header"] = header
                    if match.exact is not None:
                        out[f"{p}/canary-by-header-value"] = match.exact
                    elif match.regex is not None:
                        out[f"{p}/canary-by-header-pattern"] = match.regex
                break
        return out

    def canary_ingress(self, ctx: RouteContext, source: dict[str, Any], routes: Routes) -> dict[str, Any]:
        spec = copy.deepcopy(source.get("spec", {}))
        _retarget(spec, ctx.apex, ctx.canary_service)
        return ingress.clone(ctx, source, spec, self._annotations(ctx, routes))

    # ------------------------------------------------------------------------------ Router
    def refs(self, ctx: RouteContext) -> list[Ref]:
        return [ingress.clone_ref(ctx, "nginx")]

    def inputs(self, ctx: RouteContext) -> list[Ref]:
        return [ingress.ingress_ref(ingress.source_name(ctx, "nginx"))]

    def render(self, ctx: RouteContext, routes: Routes, found: Found) -> Rendered:
        self.check(ctx)
        return [(self.refs(ctx)[0], self.canary_ingress(ctx, ingress.source(ctx, found, "nginx"), routes))]

    def read(self, ctx: RouteContext, found: Found) -> Routes:
        existing = found.get(self.refs(ctx)[0])
        return self._read(existing) if existing is not None else Routes(100, 0)

    def _read(self, ingress: dict[str, Any]) -> Routes:
        annotations = ingress.get("metadata", {}).get("annotations") or {}
        if any(f"{self.prefix}/{k}" in annotations for k in ("canary-by-header", "canary-by-cookie")):
            return Routes(0, 100)
        weight = int(annotations.get(f"{self.prefix}/canary-weight", "0") or 0)
        return Routes(100 - weight, weight)

    def handback(self, ctx: RouteContext, found: Found) -> tuple[Rendered, list[Ref]]:
        """Delete the canary clone: the original Ingress already sends everything to the apex Service."""
        return [], self.refs(ctx) if ctx.spec.ingress_ref is not None else []

    def verdict(self, ctx: RouteContext, found: Found) -> RouteVerdict | None:
        """ingress-nginx reports nothing on an Ingress but its load-balancer address."""
        return None
