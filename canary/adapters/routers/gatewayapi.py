"""The Gateway API provider: an HTTPRoute ``<apex>`` whose backendRefs carry the weights.

The route's parents are ``spec.service.gatewayRefs``, its hostnames ``spec.service.hosts``.  Its
default rule splits traffic between ``<apex>-primary`` and ``<apex>-canary`` by weight; a request
mirror filter sends a copy of the primary's traffic to the canary when mirroring.  For A/B testing,
one rule per ``analysis.match`` entry comes first and sends matching requests to the canary while the
default rule keeps everything else on the primary.  Istio-style string matches are translated to
Gateway API matches (prefix and suffix on headers become anchored regular expressions).

``service.headers`` become RequestHeaderModifier/ResponseHeaderModifier filters, ``service.rewrite`` a
URLRewrite filter, ``service.retries`` the rule's ``retry`` (attempts, and status codes from
``retryOn``: numbers, ``5xx``, ``gateway-error``) with ``perTryTimeout`` as the backend request
timeout unless ``backendTimeout`` is set.

With session affinity, while the canary has traffic, the weighted rule's backends set their cookie
(a ResponseHeaderModifier filter on the backendRef) and further rules match the cookies: a canary
cookie goes to the canary only, a primary cookie to the primary only, and an earlier run's canary
cookie to the primary, which expires it.  A header match outranks the plain weighted rule whatever
the order, so the weighted rule stays first (it is the one read back as the current weights).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from canary.adapters.routers.base import Found, Ref, Rendered, RouteContext
from canary.adapters.routers.session import Session
from canary.core.capabilities import Capability
from canary.core.errors import InvalidSpec
from canary.core.observations import Routes, RouteVerdict
from canary.models.canary import HTTPMatchRequest, HTTPRewrite, Provider, Strategy, StringMatch

GROUP = "gateway.networking.k8s.io"


def _value_match(m: StringMatch) -> tuple[str, str]:
    if m.exact is not None:
        return "Exact", m.exact
    if m.regex is not None:
        return "RegularExpression", m.regex
    if m.prefix is not None:
        return "RegularExpression", f"^{re.escape(m.prefix)}.*"
    return "RegularExpression", f".*{re.escape(m.suffix or '')}$"


def http_route_match(m: HTTPMatchRequest) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if m.uri is not None:
        if m.uri.prefix is not None:
            out["path"] = {"type": "PathPrefix", "value": m.uri.prefix}
        elif m.uri.exact is not None:
            out["path"] = {"type": "Exact", "value": m.uri.exact}
        else:
            out["path"] = {"type": "RegularExpression", "value": _value_match(m.uri)[1]}
    if m.headers:
        out["headers"] = [
            {"name": name, "type": kind, "value": value}
            for name, (kind, value) in ((n, _value_match(s)) for n, s in sorted(m.headers.items()))
        ]
    if m.query_params:
        out["queryParams"] = [
            {"name": name, "type": kind, "value": value}
            for name, (kind, value) in ((n, _value_match(s)) for n, s in sorted(m.query_params.items()))
        ]
    if m.method is not None and m.method.exact:
        out["method"] = m.method.exact
    return out


def _header_filters(ctx: RouteContext) -> list[dict[str, Any]]:
    """``service.headers`` as RequestHeaderModifier / ResponseHeaderModifier filters."""
    headers = ctx.spec.service.headers
    out: list[dict[str, Any]] = []
    for side, ops in (
        ("request", headers.request if headers else None),
        ("response", headers.response if headers else None),
    ):
        if ops is None:
            continue
        modifier: dict[str, Any] = {}
        if ops.set:
            modifier["set"] = [{"name": k, "value": v} for k, v in sorted(ops.set.items())]
        if ops.add:
            modifier["add"] = [{"name": k, "value": v} for k, v in sorted(ops.add.items())]
        if ops.remove:
            modifier["remove"] = list(ops.remove)
        if modifier:
            kind = f"{side.capitalize()}HeaderModifier"
            out.append({"type": kind, f"{side}HeaderModifier": modifier})
    return out


def _url_rewrite(rewrite: HTTPRewrite) -> dict[str, Any]:
    """``service.rewrite`` as a URLRewrite filter (uri -> path, authority -> hostname)."""
    spec: dict[str, Any] = {}
    if rewrite.authority:
        spec["hostname"] = rewrite.authority
    if rewrite.uri:
        if rewrite.type == "ReplacePrefixMatch":
            spec["path"] = {"type": "ReplacePrefixMatch", "replacePrefixMatch": rewrite.uri}
        else:
            spec["path"] = {"type": "ReplaceFullPath", "replaceFullPath": rewrite.uri}
    return {"type": "URLRewrite", "urlRewrite": spec}


#: Envoy retry-on policies that name HTTP status codes, as Gateway API retry codes
_RETRY_ON_CODES = {"5xx": [500, 502, 503, 504], "gateway-error": [502, 503, 504]}


def _retry_codes(retry_on: str | None) -> list[int]:
    codes: set[int] = set()
    for token in (t.strip() for t in (retry_on or "").split(",")):
        if token.isdigit():
            codes.add(int(token))
        codes.update(_RETRY_ON_CODES.get(token, []))
    return sorted(codes)


def _add_response_header(name: str, value: str) -> dict[str, Any]:
    return {
        "type": "ResponseHeaderModifier",
        "responseHeaderModifier": {"add": [{"name": name, "value": value}]},
    }


class GatewayAPIRouter:
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.WEIGHTS,
            Capability.HEADER_MATCH,
            Capability.QUERY_MATCH,
            Capability.PATH_MATCH,
            Capability.MIRRORING,
            Capability.SESSION_AFFINITY,
            Capability.TIMEOUTS,
            Capability.RETRIES,
            Capability.HEADER_OPERATIONS,
            Capability.REWRITE,
        }
    )
    reads: ClassVar[frozenset[str]] = frozenset(
        {"spec.service.gatewayRefs", "spec.service.hosts", "spec.service.match"}
    )

    def __init__(self, provider: Provider = Provider.GATEWAYAPI) -> None:
        self.version = "v1beta1" if provider is Provider.GATEWAYAPI_V1BETA1 else "v1"

    # ------------------------------------------------------------------------------ building
    def _backend(
        self, ctx: RouteContext, name: str, weight: int, set_cookie: str | None = None
    ) -> dict[str, Any]:
        backend: dict[str, Any] = {
            "group": "",
            "kind": "Service",
            "name": name,
            "port": ctx.spec.service.port,
            "weight": weight,
        }
        if set_cookie is not None:
            backend["filters"] = [_add_response_header("Set-Cookie", set_cookie)]
        return backend

    def _rule(
        self,
        ctx: RouteContext,
        matches: list[dict[str, Any]],
        routes: Routes,
        *,
        session: Session | None = None,
    ) -> dict[str, Any]:
        primary_cookie, canary_cookie = session.backend_cookies(routes) if session else (None, None)
        rule: dict[str, Any] = {
            "backendRefs": [
                self._backend(ctx, ctx.primary_service, routes.primary, primary_cookie),
                self._backend(ctx, ctx.canary_service, routes.canary, canary_cookie),
            ]
        }
        if matches:
            rule["matches"] = matches
        svc = ctx.spec.service
        per_try = svc.retries.per_try_timeout if svc.retries is not None else None
        timeouts = {
            k: v
            for k, v in (("request", svc.timeout), ("backendRequest", svc.backend_timeout or per_try))
            if v
        }
        if timeouts:
            rule["timeouts"] = timeouts
        if svc.retries is not None and svc.retries.attempts is not None:
            retry: dict[str, Any] = {"attempts": svc.retries.attempts}
            codes = _retry_codes(svc.retries.retry_on)
            if codes:
                retry["codes"] = codes
            rule["retry"] = retry
        filters: list[dict[str, Any]] = _header_filters(ctx)
        if svc.rewrite is not None:
            filters.append(_url_rewrite(svc.rewrite))
        if routes.mirrored:
            mirror: dict[str, Any] = {"backendRef": {"name": ctx.canary_service, "port": svc.port}}
            analysis = ctx.spec.effective_analysis
            if analysis is not None and analysis.mirror_weight is not None:
                mirror["percent"] = analysis.mirror_weight
            filters.append({"type": "RequestMirror", "requestMirror": mirror})
        filters += list(svc.mirror or [])
        if filters:
            rule["filters"] = filters
        return rule

    def rules(self, ctx: RouteContext, routes: Routes) -> list[dict[str, Any]]:
        base = [http_route_match(m) for m in ctx.spec.service.match or []]
        analysis = ctx.spec.effective_analysis
        if ctx.spec.strategy is not Strategy.AB_TESTING or analysis is None:
            return [
                self._rule(ctx, base, routes, session=ctx.session),
                *self._session_rules(ctx, base, routes),
            ]
        rules = []
        for m in analysis.match or []:
            ab = http_route_match(m)
            matches = [{**b, **ab} for b in base] or [ab]
            rules.append(self._rule(ctx, matches, routes))
        rules.append(self._rule(ctx, base, Routes(100, 0)))
        return rules

    def _session_rules(
        self, ctx: RouteContext, base: list[dict[str, Any]], routes: Routes
    ) -> list[dict[str, Any]]:
        rules = []
        for pin in ctx.session.pins(routes) if ctx.session else []:
            header = {
                "name": "Cookie",
                "type": "RegularExpression",
                "value": Session.cookie_regex(pin.cookie),
            }
            matches = [{**b, "headers": [*b.get("headers", []), header]} for b in base] or [
                {"headers": [header]}
            ]
            rule = self._rule(ctx, matches, pin.routes)
            if pin.set_cookie is not None:
                rule["filters"] = [
                    *rule.get("filters", []),
                    _add_response_header("Set-Cookie", pin.set_cookie),
                ]
            rules.append(rule)
        return rules

    def ref(self, ctx: RouteContext) -> Ref:
        return Ref(GROUP, self.version, "httproutes", "HTTPRoute", ctx.apex)

    def route(
        self, ctx: RouteContext, routes: Routes, rules: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        svc = ctx.spec.service
        parents = [r.wire() for r in svc.gateway_refs or []]
        spec: dict[str, Any] = {
            "parentRefs": parents,
            "rules": self.rules(ctx, routes) if rules is None else rules,
        }
        if svc.hosts:
            spec["hostnames"] = list(svc.hosts)
        return self.ref(ctx).body(ctx.apex_metadata(), spec)

    # ------------------------------------------------------------------------------ Router
    def refs(self, ctx: RouteContext) -> list[Ref]:
        return [self.ref(ctx)]

    def inputs(self, ctx: RouteContext) -> list[Ref]:
        return []

    def render(self, ctx: RouteContext, routes: Routes, found: Found) -> Rendered:
        if not ctx.spec.service.gateway_refs:
            raise InvalidSpec(
                "spec.service.gatewayRefs: the gatewayapi provider needs the Gateway(s) to attach to"
            )
        return [(self.ref(ctx), self.route(ctx, routes))]

    def read(self, ctx: RouteContext, found: Found) -> Routes:
        route = found.get(self.ref(ctx))
        return self._read(route, ctx) if route is not None else Routes(100, 0)

    def _read(self, route: dict[str, Any], ctx: RouteContext) -> Routes:
        rules = route.get("spec", {}).get("rules") or []
        if not rules:
            return Routes(100, 0)
        rule = rules[0]  # the default rule, or the first A/B rule
        weights = {b.get("name"): int(b.get("weight", 1)) for b in rule.get("backendRefs") or []}
        mirrored = any(
            f.get("type") == "RequestMirror"
            and f.get("requestMirror", {}).get("backendRef", {}).get("name") == ctx.canary_service
            for f in rule.get("filters") or []
        )
        return Routes.proportional(
            weights.get(ctx.primary_service, 0), weights.get(ctx.canary_service, 0), mirrored
        )

    def handback(self, ctx: RouteContext, found: Found) -> tuple[Rendered, list[Ref]]:
        """Keep the HTTPRoute (the Gateway's traffic depends on it) but send it all to the apex Service."""
        apex = {
            "group": "",
            "kind": "Service",
            "name": ctx.apex,
            "port": ctx.spec.service.port,
            "weight": 100,
        }
        matches = [http_route_match(m) for m in ctx.spec.service.match or []]
        rule = {**self._rule(ctx, matches, Routes(100, 0)), "backendRefs": [apex]}
        rule.pop("filters", None)
        return [(self.ref(ctx), self.route(ctx, Routes(100, 0), rules=[rule]))], []

    def verdict(self, ctx: RouteContext, found: Found) -> RouteVerdict | None:
        """The implementations' word on the HTTPRoute (``status.parents``): not accepted when a parent's
        ``Accepted`` or ``ResolvedRefs`` condition is False for the route's current generation;
        accepted when every parent that reported on it accepted it; None while none has."""
        route = found.get(self.ref(ctx))
        return None if route is None else route_verdict(route)


def route_verdict(route: dict[str, Any]) -> RouteVerdict | None:
    """``route_verdict`` of any Gateway API route object (HTTPRoute, GRPCRoute, ...)."""
    meta = route.get("metadata") or {}
    generation = meta.get("generation")
    where = f"{route.get('kind', 'HTTPRoute')} {meta.get('name')}"
    accepted_by: list[str] = []
    for parent in (route.get("status") or {}).get("parents") or []:
        ref = parent.get("parentRef") or {}
        who = parent.get("controllerName") or "the implementation"
        parent_name = f"{ref.get('kind', 'Gateway')} {ref.get('name')}"
        conditions = {c.get("type"): c for c in parent.get("conditions") or []}
        current = [c for c in conditions.values() if c.get("observedGeneration", generation) == generation]
        if not current:
            continue  # what it says is about an earlier spec
        for kind in ("Accepted", "ResolvedRefs"):
            c = conditions.get(kind)
            if c is not None and c in current and c.get("status") == "False":
                return RouteVerdict(
                    False,
                    f"{where}: {who} reports {kind}=False for {parent_name} "
                    f"({c.get('reason', '')}): {c.get('message', '')}".rstrip(": "),
                )
        accepted = conditions.get("Accepted")
        if accepted is not None and accepted in current and accepted.get("status") == "True":
            accepted_by.append(f"{who} ({parent_name})")
    if accepted_by:
        return RouteVerdict(True, f"{where} accepted by {', '.join(accepted_by)}")
    return None
