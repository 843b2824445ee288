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
``finalize`` keeps it (the root HTTPProxy includes it) but sends everything to the apex Service.
"""

from __future__ import annotations

import re
from typing import Any

from canary.adapters.kube.client import KubeClient
from canary.adapters.kube.primary import CANARY_LABEL, MANAGED_BY
from canary.adapters.routers.base import RouteContext
from canary.core.errors import InvalidSpec
from canary.core.observations import Routes
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


class ContourRouter:
    def __init__(self, kube: KubeClient) -> None:
        self.kube = kube

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

    def proxy(self, ctx: RouteContext, routes: Routes) -> dict[str, Any]:
        apex_meta = ctx.spec.service.apex
        return {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "HTTPProxy",
            "metadata": {
                "name": ctx.apex,
                "namespace": ctx.namespace,
                "labels": {
                    **((apex_meta.labels if apex_meta else None) or {}),
                    CANARY_LABEL: ctx.canary,
                    **MANAGED_BY,
                },
                "annotations": dict((apex_meta.annotations if apex_meta else None) or {}),
            },
            "spec": {"routes": self.routes(ctx, routes)},
        }

    # ------------------------------------------------------------------------------ Router
    def reconcile(self, ctx: RouteContext) -> None:
        existing = self.kube.get_custom(GROUP, VERSION, PLURAL, ctx.namespace, ctx.apex)
        if existing is None:
            self.kube.create_custom(GROUP, VERSION, PLURAL, self.proxy(ctx, Routes(100, 0)))
            return
        wanted = self.proxy(ctx, self._read(existing, ctx))
        if existing.get("spec") != wanted["spec"]:
            self._patch(ctx, wanted)

    def set_routes(self, ctx: RouteContext, routes: Routes) -> None:
        wanted = self.proxy(ctx, routes)
        if self.kube.get_custom(GROUP, VERSION, PLURAL, ctx.namespace, ctx.apex) is None:
            # Only when reconcile never ran (a refused spec being deleted): route to the primary
            # rather than fail the deletion on a 404.
            self.kube.create_custom(GROUP, VERSION, PLURAL, wanted)
            return
        self._patch(ctx, wanted)

    def get_routes(self, ctx: RouteContext) -> Routes:
        existing = self.kube.get_custom(GROUP, VERSION, PLURAL, ctx.namespace, ctx.apex)
        return self._read(existing, ctx) if existing else Routes(100, 0)

    def _patch(self, ctx: RouteContext, wanted: dict[str, Any]) -> None:
        # A merge patch replaces the routes list wholesale; labels are merged (others may own some).
        patch = {"metadata": {"labels": wanted["metadata"]["labels"]}, "spec": wanted["spec"]}
        self.kube.patch_custom(GROUP, VERSION, PLURAL, namespace=ctx.namespace, name=ctx.apex, patch=patch)

    @staticmethod
    def _read(proxy: dict[str, Any], ctx: RouteContext) -> Routes:
        routes = proxy.get("spec", {}).get("routes") or []
        if not routes:
            return Routes(100, 0)
        # The weighted route, or the first A/B route: the default route of A/B is always 100/0.
        weights = {s.get("name"): int(s.get("weight") or 0) for s in routes[0].get("services") or []}
        primary, canary = weights.get(ctx.primary_service, 0), weights.get(ctx.canary_service, 0)
        total = primary + canary
        if total == 0:
            return Routes(100, 0)
        return Routes(round(100 * primary / total), round(100 * canary / total))

    def finalize(self, ctx: RouteContext) -> None:
        """Keep the HTTPProxy (a root HTTPProxy includes it) but send it all to the apex Service."""
        if self.kube.get_custom(GROUP, VERSION, PLURAL, ctx.namespace, ctx.apex) is None:
            return
        route = self._route(ctx, [], Routes(100, 0))
        route["services"] = [{"name": ctx.apex, "port": ctx.spec.service.port, "weight": 100}]
        self.kube.patch_custom(
            GROUP,
            VERSION,
            PLURAL,
            namespace=ctx.namespace,
            name=ctx.apex,
            patch={"spec": {"routes": [route]}},
        )
