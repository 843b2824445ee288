"""The explicit registry of routers: provider name -> router (pure: ``canary.adapters.routers.applier``
does its I/O).  Unknown names are refused, and so are the Flagger providers canary has no router for,
each with the reason (``canary.models.providers.UNSUPPORTED``): the CRD's enum accepts every Flagger
value, so that a Flagger manifest applies, and the Canary is then reported (Ready=False, a Warning
event naming spec.provider) instead of the whole GitOps apply failing on one document.

The CRD's enum already refuses unknown providers; this is the second line, for a controller flag or
a model that has drifted from the enum.
"""

from __future__ import annotations

import functools

from canary.adapters.routers.base import Router
from canary.adapters.routers.contour import ContourRouter
from canary.adapters.routers.gatewayapi import GatewayAPIRouter
from canary.adapters.routers.istio import IstioRouter
from canary.adapters.routers.knative import KnativeRouter
from canary.adapters.routers.kubernetes import KubernetesRouter
from canary.adapters.routers.nginx import NginxRouter
from canary.adapters.routers.skipper import SkipperRouter
from canary.adapters.routers.smi import TrafficSplitRouter, TrafficSplitV1alpha3Router
from canary.adapters.routers.traefik import TraefikRouter
from canary.core.capabilities import Capability
from canary.models.canary import Provider
from canary.models.providers import UNSUPPORTED


class UnknownProvider(ValueError):
    pass


def router_for(provider: Provider | str) -> Router:
    try:
        provider = Provider(provider)
    except ValueError:
        names = ", ".join(p.value for p in Provider)
        raise UnknownProvider(f"unknown provider {provider!r}; supported: {names}") from None
    if provider in UNSUPPORTED:
        raise UnknownProvider(UNSUPPORTED[provider])
    family = provider.family
    if family == "kubernetes":
        return KubernetesRouter()
    if family == "gatewayapi":
        return GatewayAPIRouter(provider)
    if family == "istio":
        return IstioRouter()
    if family == "nginx":
        return NginxRouter()
    if family in ("linkerd", "osm", "smi:v1alpha2"):
        return TrafficSplitRouter()
    if family == "smi:v1alpha3":
        return TrafficSplitV1alpha3Router()
    if family == "traefik":
        return TraefikRouter()
    if family == "skipper":
        return SkipperRouter()
    if family == "contour":
        return ContourRouter()
    if family == "knative":
        return KnativeRouter()
    raise UnknownProvider(f"provider {provider.value!r} has no router")


def capabilities_of(provider: Provider | str) -> frozenset[Capability]:
    """What the router of ``provider`` can do (UnknownProvider for a name no router serves)."""
    return router_for(provider).capabilities


@functools.cache
def providers_with() -> dict[Capability, list[str]]:
    """Capability -> the provider families whose router has it, sorted."""
    out: dict[Capability, set[str]] = {}
    for provider in served():
        for capability in router_for(provider).capabilities:
            out.setdefault(capability, set()).add(provider.family)
    return {c: sorted(names) for c, names in out.items()}


def readers_of(field: str) -> list[str]:
    """The provider families whose router reads the placement field ``field``, sorted."""
    return sorted({p.family for p in served() if field in router_for(p).reads})


def served() -> list[Provider]:
    """The providers with a router."""
    return [p for p in Provider if p not in UNSUPPORTED]
