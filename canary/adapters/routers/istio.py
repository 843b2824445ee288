"""The Istio provider: a VirtualService ``<apex>`` and DestinationRules ``<apex>-primary`` and
``<apex>-canary``.

The VirtualService's first HTTP route carries the weights of the two destinations (and, while
mirroring, a mirror to the canary with ``mirrorPercentage``).  For A/B testing, one route per
``analysis.match`` entry (merged with ``service.match``) comes first and the default route keeps
everything else on the primary.  Hosts are ``service.hosts`` plus the apex name; gateways default to
``mesh``; a delegate VirtualService (``service.delegation``) has neither.  Retries, timeout, header
operations, rewrite and CORS policy come from ``spec.service``; the DestinationRules carry
``service.trafficPolicy``.

With session affinity, while the canary has traffic, named routes matching the cookies come first
(Istio takes the first matching route): the canary cookie to the canary, the primary cookie to the
primary, an earlier run's canary cookie to the primary with the cookie expired; the weighted
route's destinations set their cookies on responses.
"""

from __future__ import annotations

from typing import Any, ClassVar

from canary.adapters.kube.primary import CANARY_LABEL, MANAGED_BY
from canary.adapters.routers.base import Found, Ref, Rendered, RouteContext
from canary.adapters.routers.session import PIN_NAMES, Session
from canary.core.capabilities import Capability
from canary.core.errors import InvalidSpec
from canary.core.observations import Routes
from canary.models.canary import Strategy

GROUP = "networking.istio.io"
VERSION = "v1beta1"


def _meta(ctx: RouteContext, name: str) -> dict[str, Any]:
    return {"name": name, "namespace": ctx.namespace, "labels": {CANARY_LABEL: ctx.canary, **MANAGED_BY}}


def _vs(ctx: RouteContext) -> Ref:
    return Ref(GROUP, VERSION, "virtualservices", "VirtualService", ctx.apex)


def _dr(name: str) -> Ref:
    return Ref(GROUP, VERSION, "destinationrules", "DestinationRule", name)


class IstioRouter:
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        Capability
    )  # everything the spec can ask of a router

    # ------------------------------------------------------------------------------ building
    def destination_rule(self, ctx: RouteContext, name: str) -> dict[str, Any]:
        spec: dict[str, Any] = {"host": name}
        if ctx.spec.service.traffic_policy:
            spec["trafficPolicy"] = ctx.spec.service.traffic_policy
        return {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "DestinationRule",
            "metadata": _meta(ctx, name),
            "spec": spec,
        }

    def _route(
        self,
        ctx: RouteContext,
        match: list[dict[str, Any]],
        routes: Routes,
        *,
        session: Session | None = None,
    ) -> dict[str, Any]:
        svc = ctx.spec.service
        primary: dict[str, Any] = {"destination": {"host": ctx.primary_service}, "weight": routes.primary}
        canary: dict[str, Any] = {"destination": {"host": ctx.canary_service}, "weight": routes.canary}
        for destination, cookie in zip(
            (primary, canary), session.backend_cookies(routes) if session else (None, None), strict=True
        ):
            if cookie is not None:
                destination["headers"] = {"response": {"add": {"Set-Cookie": cookie}}}
        route: dict[str, Any] = {"route": [primary, canary]}
        if match:
            route["match"] = match
        if routes.mirrored:
            route["mirror"] = {"host": ctx.canary_service}
            analysis = ctx.spec.effective_analysis
            if analysis is not None and analysis.mirror_weight:
                route["mirrorPercentage"] = {"value": analysis.mirror_weight}
        if svc.retries is not None:
            route["retries"] = svc.retries.wire()
        if svc.timeout:
            route["timeout"] = svc.timeout
        if svc.headers is not None:
            route["headers"] = svc.headers.wire()
        if svc.rewrite is not None:
            route["rewrite"] = {k: v for k, v in svc.rewrite.wire().items() if k in ("uri", "authority")}
        if svc.cors_policy:
            route["corsPolicy"] = svc.cors_policy
        return route

    def _session_routes(
        self, ctx: RouteContext, base: list[dict[str, Any]], routes: Routes
    ) -> list[dict[str, Any]]:
        out = []
        for pin in ctx.session.pins(routes) if ctx.session else []:
            header = {"Cookie": {"regex": Session.cookie_regex(pin.cookie)}}
            matches = [{**b, "headers": {**b.get("headers", {}), **header}} for b in base] or [
                {"headers": header}
            ]
            route = {"name": pin.name, **self._route(ctx, matches, pin.routes)}
            if pin.set_cookie is not None:
                response = route.setdefault("headers", {}).setdefault("response", {})
                response["add"] = {**response.get("add", {}), "Set-Cookie": pin.set_cookie}
            out.append(route)
        return out

    def virtual_service(self, ctx: RouteContext, routes: Routes) -> dict[str, Any]:
        svc = ctx.spec.service
        base = [m.wire() for m in svc.match or []]
        analysis = ctx.spec.effective_analysis
        http: list[dict[str, Any]] = []
        if ctx.spec.strategy is Strategy.AB_TESTING and analysis is not None:
            for m in analysis.match or []:
                ab = m.wire()
                http.append(self._route(ctx, [{**b, **ab} for b in base] or [ab], routes))
            http.append(self._route(ctx, base, Routes(100, 0)))
        else:
            http += self._session_routes(ctx, base, routes)
            http.append(self._route(ctx, base, routes, session=ctx.session))
        spec: dict[str, Any] = {"http": http}
        if svc.delegation:
            if svc.hosts or svc.gateways:
                raise InvalidSpec(
                    "spec.service.delegation: a delegate VirtualService takes no hosts and no gateways"
                )
        else:
            hosts = list(svc.hosts or [])
            if ctx.apex not in hosts and "*" not in hosts:
                hosts.append(ctx.apex)
            spec["hosts"] = hosts
            spec["gateways"] = list(svc.gateways or ["mesh"])
        meta = _meta(ctx, ctx.apex)
        if svc.apex is not None:
            meta["labels"] = {**(svc.apex.labels or {}), **meta["labels"]}
            meta["annotations"] = dict(svc.apex.annotations or {})
        return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "VirtualService", "metadata": meta, "spec": spec}

    # ------------------------------------------------------------------------------ Router
    def refs(self, ctx: RouteContext) -> list[Ref]:
        return [_dr(ctx.primary_service), _dr(ctx.canary_service), _vs(ctx)]

    def inputs(self, ctx: RouteContext) -> list[Ref]:
        return []

    def render(self, ctx: RouteContext, routes: Routes, found: Found) -> Rendered:
        rules = [
            (_dr(name), self.destination_rule(ctx, name))
            for name in (ctx.primary_service, ctx.canary_service)
        ]
        return [*rules, (_vs(ctx), self.virtual_service(ctx, routes))]

    def read(self, ctx: RouteContext, found: Found) -> Routes:
        vs = found.get(_vs(ctx))
        return self._read(vs, ctx) if vs is not None else Routes(100, 0)

    def _read(self, vs: dict[str, Any], ctx: RouteContext) -> Routes:
        http = [
            r for r in vs.get("spec", {}).get("http") or [] if r.get("name") not in PIN_NAMES
        ]  # the weighted route
        if not http:
            return Routes(100, 0)
        first = http[0]
        weights = {
            r.get("destination", {}).get("host"): int(r.get("weight", 0)) for r in first.get("route") or []
        }
        mirrored = (first.get("mirror") or {}).get("host") == ctx.canary_service
        return Routes.proportional(
            weights.get(ctx.primary_service, 0), weights.get(ctx.canary_service, 0), mirrored
        )

    def handback(self, ctx: RouteContext, found: Found) -> tuple[Rendered, list[Ref]]:
        """Route everything to the apex host and drop the two DestinationRules."""
        vs = self.virtual_service(ctx, Routes(100, 0))
        route = vs["spec"]["http"][-1]
        route["route"] = [{"destination": {"host": ctx.apex}, "weight": 100}]
        route.pop("mirror", None)
        route.pop("mirrorPercentage", None)
        vs["spec"]["http"] = [route]
        return [(_vs(ctx), vs)], [_dr(ctx.primary_service), _dr(ctx.canary_service)]
