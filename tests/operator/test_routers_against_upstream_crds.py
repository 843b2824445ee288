"""Every router's objects, for a table of specs, written through the one applier to the real API
server with the upstream CRDs installed (``controlplane.crds``: Gateway API standard channel, Istio,
Contour, SMI, Traefik; Ingress and Service are core kinds):

* the API server accepts them (schema and CEL rules), at every weight step;
* it stores everything the router wrote (nothing pruned), except where the installed CRD has no such
  field, which is refused naming it (an HTTPRoute rule's ``retry`` is experimental-channel only);
* once written, the next reconcile makes no request, although the API server added its defaults;
* the weights read back are those written, and the handback (revertOnDeletion) is accepted too.
"""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from canary.adapters.kube.client import JSON, KubeClient
from canary.adapters.routers.applier import Traffic
from canary.adapters.routers.base import RouteContext
from canary.adapters.routers.registry import router_for
from canary.core.capabilities import Capability
from canary.core.errors import InvalidSpec, Pruned
from canary.core.observations import Routes
from canary.models.canary import Canary
from tests.conftest import Cluster

AB = {"iterations": 3, "match": [{"headers": {"x-canary": {"exact": "insider"}}}]}
SERVICE = {
    "timeout": "15s",
    "headers": {"request": {"set": {"x-team": "shop"}}, "response": {"remove": ["x-internal"]}},
    "rewrite": {"uri": "/v2"},
}
POLICIES = {
    "corsPolicy": {"allowOrigins": [{"exact": "https://shop.example"}], "allowMethods": ["GET"]},
    "trafficPolicy": {"loadBalancer": {"simple": "LEAST_REQUEST"}},
}
#: (name, analysis, service settings) run against every provider that accepts them
SPECS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("canary", {"stepWeight": 25}, {}),
    ("ab-testing", AB, {}),
    ("mirroring", {"iterations": 3, "mirror": True, "mirrorWeight": 50}, {}),
    ("session-affinity", {"stepWeight": 25, "sessionAffinity": {"cookieName": "canary", "maxAge": 600}}, {}),
    ("service-settings", {"stepWeight": 25}, SERVICE),
    ("policies", {"stepWeight": 25}, POLICIES),
    ("retries", {"stepWeight": 25}, {"retries": {"attempts": 3, "perTryTimeout": "2s", "retryOn": "5xx"}}),
    # a TCP service: istio writes a tcp route; for the others it is only the Service port's appProtocol
    ("tcp", {"stepWeight": 25}, {"appProtocol": "tcp"}),
]
PROVIDERS = [
    "kubernetes",
    "gatewayapi",
    "gatewayapi:v1beta1",
    "istio",
    "nginx",
    "linkerd",
    "contour",
    "traefik",
    "skipper",
    "osm",
    "smi:v1alpha3",
]


class CountingKube(KubeClient):
    """The real client, counting the writes it makes."""

    writes = 0

    def create_custom(self, group: str, version: str, plural: str, body: JSON) -> JSON:
        self.writes += 1
        return super().create_custom(group, version, plural, body)

    def patch_custom(
        self, group: str, version: str, plural: str, *, namespace: str, name: str, patch: JSON
    ) -> JSON:
        self.writes += 1
        return super().patch_custom(group, version, plural, namespace=namespace, name=name, patch=patch)


def prerequisites(cluster: Cluster, namespace: str) -> None:
    """The apex Service (the workload bootstrap's) and the Ingress the nginx router clones."""
    core, net = client.CoreV1Api(cluster.api), client.NetworkingV1Api(cluster.api)
    core.create_namespaced_service(
        namespace,
        {
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web-primary"}, "ports": [{"port": 80, "targetPort": 8080}]},
        },
    )
    backend = {"service": {"name": "web", "port": {"number": 80}}}
    path = {"path": "/", "pathType": "Prefix", "backend": backend}
    net.create_namespaced_ingress(
        namespace,
        {
            "metadata": {"name": "web", "annotations": {"kubernetes.io/ingress.class": "nginx"}},
            "spec": {"rules": [{"host": "web.example", "http": {"paths": [path]}}]},
        },
    )


def context(
    provider: str, namespace: str, analysis: dict[str, Any], settings: dict[str, Any]
) -> RouteContext:
    service: dict[str, Any] = {"port": 80, "name": "web", **settings}
    if provider.startswith("gatewayapi"):
        service["gatewayRefs"] = [{"name": "public", "namespace": "gateways"}]
    body = {
        "spec": {
            "provider": provider,
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "service": service,
            "analysis": {"interval": "10s", **analysis},
        }
    }
    if "spec.ingressRef" in router_for(provider).reads:  # nginx and skipper clone it
        body["spec"]["ingressRef"] = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "web"}
    return RouteContext(Canary.model_validate(body).spec, namespace, "web", "app", "web")


@pytest.mark.usefixtures("crds")
@pytest.mark.parametrize("provider", PROVIDERS)
def test_what_every_router_writes_is_accepted_stored_and_stable(
    cluster: Cluster, namespace: str, provider: str
) -> None:
    prerequisites(cluster, namespace)
    kube = CountingKube(cluster.api)
    router = router_for(provider)
    weighted = Capability.WEIGHTS in router.capabilities
    outcomes: dict[str, str] = {}
    for name, analysis, settings in SPECS:
        ctx = context(provider, namespace, analysis, settings)
        traffic = Traffic(kube, router, provider)
        try:
            traffic.check(ctx)
        except InvalidSpec:
            outcomes[name] = "refused: lacks the capability"
            continue
        try:
            traffic.reconcile(ctx)
        except Pruned as e:
            outcomes[name] = f"pruned: {e.path}"
            continue
        # A/B testing sends the matching requests to the canary or none: 0/100 or 100/0.
        steps = (
            [Routes(90, 10), Routes(50, 50), Routes(0, 100)]
            if weighted and name != "ab-testing"
            else [Routes(0, 100)]
        )
        if name == "mirroring":
            steps = [Routes(100, 0, mirrored=True), *steps]
        for routes in steps:
            traffic.set_routes(ctx, routes)
            assert traffic.observe(ctx)[0] == routes, (name, routes)
            before = kube.writes
            traffic.reconcile(ctx)  # the API server's defaults are there now: nothing to write
            assert kube.writes == before, (name, routes, "a reconcile of what was just written wrote again")
        traffic.set_routes(ctx, Routes(100, 0))
        assert traffic.observe(ctx)[0] == Routes(100, 0)
        traffic.finalize(ctx)  # the handback is accepted too (the next spec starts from what it left)
        outcomes[name] = "stored"
    expected = {name: "stored" for name, _, _ in SPECS}
    expected.update(EXPECTED.get(provider, {}))
    assert outcomes == expected


REFUSED = "refused: lacks the capability"
#: what differs from "stored", per provider: the capability table of docs/routers.md, and the one field
#: the Gateway API's standard channel does not have
EXPECTED: dict[str, dict[str, str]] = {
    **{
        p: {s: REFUSED for s in ("mirroring", "session-affinity", "service-settings", "policies", "retries")}
        for p in ("kubernetes", "nginx")
    },
    **{
        gw: {"policies": REFUSED, "retries": "pruned: spec.rules[0].retry"}
        for gw in ("gatewayapi", "gatewayapi:v1beta1")
    },
    **{
        weights_only: {
            s: REFUSED
            for s in (
                "ab-testing",
                "mirroring",
                "session-affinity",
                "service-settings",
                "policies",
                "retries",
            )
        }
        for weights_only in ("linkerd", "skipper", "osm", "smi:v1alpha3")
    },
    "traefik": {
        s: REFUSED for s in ("ab-testing", "session-affinity", "service-settings", "policies", "retries")
    },
    "contour": {s: REFUSED for s in ("mirroring", "session-affinity", "service-settings", "policies")},
}
