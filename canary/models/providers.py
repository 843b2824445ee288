"""Flagger's traffic providers that canary has no router for, and why.

Who uses this: the router registry (``canary.adapters.routers.registry``) refuses a Canary naming one
with this reason, and ``canary convert`` reports it before the manifest is applied.  The CRD accepts
these values (a schema refusal would fail a whole GitOps apply on one document).
"""

from __future__ import annotations

from canary.models.canary import Provider

_GATEWAY_API = "use provider gatewayapi, which {} implements"
_UNTESTABLE = (
    "canary has no {} router: its CRDs ({}) cannot be obtained to test a router against "
    "(the module {} is not served by the Go module proxy canary builds from); "
)
#: Flagger's providers canary has no router for, and why (the message the Canary is refused with)
UNSUPPORTED: dict[Provider, str] = {
    Provider.GLOO: _UNTESTABLE.format("gloo", "Gloo Edge RouteTable, Upstream", "github.com/solo-io/gloo")
    + _GATEWAY_API.format("Gloo Gateway (kgateway)"),
    Provider.KUMA: _UNTESTABLE.format("kuma", "Kuma TrafficRoute", "github.com/kumahq/kuma")
    + _GATEWAY_API.format("Kuma"),
    Provider.APISIX: _UNTESTABLE.format(
        "apisix", "ApisixRoute", "github.com/apache/apisix-ingress-controller"
    )
    + _GATEWAY_API.format("the APISIX ingress controller"),
    Provider.APPMESH: _UNTESTABLE.format(
        "appmesh", "App Mesh VirtualNode, VirtualRouter", "github.com/aws/aws-app-mesh-controller-for-k8s"
    )
    + "AWS App Mesh reached its end of support on 30 September 2026",
    Provider.APPMESH_V1BETA2: _UNTESTABLE.format(
        "appmesh:v1beta2", "App Mesh v1beta2", "github.com/aws/aws-app-mesh-controller-for-k8s"
    )
    + "AWS App Mesh reached its end of support on 30 September 2026",
    Provider.SMI_V1ALPHA1: (
        "canary has no smi:v1alpha1 router: no CRD a Kubernetes >= 1.22 can install serves "
        "split.smi-spec.io/v1alpha1 (SMI's own is apiextensions.k8s.io/v1beta1); use smi:v1alpha2 or "
        "smi:v1alpha3, which every SMI mesh still maintained serves"
    ),
}
