"""The explicit registry of routers: provider name -> router.  Unknown names are refused.

The CRD's enum already refuses unknown providers; this is the second line, for a controller flag or
a model that has drifted from the enum.
"""

from __future__ import annotations

from canary.adapters.kube.client import KubeClient
from canary.adapters.routers.base import Router
from canary.adapters.routers.contour import ContourRouter
from canary.adapters.routers.gatewayapi import GatewayAPIRouter
from canary.adapters.routers.istio import IstioRouter
from canary.adapters.routers.kubernetes import KubernetesRouter
from canary.adapters.routers.linkerd import LinkerdRouter
from canary.adapters.routers.nginx import NginxRouter
from canary.models.canary import Provider


class UnknownProvider(ValueError):
    pass


def router_for(provider: Provider | str, kube: KubeClient) -> Router:
    try:
        provider = Provider(provider)
    except ValueError:
        names = ", ".join(p.value for p in Provider)
        raise UnknownProvider(f"unknown provider {provider!r}; supported: {names}") from None
    family = provider.family
    if family == "kubernetes":
        return KubernetesRouter(kube)
    if family == "gatewayapi":
        return GatewayAPIRouter(kube, provider)
    if family == "istio":
        return IstioRouter(kube)
    if family == "nginx":
        return NginxRouter(kube)
    if family == "linkerd":
        return LinkerdRouter(kube)
    if family == "contour":
        return ContourRouter(kube)
    raise UnknownProvider(f"provider {provider.value!r} has no router")
