"""What a router can do, as the decision core and the spec check see it.

Who uses this: every router declares its ``Capability`` set (``canary.adapters.routers``); the
machine (``canary.core.machine``) decides from the set, never from a provider's name (a router that
cannot split by weight runs blue/green; mirroring happens only where the router can mirror).
``asked(spec)`` lists what a spec asks of its router, each with the field that asks it, so a spec
asking for something its router lacks is refused naming that field (``refusal``).
"""

from __future__ import annotations

from enum import StrEnum

from canary.models.canary import CanarySpec, Strategy


class Capability(StrEnum):
    #: split traffic between primary and canary by weight (without it: blue/green, all at once)
    WEIGHTS = "weights"
    #: send requests matching headers (or cookies) to the canary (A/B testing)
    HEADER_MATCH = "header match"
    #: the same by query parameter
    QUERY_MATCH = "query match"
    #: the same by path or method
    PATH_MATCH = "path and method match"
    #: copy the primary's traffic to the canary before shifting any (``analysis.mirror``)
    MIRRORING = "mirroring"
    #: pin a client to the side it was first sent to (``analysis.sessionAffinity``)
    SESSION_AFFINITY = "session affinity"
    #: request timeouts (``service.timeout``)
    TIMEOUTS = "timeouts"
    #: retries (``service.retries``)
    RETRIES = "retries"
    #: request and response header operations (``service.headers``)
    HEADER_OPERATIONS = "header operations"
    #: path and authority rewrites (``service.rewrite``)
    REWRITE = "rewrite"
    #: a CORS policy (``service.corsPolicy``)
    CORS = "CORS policy"
    #: a load-balancing / connection policy per destination (``service.trafficPolicy``)
    TRAFFIC_POLICY = "traffic policy"


def asked(spec: CanarySpec, capabilities: frozenset[Capability]) -> list[tuple[Capability, str]]:
    """What ``spec`` asks of a router with ``capabilities``, each with the field asking it, in field
    order.  A router without weights runs every canary as blue/green (the machine says so in a
    Warning event, naming stepWeight and match), so the matches of A/B testing are not asked of it;
    session affinity, which the machine would not mention, is."""
    out: list[tuple[Capability, str]] = []
    analysis = spec.effective_analysis
    strategy = spec.strategy if Capability.WEIGHTS in capabilities else Strategy.BLUE_GREEN
    if analysis is not None:
        if strategy is Strategy.AB_TESTING:
            for i, m in enumerate(analysis.match or []):
                if m.headers:
                    out.append((Capability.HEADER_MATCH, f"spec.analysis.match[{i}].headers"))
                if m.query_params:
                    out.append((Capability.QUERY_MATCH, f"spec.analysis.match[{i}].queryParams"))
                if m.uri is not None or m.method is not None:
                    field = "uri" if m.uri is not None else "method"
                    out.append((Capability.PATH_MATCH, f"spec.analysis.match[{i}].{field}"))
        if analysis.mirror and strategy is not Strategy.AB_TESTING:  # A/B testing never mirrors
            out.append((Capability.MIRRORING, "spec.analysis.mirror"))
        if analysis.session_affinity is not None and spec.strategy is Strategy.CANARY:  # only canaries pin
            out.append((Capability.SESSION_AFFINITY, "spec.analysis.sessionAffinity"))
    svc = spec.service
    for capability, value, field in (
        (Capability.TIMEOUTS, svc.timeout, "timeout"),
        (Capability.RETRIES, svc.retries, "retries"),
        (Capability.HEADER_OPERATIONS, svc.headers, "headers"),
        (Capability.REWRITE, svc.rewrite, "rewrite"),
        (Capability.CORS, svc.cors_policy, "corsPolicy"),
        (Capability.TRAFFIC_POLICY, svc.traffic_policy, "trafficPolicy"),
    ):
        if value:
            out.append((capability, f"spec.service.{field}"))
    return out


def refusal(
    spec: CanarySpec, provider: str, capabilities: frozenset[Capability], others: dict[Capability, list[str]]
) -> str | None:
    """The InvalidSpec message for the first thing ``spec`` asks that the router lacks, naming the
    field, what the router has, and the providers that have it (``others``); None if nothing."""
    for capability, field in asked(spec, capabilities):
        if capability not in capabilities:
            can = ", ".join(sorted(c.value for c in capabilities)) or "nothing but moving all traffic at once"
            with_it = ", ".join(others.get(capability, [])) or "none"
            return (
                f"{field}: the {provider} provider has no {capability.value} (it has: {can}); "
                f"providers with {capability.value}: {with_it}"
            )
    return None
