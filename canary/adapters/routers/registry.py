"""The explicit registry of routers: provider name -> router (pure: ``canary.adapters.routers.applier``
does its I/O).  Unknown names are refused.

The CRD's enum already refuses unknown providers; this is the second line, for a controller flag or
a model that has drifted from the enum.
"""

from __future__ import annotations

import functools

from canary.adapters.routers.base import Router
from canary.adapters.routers.contour import ContourRouter
from canary.adapters.routers.gatewayapi import GatewayAPIRouter
from canary.adapters.routers.istio import IstioRouter
from canary.adapters.routers.kubernetes import KubernetesRouter
from canary.adapters.routers.linkerd import LinkerdRouter
from canary.adapters.routers.nginx import NginxRouter
from canary.core.capabilities import Capability
from canary.models.canary import Provider


class UnknownProvider(ValueError):
    pass


def router_for(provider: Provider | str) -> Router:
    try:
        provider = Provider(provider)
    except ValueError:
        names = ", ".join(p.value for p in Provider)
        raise UnknownProvider(f"unknown provider {provider!r}; supported: {names}") from None
    family = provider.family
    if family == "kubernetes":
        return KubernetesRouter()
    if family == "gatewayapi":
        return GatewayAPIRouter(provider)
    if family == "istio":
        return IstioRouter()
    if family == "nginx":
        return NginxRouter()
    if family == "linkerd":
        return LinkerdRouter()
    if family == "contour":
        return ContourRouter()
    raise UnknownProvider(f"provider {provider.value!r} has no router")


def capabilities_of(provider: Provider | str) -> frozenset[Capability]:
    """What the router of ``provider`` can do (UnknownProvider for a name no router serves)."""
    return router_for(provider).capabilities


@functools.cache
def providers_with() -> dict[Capability, list[str]]:
    """Capability -> the provider families whose router has it, sorted."""
    out: dict[Capability, set[str]] = {}
    for provider in Provider:
        for capability in router_for(provider).capabilities:
            out.setdefault(capability, set()).add(provider.family)
    return {c: sorted(names) for c, names in out.items()}
