"""The Contour provider: an HTTPProxy ``<apex>`` whose route services carry the weights.

The HTTPProxy has no virtualhost: it is meant to be included from a root HTTPProxy that owns the
host name (and TLS), as Flagger's is.  Its route matches the path prefix of the first
``service.match`` entry's ``uri`` (default ``/``) and splits traffic between ``<apex>-primary`` and
``<apex>-canary`` on ``service.port`` by weight.  ``service.timeout`` becomes the route's
``timeoutPolicy.response``, ``service.retries`` its ``retryPolicy`` (``attempts`` -> ``count``,
``perTryTimeout``).  The ``metadata.apex`` labels and annotations go on the HTTPProxy.

For A/B testing, one route per ``analysis.match`` entry comes first, with the prefix and that entry's
conditions, and carries the weights; a last route with the prefix alone keeps everything else on
the primary (the structure of the istio and gatewayapi routers).  Contour matches headers with
``exact``, ``regex`` and ``present``: a prefix or a suffix becomes an anchored regular expression (as
the gatewayapi router does; Flagger's ``contains`` would also match the string anywhere in the
value), and a header named without a value must be present.  Query parameters map one to one.
Anything else in a match entry (uri, method, withoutHeaders, ...) is refused as an invalid spec
naming the field, rather than dropped, which would widen the match.

Like the other routing objects, the HTTPProxy carries the canary's label but no ownerReference, and
a Canary deleted with revertOnDeletion keeps it (the root HTTPProxy includes it) but sends
everything to the apex Service.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from canary.adapters.routers.base import Found, Ref, Rendered, RouteContext
from canary.adapters.routers.single import SingleObjectRouter
from canary.core.capabilities import Capability
from canary.core.errors import InvalidSpec
from canary.core.observations import Routes, RouteVerdict
from canary.models.canary import HTTPMatchRequest, Strategy, StringMatch

GROUP = "projectcontour.io"
VERSION = "v1"
PLURAL = "httpproxies"

#: what an A/B match entry may use with this provider (``name`` only labels the entry)
_SUPPORTED_MATCH_FIELDS = frozenset({"name", "headers", "query_params"})


def _header_condition(name: str, m: StringMatch) -> dict[str, Any]:
    if m.exact is not None:
        return {"name": name, "exact": m.exact}
    if m.regex is not None:
        return {"name": name, "regex": m.regex}
    if m.prefix is not None:
        return {"name": name, "regex": f"^{re.escape(m.prefix)}.*"}
    if m.suffix is not None:
        return {"name": name, "regex": f".*{re.escape(m.suffix)}$"}
    return {"name": name, "present": True}


def _query_condition(name: str, m: StringMatch) -> dict[str, Any]:
    for kind in ("exact", "prefix", "suffix", "regex"):
        value = getattr(m, kind)
        if value is not None:
            return {"name": name, kind: value}
    return {"name": name, "present": True}


def match_conditions(m: HTTPMatchRequest, index: int) -> list[dict[str, Any]]:
    """The header and query parameter conditions of ``analysis.match[index]``."""
    fields = type(m).model_fields
    unsupported = sorted(
        fields[f].alias or f
        for f in m.model_fields_set - _SUPPORTED_MATCH_FIELDS
        if getattr(m, f) is not None
    )
    if unsupported:
        raise InvalidSpec(
            f"spec.analysis.match[{index}].{unsupported[0]}: the contour provider routes A/B requests by "
            "headers and queryParams only"
        )
    conditions = [{"header": _header_condition(n, s)} for n, s in sorted((m.headers or {}).items())]
    conditions += [
        {"queryParameter": _query_condition(n, s)} for n, s in sorted((m.query_params or {}).items())
    ]
    if not conditions:
        raise InvalidSpec(
            f"spec.analysis.match[{index}]: the contour provider needs headers or queryParams to tell "
            "A/B requests apart"
        )
    return conditions


class ContourRouter(SingleObjectRouter):
    GROUP, VERSION, PLURAL, KIND = GROUP, VERSION, PLURAL, "HTTPProxy"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.WEIGHTS,
            Capability.HEADER_MATCH,
            Capability.QUERY_MATCH,
            Capability.TIMEOUTS,
            Capability.RETRIES,
        }
    )
    reads: ClassVar[frozenset[str]] = frozenset({"spec.service.match"})

    # ------------------------------------------------------------------------------ building
    @staticmethod
    def prefix(ctx: RouteContext) -> str:
        match = ctx.spec.service.match or []
        uri = match[0].uri if match else None
        return uri.prefix if uri is not None and uri.prefix else "/"

    def _route(self, ctx: RouteContext, conditions: list[dict[str, Any]], routes: Routes) -> dict[str, Any]:
        svc = ctx.spec.service
        route: dict[str, Any] = {
            "conditions": [{"prefix": self.prefix(ctx)}, *conditions],
            "services": [
                {"name": ctx.primary_service, "port": svc.port, "weight": routes.primary},
                {"name": ctx.canary_service, "port": svc.port, "weight": routes.canary},
            ],
        }
        if svc.timeout:
            route["timeoutPolicy"] = {"response": svc.timeout}
        if svc.retries is not None:
            retry = {
                k: v
                for k, v in (("count", svc.retries.attempts), ("perTryTimeout", svc.retries.per_try_timeout))
                if v is not None
            }
            if retry:
                route["retryPolicy"] = retry
        return route

    def routes(self, ctx: RouteContext, routes: Routes) -> list[dict[str, Any]]:
        analysis = ctx.spec.effective_analysis
        if ctx.spec.strategy is not Strategy.AB_TESTING or analysis is None:
            return [self._route(ctx, [], routes)]
        out = [self._route(ctx, match_conditions(m, i), routes) for i, m in enumerate(analysis.match or [])]
        out.append(self._route(ctx, [], Routes(100, 0)))
        return out

    def spec(self, ctx: RouteContext, routes: Routes) -> dict[str, Any]:
        return {"routes": self.routes(ctx, routes)}

    def proxy(self, ctx: RouteContext, routes: Routes) -> dict[str, Any]:
        return self.object(ctx, routes)

    @staticmethod
    def weights(obj: dict[str, Any]) -> dict[str, int]:
        # The weighted route, or the first A/B route: the default route of A/B is always 100/0.
        routes = obj.get("spec", {}).get("routes") or []
        services = routes[0].get("services") or [] if routes else []
        return {s.get("name"): int(s.get("weight") or 0) for s in services}

    def handback(self, ctx: RouteContext, found: Found) -> tuple[Rendered, list[Ref]]:
        """Keep the HTTPProxy (a root HTTPProxy includes it) but send it all to the apex Service."""
        route = self._route(ctx, [], Routes(100, 0))
        route["services"] = [{"name": ctx.apex, "port": ctx.spec.service.port, "weight": 100}]
        return [(self.ref(ctx), self.ref(ctx).body(ctx.apex_metadata(), {"routes": [route]}))], []

    def verdict(self, ctx: RouteContext, found: Found) -> RouteVerdict | None:
        """Contour's word on the HTTPProxy: its ``Valid`` condition for the current generation (False
        with the errors' reasons, for instance ``Orphaned`` while no root HTTPProxy includes it)."""
        proxy = found.get(self.ref(ctx))
        if proxy is None:
            return None
        generation = (proxy.get("metadata") or {}).get("generation")
        status = proxy.get("status") or {}
        for c in status.get("conditions") or []:
            if c.get("type") != "Valid" or c.get("observedGeneration", generation) != generation:
                continue
            if c.get("status") == "True":
                return RouteVerdict(True, f"HTTPProxy {ctx.apex}: valid ({status.get('description', '')})")
            errors = (
                "; ".join(f"{e.get('reason', '')}: {e.get('message', '')}" for e in c.get("errors") or [])
                or f"{c.get('reason', '')}: {c.get('message', '')}"
            )
            return RouteVerdict(False, f"HTTPProxy {ctx.apex}: Contour reports Valid=False: {errors}")
        return None
