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

A TCP service (``service.appProtocol: tcp``, as in Flagger) gets one ``tcp`` route instead, with the
same weights, matching the ports of ``service.match`` entries if any: TCP routes have nothing else,
so a spec asking a TCP service for what only HTTP routes do (A/B matches, mirroring, session
affinity, timeouts, retries, header operations, rewrites, CORS) is refused naming the field.
"""

from __future__ import annotations

from typing import Any, ClassVar

from canary.adapters.kube.primary import CANARY_LABEL, MANAGED_BY
from canary.adapters.routers.base import Found, Ref, Rendered, RouteContext
from canary.adapters.routers.session import PIN_NAMES, Session
from canary.core.capabilities import Capability, asked
from canary.core.errors import InvalidSpec
from canary.core.observations import Routes, RouteVerdict
from canary.models.canary import Strategy

GROUP = "networking.istio.io"
VERSION = "v1beta1"


#: what a VirtualService's tcp route does: weights; the DestinationRules still carry the traffic policy
TCP_CAPABILITIES = frozenset({Capability.WEIGHTS, Capability.TRAFFIC_POLICY})


def is_tcp(ctx: RouteContext) -> bool:
    return (ctx.spec.service.app_protocol or "").lower() == "tcp"


def _check_tcp(ctx: RouteContext) -> None:
    for capability, field in asked(ctx.spec, TCP_CAPABILITIES):
        if capability not in TCP_CAPABILITIES:
            raise InvalidSpec(
                f"{field}: spec.service.appProtocol is tcp, and Istio routes TCP by weight only "
                f"({capability.value} is for HTTP routes)"
            )
    for i, m in enumerate(ctx.spec.service.match or []):
        extra = sorted(k for k in m.wire() if k not in ("port", "name"))
        if extra:
            raise InvalidSpec(
                f"spec.service.match[{i}].{extra[0]}: spec.service.appProtocol is tcp, and a TCP route "
                "matches by port only"
            )


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
    reads: ClassVar[frozenset[str]] = frozenset(
        {"spec.service.gateways", "spec.service.hosts", "spec.service.delegation", "spec.service.match"}
    )

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

    def _tcp_route(self, ctx: RouteContext, routes: Routes) -> dict[str, Any]:
        route: dict[str, Any] = {
            "route": [
                {"destination": {"host": ctx.primary_service}, "weight": routes.primary},
                {"destination": {"host": ctx.canary_service}, "weight": routes.canary},
            ]
        }
        ports = [{"port": m.port} for m in ctx.spec.service.match or [] if m.port is not None]
        if ports:
            route["match"] = ports
        return route

    def virtual_service(self, ctx: RouteContext, routes: Routes) -> dict[str, Any]:
        svc = ctx.spec.service
        if is_tcp(ctx):
            _check_tcp(ctx)
            return self._wrap(ctx, {"tcp": [self._tcp_route(ctx, routes)]})
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
        return self._wrap(ctx, {"http": http})

    def _wrap(self, ctx: RouteContext, spec: dict[str, Any]) -> dict[str, Any]:
        """The VirtualService with ``spec``'s routes: hosts, gateways and the apex metadata added."""
        svc = ctx.spec.service
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
        tcp = vs.get("spec", {}).get("tcp") or []
        if tcp and not vs.get("spec", {}).get("http"):
            return self._weights(tcp[0], ctx, mirrored=False)
        http = [
            r for r in vs.get("spec", {}).get("http") or [] if r.get("name") not in PIN_NAMES
        ]  # the weighted route
        if not http:
            return Routes(100, 0)
        first = http[0]
        return self._weights(first, ctx, (first.get("mirror") or {}).get("host") == ctx.canary_service)

    @staticmethod
    def _weights(route: dict[str, Any], ctx: RouteContext, mirrored: bool) -> Routes:
        weights = {
            r.get("destination", {}).get("host"): int(r.get("weight", 0)) for r in route.get("route") or []
        }
        return Routes.proportional(
            weights.get(ctx.primary_service, 0), weights.get(ctx.canary_service, 0), mirrored
        )

    def handback(self, ctx: RouteContext, found: Found) -> tuple[Rendered, list[Ref]]:
        """Route everything to the apex host and drop the two DestinationRules."""
        vs = self.virtual_service(ctx, Routes(100, 0))
        kind = "tcp" if is_tcp(ctx) else "http"
        route = vs["spec"][kind][-1]
        route["route"] = [{"destination": {"host": ctx.apex}, "weight": 100}]
        route.pop("mirror", None)
        route.pop("mirrorPercentage", None)
        vs["spec"][kind] = [route]
        return [(_vs(ctx), vs)], [_dr(ctx.primary_service), _dr(ctx.canary_service)]

    def verdict(self, ctx: RouteContext, found: Found) -> RouteVerdict | None:
        """Istio writes no acceptance status on a VirtualService (istiod's analysis is opt-in)."""
        return None
